/**
 * Decoding selections (src/query/seriesDecode.ts). A series found in several sources (a block and
 * the head, replicas on peers) is decoded into one sorted run with each timestamp once, whether
 * its chunks are in order, overlapping, or given without time ranges; the first source's sample
 * wins a shared timestamp when runs overlap. Lazy series read the same samples as the eager
 * decoder in any order, released or not, and queries over them answer exactly as over eager ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../helpers/prng.js';
import { XOR_STATE_BYTES, xorAppend, xorByteLength, xorStateInit } from '../../src/chunkenc/xor.js';
import { SeriesSetBuilder } from '../../src/query/seriesSet.js';
import { decodeSelection, decodeSeriesSet, lazySeriesSet } from '../../src/query/seriesDecode.js';
import { Engine } from '../../src/query/promql/engine.js';
import { isStale } from '../../src/query/promql/evaluator.js';
import { matcherTest } from '../../src/query/promql/info.js';
import type { Querier, SelectHints, SeriesData } from '../../src/query/promql/storage.js';
import type { Labels } from '../../src/model/labels.js';

function chunk(samples: [number, number][]): Uint8Array {
  const st = new ArrayBuffer(XOR_STATE_BYTES);
  const f64 = new Float64Array(st);
  const i32 = new Int32Array(st);
  xorStateInit(f64, i32, 0);
  const data = new Uint8Array(64 + samples.length * 20);
  const f = new Float64Array(1);
  const w = new Uint32Array(f.buffer);
  for (const [t, v] of samples) { f[0] = v; assert.ok(xorAppend(f64, i32, 0, data, 0, data.length, t, w[0]!, w[1]!)); }
  return data.slice(0, xorByteLength(i32, 0));
}

test('merged series: runs in order, overlapping or unordered become one sorted run, each timestamp once', () => {
  const rnd = mulberry32(3);
  for (let iter = 0; iter < 300; iter++) {
    const b = new SeriesSetBuilder({ external: [['tenant_id', 't']] });
    const want = new Map<number, number>();
    const sources = 2 + Math.floor(rnd() * 3);
    const withTimes = rnd() < 0.7;
    for (let src = 0; src < sources; src++) {
      const e = b.add([['__name__', 'm'], ['i', String(iter % 3)]]);
      const chunks = 1 + Math.floor(rnd() * 3);
      for (let c = 0; c < chunks; c++) {
        const from = Math.floor(rnd() * 100);
        const samples: [number, number][] = [];
        for (let t = from; t < from + 1 + Math.floor(rnd() * 40); t++) if (rnd() < 0.7) samples.push([t * 1000, src * 1000 + t]);
        if (samples.length === 0) continue;
        for (const [t, v] of samples) if (!want.has(t)) want.set(t, v);
        const data = chunk(samples);
        if (withTimes) b.chunk(e, data, 0, data.length, samples[0]![0], samples.at(-1)![0]);
        else b.chunk(e, data, 0, data.length);
      }
    }
    const got = decodeSeriesSet(b.build(), -Infinity, Infinity);
    const ts = [...want.keys()].sort((x, y) => x - y);
    if (ts.length === 0) { assert.equal(got.length, 0); continue; }
    assert.equal(got.length, 1, `iteration ${iter}`);
    assert.deepEqual(Array.from(got[0]!.t), ts, `iteration ${iter}: timestamps`);
    // Sources add chunks in order, so the first source holding a timestamp is the one whose value stays,
    // except when chunk time ranges reorder them: then only the timestamps are compared.
    if (!withTimes) assert.deepEqual(Array.from(got[0]!.v), ts.map((t) => want.get(t)), `iteration ${iter}: values`);
    else for (let k = 0; k < ts.length; k++) assert.equal(got[0]!.v[k]! % 1000, (ts[k]! / 1000) % 1000, `iteration ${iter}: value at ${ts[k]}`);
  }
});

/** STALE is Prometheus' stale marker. */
const STALE = new Float64Array(new Uint32Array([2, 0x7ff00000]).buffer)[0]!;

/** randomSet packs `n` series (some from two overlapping sources, some with stale markers) and returns it with each series' samples. */
function randomSet(seed: number, n: number): { set: ReturnType<SeriesSetBuilder['build']>; rows: { labels: Labels; t: number[]; v: number[] }[] } {
  const rnd = mulberry32(seed);
  const b = new SeriesSetBuilder({ external: [['tenant_id', 't']] });
  const rows: { labels: Labels; t: number[]; v: number[] }[] = [];
  for (let i = 0; i < n; i++) {
    const labels: Labels = [['__name__', i % 5 === 0 ? 'y' : 'x'], ['i', String(i)], ['job', `j${i % 3}`]];
    const sources = rnd() < 0.3 ? 2 : 1;
    const byT = new Map<number, number>();
    for (let src = 0; src < sources; src++) {
      const e = b.add(labels);
      const from = Math.floor(rnd() * 200);
      const samples: [number, number][] = [];
      for (let k = from; k < from + 20 + Math.floor(rnd() * 300); k++) {
        if (rnd() < 0.2) continue;
        samples.push([k * 15_000, rnd() < 0.03 ? STALE : src * 1e6 + k * (1 + (i % 4)) + (rnd() < 0.05 ? -50 : 0)]);
      }
      for (let c = 0; c < samples.length; c += 120) {
        const part = samples.slice(c, c + 120);
        for (const [t, v] of part) if (!byT.has(t)) byT.set(t, v);
        const data = chunk(part);
        b.chunk(e, data, 0, data.length, part[0]![0], part.at(-1)![0]);
      }
    }
    const ts = [...byT.keys()].sort((x, y) => x - y);
    rows.push({ labels, t: ts, v: ts.map((t) => byT.get(t)!) });
  }
  return { set: b.build(), rows };
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.from(a).every((x, k) => Object.is(x, b[k]) || (Number.isNaN(x) && Number.isNaN(b[k]!) && isStale(x) === isStale(b[k]!)));

test('lazy series read what the eager decoder reads, in any order, released or not, read again after release', () => {
  const rnd = mulberry32(7);
  for (let iter = 0; iter < 20; iter++) {
    const { set } = randomSet(100 + iter, 40);
    const mint = Math.floor(rnd() * 100) * 15_000 + 7_000;
    const maxt = mint + Math.floor(rnd() * 300) * 15_000;
    const eager = decodeSeriesSet(set, mint, maxt);
    const lazy = lazySeriesSet(set, mint, maxt);
    // Lazy keeps series whose chunks hold no sample in range (they read as empty); eager drops them.
    const nonEmpty = lazy.filter((s) => s.t.length > 0);
    for (const s of lazy) s.release();
    assert.equal(nonEmpty.length, eager.length, `iteration ${iter}: series`);
    const held: typeof lazy = [];
    for (const k of Array.from(nonEmpty.keys()).sort(() => rnd() - 0.5)) {
      const l = nonEmpty[k]!;
      const e = eager[k]!;
      assert.deepEqual(l.labels, e.labels, `iteration ${iter}: labels of ${k}`);
      assert.ok(same(l.t, e.t) && same(l.v, e.v), `iteration ${iter}: samples of ${k}`);
      const clean = Array.from(e.v).filter((x) => !isStale(x));
      assert.ok(same(l.cv, clean), `iteration ${iter}: clean values of ${k}`);
      if (rnd() < 0.5) l.release();
      else held.push(l);
    }
    // Series still holding their samples (one in the shared scratch buffer, others in their own)
    // were not overwritten by the series read after them.
    for (const l of held) {
      const e = eager[nonEmpty.indexOf(l)]!;
      assert.ok(same(l.t, e.t) && same(l.v, e.v), `iteration ${iter}: held samples`);
    }
  }
});

test('queries over lazily decoded selections answer exactly as over eagerly decoded ones', async () => {
  const { set, rows } = randomSet(5, 120);
  // Serves `rows` through the packed set: lazily when the engine hints so (`lazy`), else eagerly.
  const querier = (lazy: boolean): Querier & { lazySelects: number } => {
    const q = {
      lazySelects: 0,
      select(matchers: Parameters<Querier['select']>[0], mint: number, maxt: number, hints?: SelectHints): Promise<SeriesData[]> {
        if (hints?.lazy === true && lazy) q.lazySelects++;
        const b = new SeriesSetBuilder({ external: [] });
        for (const r of rows) {
          if (!matchers.every((m) => matcherTest(m)(r.labels.find(([nm]) => nm === m.name)?.[1] ?? ''))) continue;
          const e = b.add(r.labels);
          for (let c = 0; c < r.t.length; c += 120) {
            const data = chunk(r.t.slice(c, c + 120).map((t, k) => [t, r.v[c + k]!]));
            b.chunk(e, data, 0, data.length, r.t[c]!, r.t[Math.min(r.t.length, c + 120) - 1]!);
          }
        }
        return Promise.resolve(decodeSelection(b.build(), mint, maxt, lazy ? hints : { ...hints, lazy: false }));
      },
    };
    return q;
  };
  void set;
  const engine = new Engine({ lookbackDelta: 300_000, maxSamples: 50_000_000, timeoutMs: 30_000 });
  const queries = [
    'rate(x[5m])', 'sum by (job) (rate(x[5m]))', 'max by (job) (increase(x[10m]))', 'count(count_over_time(x[2m]))',
    'rate(x[5m]) / on(i) group_left increase(y[5m] offset 1m)', 'max_over_time(rate(x[5m])[30m:1m])',
    'absent_over_time(nope[5m])', 'absent_over_time(x[1m])', 'deriv(x[15m]) + predict_linear(x[15m], 60)',
    'x', 'x[5m]', 'timestamp(x)', 'last_over_time(x[10m] @ 3000)', 'resets(x[1h]) - changes(y[1h])',
    'quantile_over_time(0.9, x[20m])', 'sum(rate({__name__=~"x|y"}[5m]))', 'topk(3, rate(x[5m]))',
  ];
  const lazyQ = querier(true);
  const eagerQ = querier(false);
  const start = 60 * 15_000;
  const end = 400 * 15_000;
  for (const text of queries) {
    for (const [s, e, step] of [[start, end, 60_000], [end - 7_000, end - 7_000, 0]] as const) {
      let want: unknown;
      let got: unknown;
      try { want = await engine.exec(eagerQ, text, s, e, step); } catch (err) { want = String(err); }
      try { got = await engine.exec(lazyQ, text, s, e, step); } catch (err) { got = String(err); }
      assert.deepEqual(got, want, `${text} (step ${step})`);
    }
  }
  assert.ok(lazyQ.lazySelects > 0, 'the engine asked for lazy selections');
});
