/**
 * The Thanos StoreAPI over real gRPC on loopback: StoreServer over an in-memory StoreProvider
 * (three tenants, XOR chunks made with the chunk appender), read back with StoreClient, and once
 * at the raw wire level with hand-encoded requests and an independent protobuf reader, so a
 * wrong field number or enum value in our schema fails here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { StoreServer, type StoreProvider } from '../../src/query/storeapi/server.js';
import { StoreClient, StoreApiError, type StoreSeries } from '../../src/query/storeapi/client.js';
import { SeriesSetBuilder, type RawSeriesSet } from '../../src/query/seriesSet.js';
import { XOR_STATE_BYTES, XorIterator, xorAppendFloat, xorByteLength, xorStateInit } from '../../src/chunkenc/xor.js';
import { compileMatcher, type Matcher } from '../../src/model/matchers.js';
import { tenantExternalLabels, withLabels, type Labels } from '../../src/model/labels.js';
import { SluiceError, ErrorCode } from '../../src/errors.js';
import { Logger } from '../../src/util/log.js';
import { mulberry32, SEED } from '../helpers/prng.js';

const T0 = 1_700_000_000_000;
const STEP = 15_000;
const EXT: [string, string][] = [['replica', 'r1'], ['cluster', 'eu']];
const TL = 'tenant_id';

// ---------------------------------------------------------------------------------------------
// Fixture: an in-memory provider.

interface MemChunk { samples: [number, number][]; data: Uint8Array }
interface MemSeries { labels: Labels; chunks: MemChunk[] }

/** xorChunk encodes samples with the production appender. */
function xorChunk(samples: [number, number][]): Uint8Array {
  const state = new ArrayBuffer(XOR_STATE_BYTES);
  const f64 = new Float64Array(state);
  const i32 = new Int32Array(state);
  xorStateInit(f64, i32, 0);
  const data = new Uint8Array(16 + samples.length * 20);
  for (const [t, v] of samples) assert.ok(xorAppendFloat(f64, i32, 0, data, 0, data.length, t, v));
  return data.slice(0, xorByteLength(i32, 0));
}

/** decodeChunk decodes a chunk with the production iterator. */
function decodeChunk(data: Uint8Array): [number, number][] {
  const it = new XorIterator();
  it.reset(data, 0, data.length);
  const out: [number, number][] = [];
  while (it.next()) out.push([it.t, it.v]);
  assert.equal(it.err, false);
  return out;
}

/** memSeries makes a series of `n` samples from T0 cut into chunks of `per` samples. */
function memSeries(labels: Record<string, string>, seed: number, n = 150, per = 120): MemSeries {
  const all: [number, number][] = Array.from({ length: n }, (_, k) => [T0 + k * STEP, seed * 1000 + k * 0.5 + (k % 7) / 3]);
  const chunks: MemChunk[] = [];
  for (let k = 0; k < n; k += per) {
    const samples = all.slice(k, k + per);
    chunks.push({ samples, data: xorChunk(samples) });
  }
  const ls = Object.entries(labels).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { labels: ls, chunks };
}

class MemProvider implements StoreProvider {
  readonly tenantLabelName = TL;
  readonly externalLabels = EXT;
  readonly data = new Map<string, MemSeries[]>();
  /** Tenants whose chunks are handed over with their time ranges (the others must be decoded). */
  readonly withTimes = new Set<string>();
  readonly failing = new Set<string>();
  calls: string[] = [];

  async tenants(): Promise<string[]> { return [...this.data.keys()]; }

  private matching(tenant: string, matchers: Matcher[], mint: number, maxt: number): MemSeries[] {
    if (this.failing.has(tenant)) throw new SluiceError(ErrorCode.Unavailable, `shard of ${tenant} is down`);
    const cs = matchers.map(compileMatcher);
    return (this.data.get(tenant) ?? []).filter((s) => {
      const m = new Map(s.labels);
      return cs.every((c) => c.matches(m.get(c.name) ?? '')) && s.chunks.some((c) => c.samples[0]![0] <= maxt && c.samples.at(-1)![0] >= mint);
    });
  }

  async select(tenant: string, matchers: Matcher[], mint: number, maxt: number): Promise<RawSeriesSet> {
    this.calls.push(tenant);
    const b = new SeriesSetBuilder({ external: tenantExternalLabels(EXT, TL, tenant) });
    for (const s of this.matching(tenant, matchers, mint, maxt)) {
      const e = b.add(s.labels);
      for (const c of s.chunks) {
        if (c.samples[0]![0] > maxt || c.samples.at(-1)![0] < mint) continue;
        if (this.withTimes.has(tenant)) b.chunk(e, c.data, 0, c.data.length, c.samples[0]![0], c.samples.at(-1)![0]);
        else b.chunk(e, c.data, 0, c.data.length);
      }
    }
    return b.build();
  }

  async labelNames(tenant: string, matchers: Matcher[], mint: number, maxt: number): Promise<string[]> {
    this.calls.push(tenant);
    return [...new Set(this.matching(tenant, matchers, mint, maxt).flatMap((s) => s.labels.map(([n]) => n)))];
  }

  async labelValues(tenant: string, name: string, matchers: Matcher[], mint: number, maxt: number): Promise<string[]> {
    this.calls.push(tenant);
    return this.matching(tenant, matchers, mint, maxt).map((s) => new Map(s.labels).get(name) ?? '').filter((v) => v !== '');
  }

  async timeRange(): Promise<[number, number]> { return [T0, Infinity]; }
}

const EMOJI = '\u{1F600}';
const REPL = '\uFFFD';

const provider = new MemProvider();
provider.data.set('a', [
  memSeries({ __name__: 'up', job: 'api', instance: '1' }, 1),
  memSeries({ __name__: 'up', job: 'api', instance: '2' }, 2),
  memSeries({ __name__: 'http_requests', job: 'api' }, 3),
]);
provider.data.set('b', [
  memSeries({ __name__: 'up', job: 'db', instance: '1' }, 4),
  memSeries({ __name__: 'up', job: 'api', instance: '1' }, 5),
]);
// UTF-16 order puts the emoji (a surrogate pair) before U+FFFD; Go's byte order the other way.
provider.data.set('c', [
  memSeries({ __name__: 'up', job: 'x', instance: EMOJI }, 6),
  memSeries({ __name__: 'up', job: 'x', instance: REPL }, 7),
]);
// One series whose chunks exceed the 1 MiB frame: random values make ~1 KiB chunks.
const rnd = mulberry32(SEED);
const bigChunks: MemChunk[] = [];
for (let c = 0; c < 2500; c++) {
  const samples: [number, number][] = Array.from({ length: 120 }, (_, k) => [T0 + (c * 120 + k) * 1000, rnd()]);
  bigChunks.push({ samples, data: xorChunk(samples) });
}
provider.data.set('big', [{ labels: [['__name__', 'big']], chunks: bigChunks }]);
provider.withTimes.add('a');

/** expected lists the tenants' matching series with their final labels, in Go (UTF-8 byte) order. */
function expected(tenants: string[], name: string): { labels: [string, string][]; s: MemSeries }[] {
  const out = tenants.flatMap((t) => provider.data.get(t)!.filter((s) => new Map(s.labels).get('__name__') === name)
    .map((s) => ({ labels: withLabels(s.labels, tenantExternalLabels(EXT, TL, t)), s })));
  const bytes = (x: string): Buffer => Buffer.from(x, 'utf8');
  out.sort((x, y) => {
    for (let i = 0; i < Math.min(x.labels.length, y.labels.length); i++) {
      const c = Buffer.compare(bytes(x.labels[i]![0]), bytes(y.labels[i]![0])) || Buffer.compare(bytes(x.labels[i]![1]), bytes(y.labels[i]![1]));
      if (c !== 0) return c;
    }
    return x.labels.length - y.labels.length;
  });
  return out;
}

let server: StoreServer;
let client: StoreClient;
let address: string;

before(async () => {
  server = new StoreServer(provider, new Logger('error'));
  const port = await server.start('127.0.0.1', 0);
  address = `127.0.0.1:${port}`;
  client = new StoreClient(address, { timeoutMs: 10_000 });
});

after(async () => {
  client.close();
  await server.stop(1000);
});

type Item = StoreSeries | { warning: string };
async function collect(it: AsyncIterable<Item>): Promise<{ series: StoreSeries[]; warnings: string[] }> {
  const series: StoreSeries[] = [];
  const warnings: string[] = [];
  for await (const x of it) {
    if ('warning' in x) warnings.push(x.warning);
    else series.push(x);
  }
  return { series, warnings };
}

const up: Matcher = { type: '=', name: '__name__', value: 'up' };
const RANGE = { minTime: T0, maxTime: T0 + 200 * STEP };

async function grpcCodeOf(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StoreApiError, `not a StoreApiError: ${String(e)}`);
    return { code: e.grpcCode, message: e.message };
  }
  assert.fail('call succeeded');
}

// ---------------------------------------------------------------------------------------------

test('Series returns the matching series of every tenant, sorted by labels, with equal samples', async () => {
  provider.calls = [];
  const { series, warnings } = await collect(client.series({ ...RANGE, matchers: [up] }));
  assert.deepEqual(warnings, []);
  const want = expected(['a', 'b', 'c'], 'up');
  assert.equal(series.length, 6);
  assert.deepEqual(series.map((s) => s.labels), want.map((w) => w.labels));
  // Code point order: U+FFFD sorts before U+1F600.
  const inst = series.filter((s) => new Map(s.labels).get(TL) === 'c').map((s) => new Map(s.labels).get('instance'));
  assert.deepEqual(inst, [REPL, EMOJI]);
  for (const [k, s] of series.entries()) {
    const w = want[k]!.s;
    assert.equal(s.chunks.length, w.chunks.length);
    s.chunks.forEach((c, j) => {
      const samples = decodeChunk(c.data);
      assert.deepEqual(samples, w.chunks[j]!.samples);
      // Tenant a hands over chunk times; b and c make the server decode them: same answer.
      assert.equal(c.minT, samples[0]![0]);
      assert.equal(c.maxT, samples.at(-1)![0]);
    });
  }
  assert.deepEqual(provider.calls.sort(), ['a', 'b', 'big', 'c']);
});

test('matchers on the tenant label and external labels select tenants', async () => {
  const tenantsOf = (ss: StoreSeries[]): string[] => [...new Set(ss.map((s) => new Map(s.labels).get(TL)!))].sort();
  provider.calls = [];
  let r = await collect(client.series({ ...RANGE, matchers: [up, { type: '=', name: TL, value: 'a' }] }));
  assert.deepEqual(tenantsOf(r.series), ['a']);
  assert.equal(r.series.length, 2);
  assert.deepEqual(provider.calls, ['a']);
  r = await collect(client.series({ ...RANGE, matchers: [up, { type: '=~', name: TL, value: 'a|b' }] }));
  assert.deepEqual(tenantsOf(r.series), ['a', 'b']);
  r = await collect(client.series({ ...RANGE, matchers: [up, { type: '!=', name: TL, value: 'a' }] }));
  assert.deepEqual(tenantsOf(r.series), ['b', 'c']);
  r = await collect(client.series({ ...RANGE, matchers: [up, { type: '!~', name: TL, value: 'a|c' }] }));
  assert.deepEqual(tenantsOf(r.series), ['b']);
  provider.calls = [];
  r = await collect(client.series({ ...RANGE, matchers: [up, { type: '=', name: 'cluster', value: 'us' }] }));
  assert.equal(r.series.length, 0);
  assert.deepEqual(provider.calls, [], 'no tenant is asked when an external label excludes them all');
  r = await collect(client.series({ ...RANGE, matchers: [up, { type: '=', name: 'replica', value: 'r1' }, { type: '=', name: 'job', value: 'db' }] }));
  assert.equal(r.series.length, 1);
  assert.equal(new Map(r.series[0]!.labels).get(TL), 'b');
  // Only matchers on external labels: refused, as Thanos does.
  const e = await grpcCodeOf(collect(client.series({ ...RANGE, matchers: [{ type: '=', name: TL, value: 'a' }] })));
  assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
  assert.match(e.message, /no matchers/);
});

test('skip_chunks, without_replica_labels, limit and response batches', async () => {
  const full = (await collect(client.series({ ...RANGE, matchers: [up] }))).series;
  const skip = (await collect(client.series({ ...RANGE, matchers: [up], skipChunks: true }))).series;
  assert.deepEqual(skip.map((s) => s.labels), full.map((s) => s.labels));
  assert.ok(skip.every((s) => s.chunks.length === 0));

  const noReplica = (await collect(client.series({ ...RANGE, matchers: [up], withoutReplicaLabels: ['replica'] }))).series;
  assert.deepEqual(noReplica.map((s) => s.labels), full.map((s) => s.labels.filter(([n]) => n !== 'replica')));

  // Dropping the tenant label makes a's and b's up{job="api",instance="1"} one series.
  const merged = (await collect(client.series({ ...RANGE, matchers: [up], withoutReplicaLabels: ['replica', TL] }))).series;
  assert.equal(merged.length, 5);
  const both = merged.find((s) => new Map(s.labels).get('job') === 'api' && new Map(s.labels).get('instance') === '1')!;
  assert.equal(both.chunks.length, 4);
  assert.ok(both.chunks.every((c, k) => k === 0 || both.chunks[k - 1]!.minT <= c.minT), 'chunks ordered by time');
  const keys = merged.map((s) => JSON.stringify(s.labels));
  assert.equal(new Set(keys).size, keys.length);

  const two = (await collect(client.series({ ...RANGE, matchers: [up], limit: 2 }))).series;
  assert.deepEqual(two.map((s) => s.labels), full.slice(0, 2).map((s) => s.labels));

  const batched = (await collect(client.series({ ...RANGE, matchers: [up], batchSize: 4 }))).series;
  assert.deepEqual(batched, full);
});

test('a series larger than one frame arrives whole', async () => {
  const { series } = await collect(client.series({ minTime: T0, maxTime: T0 + 1e9, matchers: [{ type: '=', name: '__name__', value: 'big' }] }));
  assert.equal(series.length, 1);
  assert.equal(series[0]!.chunks.length, bigChunks.length);
  assert.ok(bigChunks.reduce((n, c) => n + c.data.length, 0) > 1024 * 1024);
  series[0]!.chunks.forEach((c, k) => assert.deepEqual(Buffer.from(c.data), Buffer.from(bigChunks[k]!.data)));
});

test('LabelNames and LabelValues include tenant and external labels', async () => {
  const range = { start: T0, end: T0 + 200 * STEP };
  assert.deepEqual(await client.labelNames(range), ['__name__', 'cluster', 'instance', 'job', 'replica', TL]);
  assert.deepEqual(await client.labelNames({ ...range, withoutReplicaLabels: ['replica'] }), ['__name__', 'cluster', 'instance', 'job', TL]);
  assert.deepEqual(await client.labelNames({ ...range, matchers: [{ type: '=', name: '__name__', value: 'http_requests' }] }), ['__name__', 'cluster', 'job', 'replica', TL]);
  assert.deepEqual(await client.labelNames({ ...range, matchers: [{ type: '=', name: '__name__', value: 'nope' }] }), []);
  assert.deepEqual(await client.labelNames({ ...range, limit: 2 }), ['__name__', 'cluster']);

  assert.deepEqual(await client.labelValues(TL, { ...range, matchers: [up] }), ['a', 'b', 'c']);
  assert.deepEqual(await client.labelValues(TL, { ...range, matchers: [{ type: '=', name: '__name__', value: 'http_requests' }] }), ['a']);
  assert.deepEqual(await client.labelValues('cluster', range), ['eu']);
  assert.deepEqual(await client.labelValues('instance', range), ['1', '2', REPL, EMOJI]);
  assert.deepEqual(await client.labelValues('instance', { ...range, matchers: [{ type: '=', name: TL, value: 'b' }] }), ['1']);
  assert.deepEqual(await client.labelValues('job', { ...range, limit: 1 }), ['api']);
  const e = await grpcCodeOf(client.labelValues('', range));
  assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
});

test('Info reports a receive with one label set per tenant', async () => {
  const info = await client.info();
  assert.equal(info.componentType, 'receive');
  const sets = ['a', 'b', 'big', 'c'].map((t) => [['cluster', 'eu'], ['replica', 'r1'], [TL, t]]);
  assert.deepEqual(info.labelSets, sets);
  assert.ok(info.store);
  assert.equal(info.store.minTime, T0);
  assert.ok(info.store.maxTime > 9.2e18, 'unbounded max time is sent as MaxInt64');
  assert.equal(info.store.supportsSharding, false);
  assert.equal(info.store.supportsWithoutReplicaLabels, true);
  assert.deepEqual(info.store.tsdbInfos.map((t) => t.labels), sets);
});

test('bad requests are INVALID_ARGUMENT; provider failures UNAVAILABLE or warnings', async () => {
  let e = await grpcCodeOf(collect(client.series({ ...RANGE, matchers: [{ type: '=~', name: 'job', value: '(' }] })));
  assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
  assert.match(e.message, /invalid regular expression/);
  e = await grpcCodeOf(collect(client.series({ minTime: T0 + 1, maxTime: T0, matchers: [up] })));
  assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
  e = await grpcCodeOf(client.labelNames({ start: T0, end: T0 + 1, matchers: [{ type: '!~', name: TL, value: '[' }] }));
  assert.equal(e.code, grpc.status.INVALID_ARGUMENT);

  provider.failing.add('b');
  try {
    e = await grpcCodeOf(collect(client.series({ ...RANGE, matchers: [up] })));
    assert.equal(e.code, grpc.status.UNAVAILABLE);
    assert.match(e.message, /shard of b is down/);
    const partial = await collect(client.series({ ...RANGE, matchers: [up], partialResponse: true }));
    assert.equal(partial.series.length, 4);
    assert.equal(partial.warnings.length, 1);
    assert.match(partial.warnings[0]!, /tenant "b".*down/);
    const warnings: string[] = [];
    assert.deepEqual(await client.labelValues(TL, { start: T0, end: T0 + 1e6, matchers: [up], partialResponse: true, warnings }), ['a', 'c']);
    assert.equal(warnings.length, 1);
  } finally {
    provider.failing.delete('b');
  }
});

test('aborting a Series call stops it; the server keeps serving', async () => {
  const ac = new AbortController();
  const it = client.series({ minTime: T0, maxTime: T0 + 1e9, matchers: [{ type: '=~', name: '__name__', value: '.+' }], batchSize: 1 }, ac.signal);
  let n = 0;
  await assert.rejects(async () => {
    for await (const x of it) {
      void x;
      if (++n === 1) ac.abort();
    }
  }, (err: Error) => err.name === 'AbortError');
  assert.ok(n >= 1);
  const { series } = await collect(client.series({ ...RANGE, matchers: [up] }));
  assert.equal(series.length, 6);
});

// ---------------------------------------------------------------------------------------------
// Raw wire level: our own encoder and reader, independent of the schema under test.

function varint(n: bigint): number[] {
  let x = BigInt.asUintN(64, n);
  const out: number[] = [];
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
  return out;
}
const fVarint = (f: number, v: number | bigint): number[] => [...varint(BigInt(f << 3)), ...varint(BigInt(v))];
function fBytes(f: number, b: number[] | Uint8Array | string): number[] {
  const bytes = typeof b === 'string' ? [...Buffer.from(b, 'utf8')] : [...b];
  return [...varint(BigInt((f << 3) | 2)), ...varint(BigInt(bytes.length)), ...bytes];
}

interface Field { f: number; wire: number; n?: bigint; b?: Buffer }
function readFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let p = 0;
  const rv = (): bigint => {
    let x = 0n;
    for (let s = 0n; ; s += 7n) {
      const c = buf[p++]!;
      x |= BigInt(c & 0x7f) << s;
      if (c < 0x80) return x;
    }
  };
  while (p < buf.length) {
    const key = Number(rv());
    const f = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ f, wire, n: rv() });
    else if (wire === 2) {
      const len = Number(rv());
      out.push({ f, wire, b: buf.subarray(p, p + len) });
      p += len;
    } else assert.fail(`unexpected wire type ${wire} for field ${f}`);
  }
  return out;
}

function rawSeries(req: number[]): Promise<Buffer[]> {
  const c = new grpc.Client(address, grpc.credentials.createInsecure());
  const id = (b: Buffer): Buffer => b;
  const call = c.makeServerStreamRequest('/thanos.Store/Series', id, id, Buffer.from(req));
  const frames: Buffer[] = [];
  return new Promise((resolve, reject) => {
    call.on('data', (b: Buffer) => frames.push(b));
    call.on('error', (e) => { c.close(); reject(e); });
    call.on('end', () => { c.close(); resolve(frames); });
  });
}

/** decodeSeries reads a thanos.Series by field number. */
function decodeSeries(b: Buffer): { labels: [string, string][]; chunks: { minT: bigint; maxT: bigint; type: bigint; data: Buffer }[] } {
  const labels: [string, string][] = [];
  const chunks: { minT: bigint; maxT: bigint; type: bigint; data: Buffer }[] = [];
  for (const f of readFields(b)) {
    if (f.f === 1) {
      const lf = readFields(f.b!);
      assert.ok(lf.every((x) => x.f === 1 || x.f === 2), 'Label has only name=1 and value=2');
      labels.push([lf.find((x) => x.f === 1)?.b?.toString('utf8') ?? '', lf.find((x) => x.f === 2)?.b?.toString('utf8') ?? '']);
    } else if (f.f === 2) {
      const af = readFields(f.b!);
      assert.ok(af.every((x) => x.f >= 1 && x.f <= 3), `AggrChunk fields: ${af.map((x) => x.f)}`);
      const raw = readFields(af.find((x) => x.f === 3)!.b!);
      assert.ok(raw.every((x) => x.f === 1 || x.f === 2), 'raw Chunk has type=1 and data=2');
      chunks.push({
        minT: af.find((x) => x.f === 1)!.n!,
        maxT: af.find((x) => x.f === 2)!.n!,
        type: raw.find((x) => x.f === 1)?.n ?? 0n,
        data: raw.find((x) => x.f === 2)!.b!,
      });
    } else assert.fail(`Series field ${f.f}`);
  }
  return { labels, chunks };
}

test('raw wire: field numbers of SeriesRequest, SeriesResponse, Series, AggrChunk, Chunk and Label', async () => {
  const matcher = (type: number, name: string, value: string): number[] => fBytes(3, [...fVarint(1, type), ...fBytes(2, name), ...fBytes(3, value)]);
  const base = [
    ...fVarint(1, T0),
    ...fVarint(2, T0 + 200 * STEP),
    ...matcher(0, '__name__', 'up'), // EQ = 0
    ...matcher(2, TL, 'a|b'), // RE = 2
    ...matcher(1, 'job', 'db'), // NEQ = 1
    ...fBytes(13, [...fVarint(1, 0), ...fVarint(2, 2)]), // shard_info: unknown to us, skipped
    ...fBytes(14, 'replica'), // without_replica_labels
  ];
  const frames = await rawSeries(base);
  const want = expected(['a', 'b'], 'up').filter((w) => new Map(w.labels).get('job') !== 'db');
  assert.equal(frames.length, want.length);
  frames.forEach((fr, k) => {
    const top = readFields(fr);
    assert.equal(top.length, 1);
    assert.equal(top[0]!.f, 1, 'SeriesResponse.series is field 1');
    const s = decodeSeries(top[0]!.b!);
    assert.deepEqual(s.labels, want[k]!.labels.filter(([n]) => n !== 'replica'));
    assert.equal(s.chunks.length, want[k]!.s.chunks.length);
    s.chunks.forEach((c, j) => {
      const samples = want[k]!.s.chunks[j]!.samples;
      assert.equal(c.type, 0n, 'XOR is 0 in the StoreAPI');
      assert.deepEqual(decodeChunk(c.data), samples);
      assert.equal(c.minT, BigInt(samples[0]![0]));
      assert.equal(c.maxT, BigInt(samples.at(-1)![0]));
    });
  });

  // limit = 15, skip_chunks = 8, response_batch_size = 16: one SeriesBatch (field 4) of 1 series.
  const batched = await rawSeries([...base, ...fVarint(15, 1), ...fVarint(8, 1), ...fVarint(16, 10)]);
  assert.equal(batched.length, 1);
  const top = readFields(batched[0]!);
  assert.equal(top[0]!.f, 4, 'SeriesResponse.batch is field 4');
  const inner = readFields(top[0]!.b!);
  assert.equal(inner.length, 1);
  assert.equal(inner[0]!.f, 1, 'SeriesBatch.series is field 1');
  const s = decodeSeries(inner[0]!.b!);
  assert.deepEqual(s.labels, want[0]!.labels.filter(([n]) => n !== 'replica'));
  assert.equal(s.chunks.length, 0);

  // A big series is split over several frames, none above the 1 MiB chunk budget by much.
  const big = await rawSeries([...fVarint(1, T0), ...fVarint(2, T0 + 1e9), ...matcher(0, '__name__', 'big')]);
  assert.ok(big.length >= 2, `frames: ${big.length}`);
  assert.ok(big.every((b) => b.length < 1024 * 1024 + 4096));
  const chunks = big.flatMap((b) => decodeSeries(readFields(b)[0]!.b!).chunks);
  assert.equal(chunks.length, bigChunks.length);

  // A bad regex travels as INVALID_ARGUMENT (status 3).
  await assert.rejects(rawSeries([...matcher(2, 'job', '(')]), (err: grpc.ServiceError) => err.code === 3);
});

function rawUnary(path: string, req: number[]): Promise<Buffer> {
  const c = new grpc.Client(address, grpc.credentials.createInsecure());
  const id = (b: Buffer): Buffer => b;
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(path, id, id, Buffer.from(req), (err, v) => {
      c.close();
      if (err || !v) reject(err ?? new Error('no response'));
      else resolve(v);
    });
  });
}

const str = (f: Field): string => f.b!.toString('utf8');
const labelSet = (b: Buffer): [string, string][] => readFields(b).map((l) => {
  assert.equal(l.f, 1, 'LabelSet.labels is field 1');
  const lf = readFields(l.b!);
  return [str(lf.find((x) => x.f === 1)!), str(lf.find((x) => x.f === 2)!)];
});

test('raw wire: LabelNames, LabelValues and Info field numbers', async () => {
  const matcher = (f: number, type: number, name: string, value: string): number[] => fBytes(f, [...fVarint(1, type), ...fBytes(2, name), ...fBytes(3, value)]);
  // LabelNamesRequest: start=3, end=4, matchers=6, without_replica_labels=7, limit=8.
  let res = readFields(await rawUnary('/thanos.Store/LabelNames', [
    ...fVarint(3, T0), ...fVarint(4, T0 + 1e6), ...matcher(6, 0, '__name__', 'http_requests'), ...fBytes(7, 'replica'), ...fVarint(8, 3),
  ]));
  assert.ok(res.every((f) => f.f === 1), 'LabelNamesResponse.names is field 1');
  assert.deepEqual(res.map(str), ['__name__', 'cluster', 'job']);

  // LabelValuesRequest: label=1, start=4, end=5, matchers=7, limit=9.
  res = readFields(await rawUnary('/thanos.Store/LabelValues', [
    ...fBytes(1, 'instance'), ...fVarint(4, T0), ...fVarint(5, T0 + 1e6), ...matcher(7, 1, TL, 'c'), ...fVarint(9, 2),
  ]));
  assert.ok(res.every((f) => f.f === 1), 'LabelValuesResponse.values is field 1');
  assert.deepEqual(res.map(str), ['1', '2']);
  // start > end is refused.
  await assert.rejects(rawUnary('/thanos.Store/LabelValues', [...fBytes(1, 'job'), ...fVarint(4, T0 + 1), ...fVarint(5, T0)]), (err: grpc.ServiceError) => err.code === 3);

  // InfoResponse: label_sets=1, component_type=2, store=3 {min_time=1, max_time=2, supports_sharding=3,
  // supports_without_replica_labels=5, tsdb_infos=6 {labels=1, min_time=2, max_time=3}}.
  const info = readFields(await rawUnary('/thanos.info.Info/Info', []));
  assert.deepEqual(info.filter((f) => f.f === 1).map((f) => labelSet(f.b!)), ['a', 'b', 'big', 'c'].map((t) => [['cluster', 'eu'], ['replica', 'r1'], [TL, t]]));
  assert.equal(str(info.find((f) => f.f === 2)!), 'receive');
  const store = readFields(info.find((f) => f.f === 3)!.b!);
  assert.equal(store.find((f) => f.f === 1)!.n, BigInt(T0));
  assert.equal(store.find((f) => f.f === 2)!.n, 0x7ffffffffffffc00n, 'max time: the largest int64 a double holds');
  assert.equal(store.find((f) => f.f === 3)?.n ?? 0n, 0n);
  assert.equal(store.find((f) => f.f === 5)!.n, 1n);
  const tsdb = store.filter((f) => f.f === 6).map((f) => readFields(f.b!));
  assert.equal(tsdb.length, 4);
  assert.deepEqual(labelSet(tsdb[0]!.find((f) => f.f === 1)!.b!), [['cluster', 'eu'], ['replica', 'r1'], [TL, 'a']]);
  assert.equal(tsdb[0]!.find((f) => f.f === 2)!.n, BigInt(T0));
  assert.equal(tsdb[0]!.find((f) => f.f === 3)!.n, 0x7ffffffffffffc00n);
});
