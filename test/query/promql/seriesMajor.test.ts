/**
 * Streamed aggregation (src/query/promql/seriesMajor.ts streamAggregate): an aggregation of a range
 * function of a selector folds each result series as it is produced. Its answers must be bit for
 * bit those of evaluating the range function whole first — forced here by `+ 0` between the two,
 * which streamAggregate does not look through and which leaves every value as it is — and the
 * sample limit must trip at the same place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../../src/query/promql/engine.js';
import { fakeQuerier, type FakeSeries } from './fakeQuerier.js';
import { mulberry32 } from '../../helpers/prng.js';

const T0 = 1_700_000_000_000;

function data(): FakeSeries[] {
  const rnd = mulberry32(23);
  const series: FakeSeries[] = [];
  for (const name of ['x', 'y']) {
    for (let i = 0; i < 150; i++) {
      const n = 40 + Math.floor(rnd() * 80);
      const t = new Float64Array(n);
      const v = new Float64Array(n);
      let c = rnd() * 1e6;
      const start = T0 + Math.floor(rnd() * 900_000);
      for (let k = 0; k < n; k++) {
        t[k] = start + k * 15_000 + Math.floor(rnd() * 2000);
        // Counters with resets, the odd NaN and Inf, and values far apart in magnitude (Kahan sums).
        c = rnd() < 0.03 ? rnd() * 10 : c + rnd() * (i % 7 === 0 ? 1e12 : 5);
        v[k] = rnd() < 0.01 ? NaN : rnd() < 0.005 ? Infinity : c;
      }
      series.push({ labels: [['__name__', name], ['c', `c${i % 4}`], ['job', `j${i % 3}`], ['pod', `p${i}`]], t, v });
    }
  }
  return series;
}

test('streamed aggregations answer exactly as aggregating the evaluated range function', async () => {
  const q = fakeQuerier(data());
  const engine = new Engine({ lookbackDelta: 300_000, maxSamples: 50_000_000, timeoutMs: 30_000 });
  const queries = [
    'sum by (c) (rate(x[5m]))', 'sum(increase(x[2m]))', 'count by (job) (rate(x[1m]))', 'group by (c, job) (changes(x[5m]))',
    'min by (c) (max_over_time(x[3m]))', 'max without (pod) (deriv(x[4m]))', 'sum without (pod, job) (resets(x[10m]))',
    'sum by (c) (rate({__name__=~"x|y"}[5m]))', 'sum by (c) (last_over_time(x[5m]))',
    'sum by (c) (quantile_over_time(0.5, x[5m]))', 'sum by (c) (rate(x[5m] offset 1m))', 'max(sum_over_time(x[5m] @ 1700000600))',
    'count(holt_winters(x[5m], 0.5, 0.5))',
  ];
  const ranges = [[T0 + 1_200_007, T0 + 1_200_007, 0], [T0 + 300_000, T0 + 1_800_000, 30_000], [T0, T0 + 2_400_000, 7_000]] as const;
  for (const text of queries) {
    const whole = text.replace(/\((\w+)\((.*)\)\)$/, '($1($2) + 0)');
    assert.notEqual(whole, text, text);
    for (const [start, end, step] of ranges) {
      let want: unknown, got: unknown;
      try { want = await engine.exec(q, whole, start, end, step); } catch (e) { want = String(e); }
      try { got = await engine.exec(q, text, start, end, step); } catch (e) { got = String(e); }
      assert.deepEqual(got, want, `${text} (step ${step})`);
    }
  }
});

test('the sample limit trips for a streamed aggregation as it does for the whole range function', async () => {
  const q = fakeQuerier(data());
  let checked = 0;
  for (const maxSamples of [500, 5_000, 20_000, 60_000, 200_000]) {
    const engine = new Engine({ lookbackDelta: 300_000, maxSamples, timeoutMs: 30_000 });
    for (const [text, whole] of [['sum by (c) (rate(x[5m]))', 'sum by (c) (rate(x[5m]) + 0)'], ['max(max_over_time(x[5m]))', 'max(max_over_time(x[5m]) + 0)']] as const) {
      const run = async (t: string) => {
        try { await engine.exec(q, t, T0 + 300_000, T0 + 1_800_000, 15_000); return 'ok'; } catch (e) { return String(e); }
      };
      const [got, want] = [await run(text), await run(whole)];
      // `+ 0` holds its input and its output at once: it may trip where the stream does not, never the reverse.
      if (want === 'ok') assert.equal(got, 'ok', `${text} with ${maxSamples}`);
      if (got !== 'ok') {
        assert.match(got, /too many samples/, `${text} with ${maxSamples}`);
        assert.notEqual(want, 'ok');
        checked++;
      }
    }
  }
  assert.ok(checked > 0, 'some limit was low enough to trip');
});
