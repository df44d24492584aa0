// A subscriber that stops reading is disconnected once its unsent output
// passes --output-limit; healthy subscribers and the publisher are not held
// back by it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  apiKeyAuth,
  assertAllSuccessful,
  connect,
  randomUUID,
  useBroker,
  withTimeout,
} from './lib/broker.mjs';

const KEY = 'da2-slowsubscribertestkey0001';
const EVENT_BYTES = 100 * 1024;
const PUBLISHES = 60; // x 5 events x 100 KB = 30 MB, far more than socket buffers hold
const EVENTS_PER_PUBLISH = 5;

describe('slow subscriber', () => {
  const ctx = useBroker(['--api-key', KEY, '--output-limit', '1048576']);

  test('a paused subscriber is disconnected; the healthy one receives every event; the publisher never blocks', async () => {
    const b = ctx.broker;
    const auth = apiKeyAuth(b, KEY);
    const slow = await connect(b, { auth });
    const slowSub = await slow.subscribe('/default/firehose', auth);
    assert.equal(slowSub.type, 'subscribe_success');
    const healthy = await connect(b, { auth });
    const healthySub = await healthy.subscribe('/default/*', auth);
    assert.equal(healthySub.type, 'subscribe_success');
    const publisher = await connect(b, { auth });

    // Stop reading on the slow subscriber's socket.
    slow.ws._socket.pause();

    const total = PUBLISHES * EVENTS_PER_PUBLISH;
    let allReceived;
    const gotAll = new Promise((resolve) => {
      allReceived = resolve;
    });
    let healthyCount = 0;
    let healthyBytes = 0;
    let outOfOrder = null;
    healthy.ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type !== 'data') return;
      const e = JSON.parse(m.event);
      if (e.seq !== healthyCount && !outOfOrder) outOfOrder = `expected seq ${healthyCount}, got ${e.seq}`;
      healthyCount++;
      healthyBytes += m.event.length;
      if (healthyCount === total) allReceived();
    });
    // The healthy client's own queue would hold 30 MB of data messages; the
    // listener above counts them instead.
    const drainQueue = setInterval(() => {
      healthy.queue = healthy.queue.filter((m) => m.type !== 'data');
    }, 50);

    const pad = 'p'.repeat(EVENT_BYTES - 40);
    const started = Date.now();
    let seq = 0;
    try {
      for (let i = 0; i < PUBLISHES; i++) {
        const events = [];
        for (let k = 0; k < EVENTS_PER_PUBLISH; k++) events.push(JSON.stringify({ seq: seq++, pad }));
        const t0 = Date.now();
        const r = await publisher.publish('/default/firehose', events, auth, randomUUID(), { timeoutMs: 5000 });
        assert.equal(r.type, 'publish_success');
        assertAllSuccessful(r, EVENTS_PER_PUBLISH);
        assert.ok(Date.now() - t0 < 5000, `publish ${i} took ${Date.now() - t0} ms`);
      }
      // Wait for the healthy subscriber to have everything.
      await withTimeout(gotAll, 20000, 'every event at the healthy subscriber').catch(() => {});
      assert.equal(outOfOrder, null);
      assert.equal(healthyCount, total, `healthy subscriber got ${healthyCount} of ${total} events`);
      assert.ok(healthyBytes >= total * (EVENT_BYTES - 100));

      // Let the slow client read again: it gets what the kernel buffered,
      // then the broker's close.
      slow.ws._socket.resume();
      const closed = await slow.waitClosed(15000);
      assert.notEqual(closed, null);
      const slowData = slow.all.filter((m) => m.type === 'data').length;
      assert.ok(slowData < total, `the slow subscriber got all ${slowData} events: it was not cut off`);

      // The broker is fine afterwards: publisher and healthy subscriber still work.
      const r = await publisher.publish('/default/firehose', ['{"seq":-1}'], auth);
      assertAllSuccessful(r, 1);
      const last = await healthy.next((m) => m.type === 'data' && m.event === '{"seq":-1}', { timeoutMs: 5000 });
      assert.equal(last.id, healthySub.id);
      assert.ok(Date.now() - started < 60000);
    } finally {
      clearInterval(drainQueue);
    }
    await healthy.close();
    await publisher.close();
  });
});
