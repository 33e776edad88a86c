import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import type { Labels } from '../../../src/model/labels.js';
import type { Matcher } from '../../../src/model/matchers.js';
import { Engine } from '../../../src/query/promql/engine.js';
import { matcherTest } from '../../../src/query/promql/info.js';
import type { Querier, SeriesData } from '../../../src/query/promql/storage.js';
import { formatFloat, formatGoG } from '../../../src/query/promql/value.js';

/** staleNaN is Prometheus' stale marker, written bit by bit into a typed array. */
function withStale(values: (number | 'stale')[]): Float64Array {
  const out = new Float64Array(values.length);
  const words = new Uint32Array(out.buffer);
  values.forEach((v, i) => {
    if (v === 'stale') {
      words[2 * i] = 2;
      words[2 * i + 1] = 0x7ff00000;
    } else {
      out[i] = v;
    }
  });
  return out;
}

interface Fake {
  labels: Labels;
  t: number[];
  v: (number | 'stale')[];
}

/** fakeQuerier serves fixed series and records every select. */
function fakeQuerier(series: Fake[]): Querier & { calls: { matchers: Matcher[]; mint: number; maxt: number }[] } {
  const calls: { matchers: Matcher[]; mint: number; maxt: number }[] = [];
  return {
    calls,
    select(matchers, mint, maxt): Promise<SeriesData[]> {
      calls.push({ matchers, mint, maxt });
      const out: SeriesData[] = [];
      for (const s of series) {
        if (!matchers.every((m) => matcherTest(m)(s.labels.find(([n]) => n === m.name)?.[1] ?? ''))) continue;
        const idx = s.t.map((t, i) => [t, i] as const).filter(([t]) => t >= mint && t <= maxt).map(([, i]) => i);
        if (idx.length === 0) continue;
        out.push({ labels: s.labels, t: Float64Array.from(idx.map((i) => s.t[i]!)), v: withStale(idx.map((i) => s.v[i]!)) });
      }
      return Promise.resolve(out);
    },
  };
}

const minute = 60_000;
const counter: Fake = {
  labels: [['__name__', 'http_requests_total'], ['job', 'api']],
  t: Array.from({ length: 11 }, (_, i) => i * minute),
  v: Array.from({ length: 11 }, (_, i) => i * 60),
};
const gauge: Fake = {
  labels: [['__name__', 'temp'], ['room', 'a']],
  t: [0, minute, 2 * minute, 3 * minute],
  v: [20, 21, 'stale', 23],
};

test('instant and range results have the HTTP API shape', async () => {
  const e = new Engine();
  const q = fakeQuerier([counter, gauge]);
  const v = await e.instantQuery(q, 'rate(http_requests_total[5m])', 10 * minute);
  assert.equal(v.resultType, 'vector');
  assert.deepEqual(v.result, [{ metric: { job: 'api' }, value: [600, '1'] }]);
  assert.deepEqual(v.warnings, []);
  const m = await e.rangeQuery(q, 'temp', 0, 3 * minute, minute);
  assert.equal(m.resultType, 'matrix');
  // The stale marker at 2m hides the series at that step.
  assert.deepEqual(m.result, [{ metric: { __name__: 'temp', room: 'a' }, values: [[0, '20'], [60, '21'], [180, '23']] }]);
  const s = await e.instantQuery(q, '1 / 0', 0);
  assert.deepEqual(s, { resultType: 'scalar', result: [0, '+Inf'], warnings: [], infos: [] });
  const str = await e.instantQuery(q, '"hello"', 1500);
  assert.deepEqual(str.result, [1.5, 'hello']);
});

test('sample values are formatted as Prometheus formats them', () => {
  assert.equal(formatFloat(Infinity), '+Inf');
  assert.equal(formatFloat(-Infinity), '-Inf');
  assert.equal(formatFloat(NaN), 'NaN');
  assert.equal(formatFloat(-0), '-0');
  assert.equal(formatFloat(0.000001), '0.000001');
  assert.equal(formatFloat(1e-7), '1e-07');
  assert.equal(formatFloat(123456789012345680000), '123456789012345680000');
  assert.equal(formatFloat(1e21), '1e+21');
  assert.equal(formatFloat(0.1 + 0.2), '0.30000000000000004');
  assert.equal(formatGoG(1.1), '1.1');
  assert.equal(formatGoG(1e6), '1e+06');
});

test('selects cover exactly the range the expression needs', async () => {
  const e = new Engine();
  const t = 30 * minute;
  const cases: [string, number, number][] = [
    ['foo', t - 5 * minute + 1, t],
    ['rate(foo[1m] offset 1m)', t - 2 * minute + 1, t - minute],
    ['foo @ 100', 100_000 - 5 * minute + 1, 100_000],
    ['max_over_time(foo[10m:1m])', t - 15 * minute + 1, t],
    ['max_over_time(foo[10m:1m] offset 5m)', t - 20 * minute + 1, t - 5 * minute],
    ['increase(foo[1m] anchored)', t - 6 * minute + 1, t],
    ['increase(foo[1m] smoothed)', t - 6 * minute + 1, t + 5 * minute],
  ];
  for (const [expr, mint, maxt] of cases) {
    const q = fakeQuerier([]);
    await e.instantQuery(q, expr, t);
    assert.deepEqual(q.calls.map((c) => [c.mint, c.maxt]), [[mint, maxt]], expr);
  }
  const q = fakeQuerier([]);
  await e.rangeQuery(q, 'foo', t, t + 10 * minute, minute);
  assert.deepEqual(q.calls.map((c) => [c.mint, c.maxt]), [[t - 5 * minute + 1, t + 10 * minute]]);
});

test('limits: too many samples, timeout, bad range queries', async () => {
  const q = fakeQuerier([counter]);
  await assert.rejects(
    new Engine({ maxSamples: 5 }).rangeQuery(q, 'http_requests_total', 0, 10 * minute, minute),
    { message: 'query processing would load too many samples into memory in query execution' },
  );
  await assert.rejects(new Engine({ timeoutMs: -1 }).instantQuery(q, 'http_requests_total', 0), { message: 'query timed out in expression evaluation' });
  await assert.rejects(
    new Engine().rangeQuery(q, 'http_requests_total[5m]', 0, minute, minute),
    { message: 'invalid expression type "range vector" for range query, must be Scalar or instant Vector' },
  );
  await assert.rejects(new Engine().rangeQuery(q, 'foo', 0, minute, 0), /zero or negative query resolution step/);
});

test('timeout and cancel stop a query inside one long series, not only between series', async () => {
  const q = fakeQuerier([]);
  // One series, a day of one-second windows a day long: ~20 s of additions when not stopped.
  const heavy = 'sum_over_time((sum_over_time(vector(1)[1d:1s]))[1d:1s])';
  let began = performance.now();
  await assert.rejects(new Engine({ timeoutMs: 300 }).instantQuery(q, heavy, 1e9), { message: 'query timed out in expression evaluation' });
  assert.ok(performance.now() - began < 5000, `stopped ${(performance.now() - began).toFixed(0)} ms in`);
  // The cancel flag, set by another thread (as the main thread does when the query's client
  // leaves) while this one is evaluating.
  const cancel = new Int32Array(new SharedArrayBuffer(4));
  const setter = new Worker('const { workerData: f } = require("node:worker_threads"); setTimeout(() => Atomics.store(f, 0, 1), 300);', { eval: true, workerData: cancel });
  began = performance.now();
  const run = new Engine({ cancel }).instantQuery(q, heavy, 1e9);
  await assert.rejects(run, { message: 'query was canceled in expression evaluation' });
  assert.ok(performance.now() - began < 5000, `stopped ${(performance.now() - began).toFixed(0)} ms in`);
  await setter.terminate();
});

test('annotations: possible non-counter, sort in range queries', async () => {
  const e = new Engine();
  const q = fakeQuerier([counter, gauge]);
  const r = await e.instantQuery(q, 'rate(temp[5m])', 3 * minute);
  assert.deepEqual(r.infos, ['PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "temp"']);
  const s = await e.rangeQuery(q, 'sort(temp)', 0, minute, minute);
  assert.deepEqual(s.warnings, ['PromQL warning: sort is ineffective for range queries since results are always ordered by labels']);
});

test('name removal: immediate by default, delayed on request', async () => {
  const a: Fake = { labels: [['__name__', 'a_total'], ['env', '1']], t: [0, minute], v: [0, 60] };
  const b: Fake = { labels: [['__name__', 'b_total'], ['env', '1']], t: [0, minute], v: [0, 120] };
  const q = fakeQuerier([a, b]);
  // Stock Prometheus 3.x drops the names at rate(), which leaves two series with one label set.
  await assert.rejects(new Engine().instantQuery(q, 'rate({env="1"}[5m])', minute), { message: 'vector cannot contain metrics with the same labelset' });
  const delayed = await new Engine({ delayedNameRemoval: true }).instantQuery(q, 'sum by (env) (rate({env="1"}[5m]))', minute);
  const [row] = delayed.result as { metric: Record<string, string>; value: [number, string] }[];
  assert.deepEqual(row!.metric, { env: '1' });
  assert.ok(Math.abs(Number(row!.value[1]) - 0.6) < 1e-9);
  await assert.rejects(
    new Engine({ delayedNameRemoval: true }).instantQuery(q, 'sum by (__name__) (rate({env="1"}[5m]))', minute),
    { message: 'vector cannot contain metrics with the same labelset' },
  );
  const kept = await new Engine({ delayedNameRemoval: true }).instantQuery(q, 'label_replace(rate(a_total[5m]), "was", "$1", "__name__", "(.+)")', minute);
  assert.deepEqual(kept.result, [{ metric: { env: '1', was: 'a_total' }, value: [60, '0.2'] }]);
});

test('@ start() and end() resolve against the query range', async () => {
  const q = fakeQuerier([counter]);
  const r = await new Engine().rangeQuery(q, 'http_requests_total @ end() - http_requests_total @ start()', 2 * minute, 5 * minute, minute);
  assert.deepEqual(r.result, [{ metric: { job: 'api' }, values: [[120, '180'], [180, '180'], [240, '180'], [300, '180']] }]);
});

test('RE2 matchers reach the querier unchanged and match as Prometheus matches', async () => {
  const q = fakeQuerier([counter]);
  const r = await new Engine().instantQuery(q, 'http_requests_total{job=~"(?i:API)"}', 10 * minute);
  assert.equal((r.result as unknown[]).length, 1);
  assert.equal(q.calls[0]!.matchers[0]!.value, '(?i:API)');
});
