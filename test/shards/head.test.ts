/**
 * Shards: routing is stable and uses every shard; samples written through the gateway are read
 * back bit for bit from the shards' SharedArrayBuffer heads by this (another) thread, across
 * chunk cuts (120 samples), chunk growth and block-boundary cuts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ShardPool } from '../../src/shards/pool.js';
import { ShardLink } from '../../src/shards/link.js';
import { Ingest } from '../../src/gateway/ingest.js';
import { Router } from '../../src/gateway/route.js';
import { WriteRequestDecoder } from '../../src/gateway/wire.js';
import { encodeBody, series } from '../helpers/node.js';
import { encodeWriteRequest } from '../../src/proto/schema.js';
import { XorIterator } from '../../src/chunkenc/xor.js';
import { StatSlot } from '../../src/sharedmem/layout.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;
let pool: ShardPool;
let ingest: Ingest;

before(async () => {
  pool = new ShardPool({ shards: 3, gateways: 1, ringBytes: 1 << 20, blockDurationMs: 2 * HOUR });
  await pool.ready();
  // This test thread plays gateway 0.
  const links = pool.shards.map((s, i) => new ShardLink(i, s.rings[0]!, s.ctlSab));
  ingest = new Ingest(links, { maxDecompressedBytes: 64 << 20 });
});
after(async () => { await pool.stop(); });

/** readAll returns every sample of series `name` from the heads, as [t, bits-hex]. */
async function readAll(name: string): Promise<[number, string][]> {
  const out: [number, string][] = [];
  const it = new XorIterator();
  for (const sh of pool.shards) {
    const refs = await sh.query<number[]>({ type: 'query', op: 'refs', q: { tenant: 't', matcherSets: [[{ type: '=', name: '__name__', value: name }]], mint: -Infinity, maxt: Infinity } });
    for (const ref of refs) {
      for (const c of sh.view.chunks(ref)) {
        it.reset(c.data, 0, c.data.length);
        while (it.next()) out.push([it.t, it.vHi.toString(16).padStart(8, '0') + it.vLo.toString(16).padStart(8, '0')]);
      }
    }
  }
  return out;
}

function bitsOf(v: number): string {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, v);
  return b.getUint32(0).toString(16).padStart(8, '0') + b.getUint32(4).toString(16).padStart(8, '0');
}

test('same series always routes to the same shard, and all shards are used', () => {
  const router = new Router(3);
  const d = new WriteRequestDecoder();
  const ts = Array.from({ length: 300 }, (_, i) => series({ __name__: 'm', i: String(i) }, [[T0, i]]));
  const raw = encodeWriteRequest({ timeseries: ts });
  const tenant = new TextEncoder().encode('t');
  const placement = (): number[] => {
    d.decode(raw, raw.length);
    router.route(d, raw, tenant);
    return router.batches.map((b) => b.series);
  };
  const first = placement();
  assert.deepEqual(placement(), first, 'routing is deterministic');
  assert.equal(first.reduce((a, b) => a + b, 0), 300);
  for (const c of first) assert.ok(c > 50, `every shard gets a fair share: ${first}`);
  // A series' shard does not depend on its neighbours in the request.
  const one = encodeWriteRequest({ timeseries: [ts[42]!] });
  d.decode(one, one.length);
  router.route(d, one, tenant);
  const alone = router.batches.findIndex((b) => b.series === 1);
  const d2 = new WriteRequestDecoder();
  const r2 = new Router(3);
  const rev = encodeWriteRequest({ timeseries: [...ts].reverse() });
  d2.decode(rev, rev.length);
  r2.route(d2, rev, tenant);
  assert.ok(alone >= 0 && r2.batches[alone]!.series > 0);
});

test('samples read back bit-exact across chunk cuts, growth and block boundaries', async () => {
  const values = [0, -0, 1.5, NaN, Infinity, -Infinity, 1e308, 5e-324, 42, 42, 42.000001];
  const samples: [number, number][] = [];
  // 700 samples at 15 s cross 120-sample cuts and (at T0 alignment) a 2h boundary.
  for (let i = 0; i < 700; i++) samples.push([T0 + i * 15_000 + (i % 7), values[i % values.length]! * (i % 3 === 0 ? 1 : i)]);
  // Send in several requests, as remote-write does.
  for (let off = 0; off < samples.length; off += 97) {
    const out = await ingest.write('t', encodeBody({ timeseries: [series({ __name__: 'rt' }, samples.slice(off, off + 97))] }));
    assert.equal(out.conflict, '');
  }
  const got = await readAll('rt');
  assert.equal(got.length, samples.length);
  for (let i = 0; i < samples.length; i++) {
    assert.equal(got[i]![0], samples[i]![0], `t of sample ${i}`);
    assert.equal(got[i]![1], bitsOf(samples[i]![1]), `bits of sample ${i}`);
  }
});

test('the stale marker NaN keeps its bits', async () => {
  // protobufjs cannot carry NaN payloads, so patch the encoded double's bytes.
  const raw = encodeWriteRequest({ timeseries: [series({ __name__: 'stale' }, [[T0, 1.25]])] });
  const buf = Buffer.from(raw);
  const probe = Buffer.alloc(8);
  probe.writeDoubleLE(1.25);
  const at = buf.indexOf(probe);
  assert.ok(at > 0);
  buf.writeUInt32LE(0x00000002, at);
  buf.writeUInt32LE(0x7ff00000, at + 4);
  const { default: snappy } = await import('snappy');
  await ingest.write('t', snappy.compressSync(buf));
  assert.deepEqual(await readAll('stale'), [[T0, '7ff0000000000002']]);
});

test('shard statistics count series and samples', () => {
  let series = 0, samples = 0;
  for (const s of pool.shards) { series += s.stat(StatSlot.SERIES); samples += s.stat(StatSlot.SAMPLES_APPENDED); }
  assert.ok(series >= 2);
  assert.ok(samples >= 701);
});

test('the routed hash is Thanos\' xxhash64 of tenant ‖ 0xFF ‖ name ‖ 0xFF ‖ value ‖ 0xFF …', async () => {
  const { xxh64BigInt } = await import('../../src/hash/xxhash64.js');
  const router = new Router(1);
  const d = new WriteRequestDecoder();
  const raw = encodeWriteRequest({ timeseries: [series({ __name__: 'up', job: 'node', instance: 'host:9100' }, [[T0, 1]])] });
  d.decode(raw, raw.length);
  router.route(d, raw, new TextEncoder().encode('team-a'));
  const b = router.batches[0]!;
  const at = (b.u32[4]! + 20 + 7) & ~7; // first series record after header and tenant
  const got = (BigInt(b.u32[at >>> 2]! >>> 0) | (BigInt(b.u32[(at >>> 2) + 1]! >>> 0) << 32n));
  const input = Buffer.from('team-a\xff__name__\xffup\xffinstance\xffhost:9100\xffjob\xffnode\xff', 'latin1');
  assert.equal(got, xxh64BigInt(input));
});
