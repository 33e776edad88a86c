/**
 * The query threads' JIT warm-up (src/query/warmUp.ts): every query of every round runs to its
 * end (a failing one would leave the count short), the warm-up waits while the thread has a real
 * query, and a node's query threads answer correctly with the warm-up on and off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { WARM_UP_ROUNDS, warmUp } from '../../src/query/warmUp.js';
import { startNode, write, series, getJson } from '../helpers/node.js';

test('every warm-up query runs to its end', async () => {
  assert.equal(await warmUp({ busy: () => false }), WARM_UP_ROUNDS * 4);
});

test('the warm-up waits while the thread is busy', async () => {
  let busy = true;
  let done = false;
  const p = warmUp({ busy: () => busy }, 1).then((n) => { done = true; return n; });
  await sleep(200);
  assert.equal(done, false, 'ran while busy');
  busy = false;
  assert.equal(await p, 4);
});

for (const on of [true, false]) {
  test(`query threads answer with --query.warm-up=${on}`, async () => {
    const n = await startNode([`--query.warm-up=${on}`, '--query.workers=1']);
    try {
      const t0 = 1_700_000_000_000;
      const r = await write(n.writeUrl, [series({ __name__: 'wu', job: 'a' }, [[t0, 1], [t0 + 15_000, 4]])]);
      assert.equal(r.status, 200, r.text);
      // The first query starts the thread (and its warm-up); the later ones run beside or after
      // it, and none sees the warm-up's synthetic series.
      for (const [query, want] of [['sum(wu)', '4'], ['count({__name__=~".+"})', '1'], ['count({__name__=~".+"})', '1']] as const) {
        await sleep(100);
        const q = await getJson(`${n.httpUrl}/api/v1/query?query=${encodeURIComponent(query)}&time=${(t0 + 15_000) / 1000}`);
        assert.equal(q.status, 200);
        assert.deepEqual((q.body.data as { result: unknown }).result, [{ metric: {}, value: [(t0 + 15_000) / 1000, want] }], query);
      }
    } finally {
      await n.stop();
    }
  });
}
