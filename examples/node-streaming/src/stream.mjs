// A streaming function URL: three chunks, 300 ms apart. `curl -N` shows each
// as it is written, not all at the end. `?chunks=N&delay=MS` changes the shape.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const params = event.queryStringParameters ?? {};
  const chunks = Math.min(Number(params.chunks ?? 3), 100);
  const delay = Math.min(Number(params.delay ?? 300), 5000);
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
  });
  for (let i = 1; i <= chunks; i++) {
    stream.write(`chunk ${i} of ${chunks} at ${new Date().toISOString()}\n`);
    if (i < chunks) await sleep(delay);
  }
  stream.end();
});
