// A function URL handler: edit the message while `tether dev` runs and curl again.
export const handler = async (event, context) => {
  const name = event.queryStringParameters?.name ?? 'world';
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      message: `${process.env.GREETING}, ${name}!`,
      path: event.rawPath,
      requestId: context.awsRequestId,
      runningLocally: process.env.TETHER_DEV === 'true',
    }),
  };
};
