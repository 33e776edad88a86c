/**
 * The StoreAPI of a real receiver on --grpc-address: two tenants' series written over
 * remote-write, the older part flushed into a block, and a Series call returns every sample once
 * per series (head and block chunks together), sorted by labels, with the tenant label; a tenant
 * matcher picks one tenant; Info lists both tenants' label sets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, write, series } from '../helpers/node.js';
import { StoreClient } from '../../src/query/storeapi/client.js';
import { XorIterator } from '../../src/chunkenc/xor.js';

const T0 = 1_700_000_000_000;
const STEP = 15_000;

function decode(chunks: { data: Uint8Array }[]): Map<number, number> {
  const it = new XorIterator();
  const out = new Map<number, number>();
  for (const c of chunks) {
    it.reset(c.data, 0, c.data.length);
    while (it.next()) out.set(it.t, it.v);
  }
  return out;
}

test('StoreAPI Series on a receiver: head and block merged per series, tenants as labels', async () => {
  const n = await startNode(['--receive.shards=2', '--receive.gateways=1']);
  const c = new StoreClient(`127.0.0.1:${n.node.grpcPort}`);
  try {
    const put = async (k0: number, k1: number): Promise<void> => {
      for (const tenant of ['a', 'b']) {
        const ks = Array.from({ length: k1 - k0 }, (_, i) => k0 + i);
        const r = await write(n.writeUrl, Array.from({ length: 4 }, (_, s) => series({ __name__: 'st', s: String(s) }, ks.map((k) => [T0 + 3 + k * STEP, s * 1000 + k]))), tenant);
        assert.equal(r.status, 200, r.text);
      }
    };
    await put(0, 100);
    assert.ok((await n.node.flush()).ulids.length >= 2, 'a block per tenant');
    await put(100, 180);

    const got: { labels: [string, string][]; samples: Map<number, number> }[] = [];
    for await (const x of c.series({ minTime: T0, maxTime: T0 + 200 * STEP, matchers: [{ type: '=', name: '__name__', value: 'st' }] })) {
      assert.ok('labels' in x, JSON.stringify(x));
      got.push({ labels: x.labels, samples: decode(x.chunks) });
    }
    // Sorted by label set, pair by pair: s=0 of both tenants comes before s=1.
    assert.deepEqual(got.map((g) => g.labels), [0, 1, 2, 3].flatMap((s) => ['a', 'b'].map((t) => [['__name__', 'st'], ['s', String(s)], ['tenant_id', t]])));
    for (const g of got) {
      const s = Number(g.labels[1]![1]);
      assert.equal(g.samples.size, 180, `${JSON.stringify(g.labels)}: every sample, from block and head`);
      for (let k = 0; k < 180; k++) assert.equal(g.samples.get(T0 + 3 + k * STEP), s * 1000 + k);
    }
    // A tenant matcher picks the tenant.
    let onlyB = 0;
    for await (const x of c.series({ minTime: T0, maxTime: T0 + 200 * STEP, matchers: [{ type: '=', name: '__name__', value: 'st' }, { type: '=', name: 'tenant_id', value: 'b' }] })) {
      assert.ok('labels' in x);
      assert.equal(new Map(x.labels).get('tenant_id'), 'b');
      onlyB++;
    }
    assert.equal(onlyB, 4);
    const info = await c.info();
    assert.equal(info.componentType, 'receive');
    assert.deepEqual(info.labelSets.map((l) => new Map(l).get('tenant_id')).sort(), ['a', 'b']);
    assert.ok(info.store!.minTime <= T0 + 3);
  } finally {
    c.close();
    await n.stop();
  }
});
