/**
 * Label projection (src/query/promql/projection.ts): which selectors may get only some labels,
 * and that a query gives exactly the same answer whether storage honours the hint or not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../../src/query/promql/engine.js';
import { inspect, type VectorSelector } from '../../../src/query/promql/ast.js';
import { parseExpr } from '../../../src/query/promql/parse.js';
import { labelProjection } from '../../../src/query/promql/projection.js';
import { fakeQuerier, type FakeSeries } from './fakeQuerier.js';
import { mulberry32 } from '../../helpers/prng.js';

const META = ['__name__', '__type__', '__unit__'];

/** projected returns selector text → projected labels for every selector of `q`. */
function projected(q: string): Record<string, string[] | 'all'> {
  const e = parseExpr(q);
  const p = labelProjection(e);
  const out: Record<string, string[] | 'all'> = {};
  inspect(e, (n) => {
    if (n.type === 'VectorSelector') out[(n as VectorSelector).name ?? JSON.stringify(n.matchers.map((m) => m.value))] = p.get(n) ?? 'all';
  });
  return out;
}

test('only selectors under a `by` aggregation, through range functions, with a name, are projected', () => {
  const by = (...l: string[]): string[] => [...new Set([...l, ...META])].sort();
  assert.deepEqual(projected('sum by (cluster) (rate(x[5m]))'), { x: by('cluster') });
  assert.deepEqual(projected('count by (a, b) (x)'), { x: by('a', 'b') });
  assert.deepEqual(projected('quantile by (c) (0.9, max_over_time(x[5m]))'), { x: by('c') });
  assert.deepEqual(projected('count_values by (c) ("v", x)'), { x: by('c') });
  assert.deepEqual(projected('sum by (c) ((increase(x[5m])))'), { x: by('c') });
  assert.deepEqual(projected('max(sum by (c) (rate(x[5m])))'), { x: by('c') });
  // Everything is needed:
  assert.deepEqual(projected('rate(x[5m])'), { x: 'all' });
  assert.deepEqual(projected('sum without (pod) (rate(x[5m]))'), { x: 'all' });
  assert.deepEqual(projected('topk by (c) (3, rate(x[5m]))'), { x: 'all' });
  assert.deepEqual(projected('sum by (c) (rate(x[5m]) * 2)'), { x: 'all' });
  assert.deepEqual(projected('sum by (c) (-rate(x[5m]))'), { x: 'all' });
  assert.deepEqual(projected('sum by (c) (abs(x))'), { x: 'all' });
  assert.deepEqual(projected('sum by (c) (rate(x[5m:1m]))'), { x: 'all' });
  assert.deepEqual(projected('sum by (c) (label_replace(x, "d", "$1", "c", "(.*)"))'), { x: 'all' });
  assert.deepEqual(projected('sum by (c) (x / on (c, pod) y)'), { x: 'all', y: 'all' });
  assert.deepEqual(projected('sum by (c) (rate({__name__=~"x|y"}[5m]))'), { '["x|y"]': 'all' });
});

test('answers are identical whether storage honours the projection or not', async () => {
  const rnd = mulberry32(11);
  const series: FakeSeries[] = [];
  const T0 = 1_700_000_000_000;
  for (const name of ['x', 'y']) {
    for (let i = 0; i < 120; i++) {
      const n = 60 + Math.floor(rnd() * 60);
      const t = new Float64Array(n);
      const v = new Float64Array(n);
      let c = Math.floor(rnd() * 100);
      const start = T0 + Math.floor(rnd() * 600_000);
      for (let k = 0; k < n; k++) {
        t[k] = start + k * 15_000 + Math.floor(rnd() * 1000);
        c = rnd() < 0.03 ? rnd() * 10 : c + rnd() * 5;
        v[k] = c;
      }
      series.push({ labels: [['__name__', name], ['c', `c${i % 4}`], ['job', `j${i % 3}`], ['pod', `p${i}`]], t, v });
    }
  }
  const queries = [
    'sum by (c) (rate(x[5m]))', 'avg by (c, job) (increase(x[2m]))', 'count by (job) (x)', 'max by (c) (max_over_time(x[3m]))',
    'quantile by (c) (0.5, rate(x[5m]))', 'count_values by (c) ("v", changes(x[5m]))', 'group by (job) (resets(x[10m]))',
    'stddev by (c) (deriv(x[4m]))', 'sum by (c) (rate(x[5m]) * 2)', 'sum by (c) (-rate(x[5m]))', 'sum by (c) (abs(x))',
    'sum by (c) (rate(x[5m:1m]))', 'sum by (pod) (rate(x[5m]))', 'sum by (c) (rate({__name__=~"x|y"}[5m]))',
    'sum by (c) (rate(x[5m])) / on (c) sum by (c) (rate(y[5m]))', 'topk by (c) (2, rate(x[5m]))',
  ];
  const engine = new Engine({ lookbackDelta: 300_000, maxSamples: 50_000_000, timeoutMs: 30_000 });
  const honouring = fakeQuerier(series, true);
  for (const q of queries) {
    for (const [start, end, step] of [[T0 + 1_200_007, T0 + 1_200_007, 0], [T0 + 300_000, T0 + 1_500_000, 30_000]] as const) {
      let want: unknown, got: unknown;
      try { want = await engine.exec(fakeQuerier(series, false), q, start, end, step); } catch (e) { want = String(e); }
      try { got = await engine.exec(honouring, q, start, end, step); } catch (e) { got = String(e); }
      assert.deepEqual(got, want, `${q} (step ${step})`);
    }
  }
  // The hint was used where it applies (so the comparison above covers projected selects).
  assert.ok(honouring.projectedSelects >= 16, `projected selects: ${honouring.projectedSelects}`);
});
