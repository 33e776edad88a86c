/**
 * The PromQL differential battery: a seeded dataset (an hour of 15 s samples over 70
 * series) and the queries run over it against Sluice and a real Prometheus 2.42. Pure data: no
 * I/O, no clock, no Math.random; the same seed gives the same samples and queries everywhere.
 *
 * Timing design. Prometheus 2.x closes range windows and the lookback window on the left
 * ([t-r, t]); 3.x, which Sluice follows, leaves them open ((t-r, t]). The two agree as long as no
 * sample sits on a window's left edge, so:
 *  - every sample timestamp is T0 + 7 ms + i·15 s + jitter with jitter in [0, 300] ms, i.e. its
 *    millisecond-of-second is in [7, 307];
 *  - every evaluation time (instant times, range start, `@` times) has millisecond-of-second 500,
 *    and every range, offset, step and subquery step in the battery is a whole number of seconds,
 *    so every window edge also falls on ms 500;
 *  - subquery steps are whole seconds, so the subquery's inner points (multiples of the step since
 *    the epoch) sit on ms 0, never on an edge at ms 500;
 *  - a subquery nested in another subquery is evaluated at the outer one's points (on the outer
 *    step's grid), so its range is chosen off its own step's grid (`[5m30s:1m]` inside `[..:2m]`),
 *    or its window edges would fall on its own points.
 *
 * Counters start far from zero, as a slice of a long-running process would. Prometheus 2.51
 * (PR #13725) changed the order of the two limits on rate/increase extrapolation for a series
 * that starts inside the window (half a sample interval, then the counter's zero point); with a
 * counter near zero at its first sample 2.42 and 3.x differ for that reason alone.
 *
 * Tenant label. Sluice, like Thanos Receive, adds `tenant_id` to every series it returns (the
 * comparison removes it from Sluice's answers). Where one side of a binary operation aggregates
 * it away (`sum by (...)`), the battery matches with `on(...)`, never `ignoring(...)`: with
 * `ignoring` the sides would not match in Sluice, as in Thanos, for a reason that is not PromQL.
 */
import { Rng } from '../../helpers/prng.js';

const H = 3_600_000;
/** T0 is the start of the data: a 2h block boundary, so the hour of data lies in one block range. */
export const T0 = Math.floor(1_700_000_000_000 / (2 * H)) * 2 * H;
/** SCRAPE is the sample interval. */
export const SCRAPE = 15_000;
/** STEPS is the number of sample slots per series (one hour). */
export const STEPS = 240;
/** DATA_SEED drives the dataset. */
export const DATA_SEED = 42;

/**
 * STALE marks a slot whose sample is Prometheus' stale marker (NaN with the bits
 * 0x7ff0000000000002). The marker is only ever held in a Float64Array: V8 sets the quiet bit of
 * a NaN stored in a plain array of numbers, which would turn it into an ordinary NaN.
 */
const STALE = 'stale';

/** DataSeries is one series of the dataset: labels (with __name__) and samples in time order. */
export interface DataSeries {
  labels: Record<string, string>;
  t: number[];
  /** v: values; a Float64Array so that stale markers keep their bits. */
  v: Float64Array;
}

/** sampleTime is the timestamp of slot i with a jitter in [0, 300] ms (never on ms 500). */
function sampleTime(i: number, jitter: number): number {
  return T0 + 7 + i * SCRAPE + jitter;
}

const INSTANCES = ['10.0.0.1:80', '10.0.0.2:80'] as const;
const CLUSTER_OF: Record<string, string> = { '10.0.0.1:80': 'eu', '10.0.0.2:80': 'us' };
const LE = ['0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'] as const;
const UPPER = LE.map((le) => (le === '+Inf' ? Infinity : Number(le)));

/**
 * buildDataset returns the dataset for `seed`: counters with resets, gauges that go negative,
 * integer gauges, 0/1 gauges, constant info series, classic histograms (one resets), and
 * counters that stop, start late, have a gap longer than the lookback, or end with a stale marker.
 */
export function buildDataset(seed: number = DATA_SEED): DataSeries[] {
  const rng = new Rng(seed);
  const out: DataSeries[] = [];
  const add = (labels: Record<string, string>, slots: (i: number) => number | typeof STALE | undefined, jitterOf?: (i: number) => number): void => {
    const t: number[] = [];
    const v = new Float64Array(STEPS);
    const bits = new Uint32Array(v.buffer);
    for (let i = 0; i < STEPS; i++) {
      const jitter = jitterOf ? jitterOf(i) : rng.int(0, 300);
      const x = slots(i);
      if (x === undefined) continue;
      if (x === STALE) { bits[2 * t.length] = 2; bits[2 * t.length + 1] = 0x7ff00000; } else v[t.length] = x;
      t.push(sampleTime(i, jitter));
    }
    out.push({ labels, t, v: v.slice(0, t.length) });
  };

  // http_requests_total: 16 counters with occasional resets.
  for (const job of ['api', 'web']) {
    for (const instance of INSTANCES) {
      for (const method of ['GET', 'POST']) {
        for (const code of ['200', '500']) {
          const perSec = (code === '500' ? 0.2 : 3) * (0.5 + rng.next() * 2);
          let v = 1000 + rng.next() * 1000;
          add({ __name__: 'http_requests_total', job, instance, cluster: CLUSTER_OF[instance]!, method, code }, () => {
            if (rng.chance(0.012)) v = rng.next() * 5;
            else v += perSec * 15 * (0.5 + rng.next());
            return v;
          });
        }
      }
    }
  }

  // node_temperature_celsius: 6 gauges around 5 °C swinging ±20 (negative at times).
  for (let n = 1; n <= 6; n++) {
    const period = 40 + rng.int(0, 120);
    const phase = rng.next() * 2 * Math.PI;
    add({ __name__: 'node_temperature_celsius', instance: `node-${n}`, cluster: n % 2 === 0 ? 'us' : 'eu', zone: n <= 3 ? 'a' : 'b' },
      (i) => 5 + 20 * Math.sin(phase + (2 * Math.PI * i) / period) + (rng.next() - 0.5) * 3);
  }

  // queue_depth: 4 integer random walks in [0, 50].
  for (let n = 1; n <= 4; n++) {
    let v = rng.int(0, 50);
    add({ __name__: 'queue_depth', job: 'worker', instance: `w${n}`, cluster: n <= 2 ? 'eu' : 'us' }, () => {
      v = Math.min(50, Math.max(0, v + rng.int(-4, 4)));
      return v;
    });
  }

  // service_up (0/1 with stretches of 0) and service_info (constant 1, extra labels to copy).
  for (const job of ['api', 'web']) {
    for (const instance of INSTANCES) {
      let up = 1;
      add({ __name__: 'service_up', job, instance, cluster: CLUSTER_OF[instance]! }, () => {
        if (rng.chance(0.03)) up = 1 - up;
        return up;
      });
      add({ __name__: 'service_info', job, instance, cluster: CLUSTER_OF[instance]!, owner: `team-${job}`, version: instance.startsWith('10.0.0.1') ? '1.2.3' : '1.3.0' }, () => 1);
    }
  }

  // build_info: constant series whose label values hold non-ASCII text (one astral character),
  // for regex matchers that must work on code points, not UTF-16 units.
  for (const [k, owner] of ['équipe-zürich', 'team-🚀', 'команда'].entries()) {
    add({ __name__: 'build_info', job: 'build', instance: `u${k}`, owner }, () => 1);
  }

  // process_resident_memory_bytes: 2 large integer random walks.
  for (const instance of INSTANCES) {
    let v = 2e8 + rng.int(0, 5e7);
    add({ __name__: 'process_resident_memory_bytes', job: 'api', instance }, () => {
      v += rng.int(-1_000_000, 1_200_000);
      return v;
    });
  }

  // request_duration_seconds: 3 classic histograms (7 buckets, _sum, _count) sharing a timestamp
  // per scrape, so that every bucket of one histogram is rated over the same window.
  const histos = [['api', INSTANCES[0]], ['api', INSTANCES[1]], ['web', INSTANCES[0]]] as const;
  histos.forEach(([job, instance], h) => {
    const jitter = Array.from({ length: STEPS }, () => rng.int(0, 300));
    const counts: number[][] = [];
    const sums: number[] = [];
    const cum = new Array<number>(LE.length).fill(0);
    let sum = 0;
    const observe = (n: number): void => {
      for (let k = 0; k < n; k++) {
        const x = -Math.log(1 - rng.next()) * (h === 2 ? 0.3 : 0.6);
        sum += x;
        for (let b = 0; b < LE.length; b++) if (x <= UPPER[b]!) cum[b]!++;
      }
    };
    observe(rng.int(2000, 4000)); // what the process counted before the data starts
    for (let i = 0; i < STEPS; i++) {
      if (h === 1 && i === 150) { cum.fill(0); sum = 0; }
      observe(rng.int(0, 25));
      counts.push(cum.slice());
      sums.push(sum);
    }
    const base = { job, instance, cluster: CLUSTER_OF[instance]! };
    LE.forEach((le, b) => add({ __name__: 'request_duration_seconds_bucket', ...base, le }, (i) => counts[i]![b]!, (i) => jitter[i]!));
    add({ __name__: 'request_duration_seconds_sum', ...base }, (i) => sums[i]!, (i) => jitter[i]!);
    add({ __name__: 'request_duration_seconds_count', ...base }, (i) => counts[i]![LE.length - 1]!, (i) => jitter[i]!);
  });

  // batch_jobs_processed_total: b1 stops at 35 min, b2 starts at 25 min, b3 has a 12 min gap,
  // b4 stops at 45 min with a stale marker.
  const present: ((i: number) => boolean)[] = [(i) => i < 140, (i) => i >= 100, (i) => i < 80 || i >= 128, (i) => i <= 180];
  present.forEach((isThere, b) => {
    let v = 1000 + rng.next() * 50;
    add({ __name__: 'batch_jobs_processed_total', job: 'batch', instance: `b${b + 1}`, cluster: b % 2 === 0 ? 'eu' : 'us' }, (i) => {
      if (!isThere(i)) return undefined;
      if (b === 3 && i === 180) return STALE;
      v += rng.int(0, 12);
      return v;
    });
  });
  return out;
}

/** sec is an absolute evaluation time `s` seconds after T0, as the API's seconds string. */
export function sec(s: number): string {
  return ((T0 + s * 1000) / 1000).toFixed(3);
}

/** INSTANT_TIMES: evaluation times of instant queries (s after T0, all on ms 500). */
export const INSTANT_TIMES: readonly number[] = [
  555.5, // 9m15s: early, windows reach before the data
  1561.5, // 26m: inside b3's gap, longer than the lookback
  2941.5, // 49m: after b1 stopped and b4 went stale
  3690.5, // 61m30s: after the last sample, still within the lookback
];

/** RANGE: the range query every range-capable query is also run as (s after T0, step in s). */
export const RANGE = { start: 240.5, end: 3960.5, step: 73 } as const;

/**
 * DiffQuery is one battery entry. topk/bottomk and sort entries must not meet ties (equal values,
 * or several NaN or ±Inf competing for a place): which tied series wins depends on the order the
 * storage hands series over, which neither version defines.
 */
export interface DiffQuery {
  /** q: the PromQL text. */
  q: string;
  /** instantOnly: the query returns a range vector, or order matters (sort), so no range query. */
  instantOnly?: boolean;
  /** ordered: compare instant results in order (sort, sort_desc). */
  ordered?: boolean;
}

/** inst: an entry run as instant queries only (its value is a range vector). */
const inst = (q: string): DiffQuery => ({ q, instantOnly: true });
/** sorted: an instant-only entry whose result order is compared too (sort, sort_desc). */
const sorted = (q: string): DiffQuery => ({ q, instantOnly: true, ordered: true });

const HTTP = 'http_requests_total';
const TEMP = 'node_temperature_celsius';
const QD = 'queue_depth';
const UP = 'service_up';
const INFO = 'service_info';
const MEM = 'process_resident_memory_bytes';
const BKT = 'request_duration_seconds_bucket';
const BATCH = 'batch_jobs_processed_total';

/** QUERIES is the battery (distinct texts); see the file comment for the timing rules. */
export const QUERIES: readonly DiffQuery[] = [
  // Selectors: every matcher type, offset, @, gaps and staleness.
  ...[
    HTTP, `${HTTP}{job="api"}`, `${HTTP}{job!="api"}`, `${HTTP}{code=~"5.."}`, `${HTTP}{code!~"2.*",method="GET"}`,
    `${HTTP}{instance=~".*\\\\.2:80",job="web"}`, `{__name__="${TEMP}"}`, `{__name__=~"${QD}|${UP}"}`,
    `{__name__=~"batch_.*",instance!="b1"}`, `${TEMP}{cluster="eu",zone!=""}`, `${QD}{nonexistent=""}`,
    `${TEMP}{zone=""}`, `${HTTP} offset 5m`, `${HTTP}{job="api"} offset 10m`, `${TEMP} offset -3m`,
    `${TEMP} @ ${sec(1800.5)}`, `${QD} @ start()`, `${QD} @ end()`, BATCH, `${BATCH} offset 7m`,
    `${TEMP} @ ${sec(1200.5)} offset 2m`, `${INFO}{version=~"1\\\\.2.*"}`, `${UP}{instance!~"10.0.0.1.*"}`,
    `${BKT}{le="+Inf"}`, `${MEM}`,
  ].map((q) => ({ q })),
  inst(`${QD}[1m]`), inst(`${BATCH}[3m] offset 1m`), inst(`${TEMP}{zone="a"}[90s] @ ${sec(1500.5)}`), inst(`${BATCH}{instance="b4"}[2m]`),

  // Counter and gauge range functions.
  ...[
    `rate(${HTTP}[1m])`, `rate(${HTTP}[5m])`, `rate(${HTTP}{code="500"}[10m])`, `irate(${HTTP}[2m])`,
    `increase(${HTTP}[15m])`, `increase(${BATCH}[5m])`, `rate(${BATCH}[10m])`, `delta(${TEMP}[10m])`,
    `delta(${QD}[3m])`, `idelta(${TEMP}[1m])`, `idelta(${QD}[5m])`, `deriv(${TEMP}[10m])`, `deriv(${MEM}[5m])`,
    `predict_linear(${TEMP}[10m], 600)`, `predict_linear(${MEM}[15m], 3600)`, `predict_linear(${QD}[5m], -120)`,
    `resets(${HTTP}[30m])`, `resets(request_duration_seconds_count[1h])`, `changes(${QD}[10m])`, `changes(${UP}[30m])`,
    `rate(${HTTP}[5m] offset 10m)`, `rate(${HTTP}[5m] @ ${sec(2400.5)})`, `irate(${BATCH}[1m])`,
    `increase(${BKT}{le="+Inf"}[10m])`, `rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])`,
    `deriv(${HTTP}{job="web"}[20m])`, `rate(${HTTP}[45s])`, `increase(${HTTP}{method="POST"}[1h])`,
  ].map((q) => ({ q })),

  // *_over_time.
  ...[
    `avg_over_time(${TEMP}[10m])`, `min_over_time(${TEMP}[5m])`, `max_over_time(${QD}[15m])`, `sum_over_time(${QD}[5m])`,
    `count_over_time(${BATCH}[10m])`, `count_over_time(${HTTP}[1m])`, `quantile_over_time(0.9, ${TEMP}[20m])`,
    `quantile_over_time(0.5, ${QD}[10m])`, `quantile_over_time(0, ${TEMP}[5m])`, `quantile_over_time(1.5, ${QD}[5m])`,
    `quantile_over_time(-0.5, ${TEMP}[5m])`, `stddev_over_time(${TEMP}[10m])`, `stdvar_over_time(${QD}[10m])`,
    `stddev_over_time(${MEM}[30m])`, `last_over_time(${BATCH}[10m])`, `last_over_time(${TEMP}[1m] offset 2m)`,
    `present_over_time(${BATCH}[5m])`, `present_over_time(${UP}{job="web"}[2m])`,
    `absent_over_time(${BATCH}{instance="b3"}[5m])`, `absent_over_time(nonexistent_metric[5m])`,
    `absent_over_time(${QD}{instance="w9"}[1m])`, `avg_over_time(${UP}[30m])`, `sum_over_time(${HTTP}{job="api"}[2m])`,
    `max_over_time(${BATCH}[20m])`, `min_over_time(${MEM}[10m] @ ${sec(3000.5)})`,
  ].map((q) => ({ q })),

  // Elementwise math and trigonometry.
  ...[
    `abs(${TEMP})`, `ceil(${TEMP})`, `floor(${TEMP})`, `round(${TEMP})`, `round(${TEMP}, 5)`, `round(${TEMP}, 0.1)`,
    `clamp(${TEMP}, -5, 10)`, `clamp(${QD}, 20, 10)`, `clamp_min(${TEMP}, 0)`, `clamp_max(${QD}, 25)`,
    `exp(${TEMP} / 10)`, `ln(${QD})`, `ln(${TEMP})`, `log2(${QD} + 1)`, `log10(${MEM})`, `sqrt(${QD})`, `sqrt(${TEMP})`,
    `sgn(${TEMP})`, `abs(delta(${QD}[5m]))`, `exp(-abs(${TEMP}))`, `-${TEMP}`, `+${QD}`, `sgn(${QD} - 25)`,
    `sin(${TEMP})`, `cos(${TEMP})`, `tan(${QD})`, `asin(${TEMP} / 40)`, `acos(${TEMP} / 40)`, `atan(${TEMP})`,
    `sinh(${TEMP} / 10)`, `cosh(${TEMP} / 10)`, `tanh(${TEMP})`, `asinh(${TEMP})`, `acosh(${QD} + 1)`,
    `atanh(${TEMP} / 40)`, `deg(${TEMP})`, `rad(${TEMP})`, `pi()`, `${TEMP} atan2 10`, `${TEMP} atan2 (${TEMP} offset 5m)`,
    `(${TEMP} atan2 10) * 1`, `(${TEMP} atan2 (${TEMP} offset 5m)) * 1`,
  ].map((q) => ({ q })),

  // Time functions.
  ...[
    'time()', `timestamp(${TEMP})`, `timestamp(${BATCH} offset 3m)`, 'minute()', 'hour()', 'day_of_week()',
    'day_of_month()', 'days_in_month()', 'month()', 'year()', `minute(timestamp(${QD}))`, 'hour(vector(1700000000))',
    `time() - timestamp(${BATCH})`, `day_of_week(vector(time() + 86400 * 3))`, `timestamp(${UP} @ ${sec(900.5)})`,
  ].map((q) => ({ q })),

  // Label manipulation.
  ...[
    `label_replace(${HTTP}, "host", "$1", "instance", "(.*):.*")`, `label_replace(${TEMP}, "zone", "z-$1", "zone", "(.)")`,
    `label_replace(${UP}, "new", "x", "nonexistent", "")`, `label_replace(${UP}, "new", "x", "job", "nomatch")`,
    `label_join(${HTTP}{job="api"}, "key", "/", "method", "code")`, `label_join(${QD}, "joined", "-", "cluster", "instance", "job")`,
    `label_join(${TEMP}, "zone", ",")`,
    `sum by (host) (label_replace(rate(${HTTP}[5m]), "host", "$1", "instance", "([^:]+):.*"))`,
  ].map((q) => ({ q })),

  // Classic histograms.
  ...[
    `histogram_quantile(0.9, rate(${BKT}[5m]))`, `histogram_quantile(0.5, sum by (le) (rate(${BKT}[10m])))`,
    `histogram_quantile(0.99, sum by (le, job) (increase(${BKT}[15m])))`, `histogram_quantile(0.25, ${BKT})`,
    `histogram_quantile(0, rate(${BKT}[5m]))`, `histogram_quantile(1, rate(${BKT}[5m]))`,
    `histogram_quantile(1.5, rate(${BKT}[5m]))`, `histogram_quantile(-0.1, rate(${BKT}[5m]))`,
    `histogram_quantile(0.75, sum without (instance, cluster) (rate(${BKT}[5m])))`,
    `histogram_quantile(0.9, rate(${BKT}{le!="0.05"}[5m]))`, `histogram_quantile(0.5, rate(${BKT}{le!="+Inf"}[5m]))`,
    `histogram_quantile(0.95, sum by (le) (rate(${BKT}[1m])))`,
  ].map((q) => ({ q })),

  // Aggregations.
  ...[
    `sum(${HTTP})`, `sum by (job) (rate(${HTTP}[5m]))`, `sum without (instance) (rate(${HTTP}[5m]))`,
    `avg by (cluster) (${TEMP})`, `avg(${TEMP})`, `min by (job) (${HTTP})`, `max without (code, method) (${HTTP})`,
    `count(${HTTP})`, `count by (code) (${HTTP})`, `count without () (${QD})`, `group by (job) (${HTTP})`, `group(${TEMP})`,
    `stddev(${TEMP})`, `stddev by (cluster) (${TEMP})`, `stdvar without (zone, instance) (${TEMP})`, `stdvar(${QD})`,
    `topk(3, ${TEMP})`, `topk by (job) (2, rate(${HTTP}[5m]))`, `bottomk(2, ${TEMP})`, `bottomk without (method) (1, ${HTTP})`,
    `topk(0, ${TEMP})`, `topk(100, ${TEMP})`, `quantile(0.5, ${TEMP})`, `quantile by (job) (0.9, rate(${HTTP}[5m]))`,
    `quantile(0, ${QD})`, `quantile(1.1, ${QD})`, `quantile(-1, ${TEMP})`, `quantile(0.33, ${HTTP})`,
    `count_values("value", ${QD})`, `count_values by (cluster) ("v", ${QD})`, `count_values("q", round(${TEMP}))`,
    `count_values("up", ${UP})`, `sum by (__name__) ({__name__=~"${QD}|${UP}"})`, `sum by (job, cluster) (${UP})`,
    `max by (le) (${BKT})`, `sum(${BATCH})`, `avg without (le) (${BKT})`, `count(nonexistent_metric)`,
    `sum(nonexistent_metric)`, `sum(vector(1))`, `topk(scalar(min(${QD})) % 3 + 1, ${TEMP})`, `min(${MEM})`,
    `max by (cluster, zone) (${TEMP})`, `avg by (instance) (rate(${HTTP}[10m]))`, `sum without (job, instance, cluster, method, code) (${HTTP})`,
    `count by (cluster) (${BATCH})`, `bottomk(2, rate(${HTTP}[5m]))`,
  ].map((q) => ({ q })),

  // Binary operators: arithmetic, comparison (filter and bool), matching, set operators.
  ...[
    `${HTTP} * 2`, `2 * ${HTTP}`, `${TEMP} + 273.15`, `${TEMP} - 10`, `${QD} / 3`, `${QD} % 7`, `${TEMP} % 3`,
    `${QD} ^ 2`, `${TEMP} ^ 0.5`, `${QD} / 0`, `-${QD} / 0`, `${TEMP} > 10`, `${TEMP} >= 0`, `${QD} < 20`, `${QD} <= 20`,
    `${QD} == 17`, `${UP} != 1`, `${TEMP} > bool 10`, `${QD} == bool 0`, `10 < bool ${TEMP}`, `1 > bool 2`,
    `rate(${HTTP}{code="500"}[5m]) / ignoring(code) rate(${HTTP}{code="200"}[5m])`,
    `sum by (job) (rate(${HTTP}{code="500"}[5m])) / sum by (job) (rate(${HTTP}[5m]))`,
    `${HTTP} - ${HTTP} offset 5m`, `rate(${HTTP}[5m]) * on(job, instance) group_left ${UP}`,
    `${UP} * on(job, instance) group_right sum by (job, instance, method) (rate(${HTTP}[5m]))`,
    `sum by (job, instance, method) (rate(${HTTP}[5m])) * on(job, instance) group_left(owner, version) ${INFO}`,
    `${INFO} * on(job, instance) group_right(owner) ${HTTP}`, `${HTTP}{job="api"} and ${HTTP}{code="200"}`,
    `${QD} or ${TEMP}`, `${TEMP} > 5 or ${TEMP} < -5`, `${QD} unless ${QD} > 30`, `${HTTP} unless on(job, instance) ${UP} == 0`,
    `sum(rate(${BATCH}[5m])) or vector(0)`, `${UP} and on(job, instance) (${UP} == 1)`,
    `rate(${HTTP}[5m]) and ignoring(code, method) ${UP}`, `${TEMP} / on(cluster) group_left avg by (cluster) (${TEMP})`,
    `${TEMP} - ignoring(zone, instance) group_left avg without (zone, instance) (${TEMP})`, `${TEMP} > bool on(cluster) group_left max by (cluster) (${TEMP} offset 10m)`,
    `${QD} > on(cluster) group_left avg by (cluster) (${QD})`, `${HTTP} / ${HTTP}`, `${BATCH} unless ${BATCH} offset 10m`,
    `${BATCH} offset 10m unless ${BATCH}`, `${QD} >= ${QD} offset 1m`, `${QD} == bool ${QD} offset 1m`,
    `(${TEMP} > 0) + 1`, `${TEMP} < 100 < 5`, `${QD} + on() group_left sum(${QD})`,
  ].map((q) => ({ q })),

  // Scalars and vectors.
  ...[
    `scalar(sum(${QD}))`, `scalar(${QD})`, `scalar(${QD}{instance="w1"})`, 'vector(time())', `vector(scalar(sum(${UP})))`,
    'time() - 1700000000', `${QD} * scalar(min(${UP}))`, `sum(${QD}) / scalar(count(${QD}))`, '42', '-1.5', '1e3 * 2',
    '2 ^ 3 ^ 2', '(1 + 2) * 3', '5 % 3', '1 / 0', '-1 / 0', '0 / 0', '2 > bool 1', 'NaN', '-Inf', 'vector(1) + vector(2)',
    `scalar(nonexistent_metric)`, `${TEMP} * scalar(${TEMP}{instance="node-1"})`,
  ].map((q) => ({ q })),

  // Subqueries.
  ...[
    `max_over_time(rate(${HTTP}[1m])[10m:30s])`, `avg_over_time(${TEMP}[15m:1m])`, `min_over_time(sum(${QD})[20m:2m])`,
    `rate(${HTTP}[5m:15s])`, `deriv(avg(${TEMP})[10m:1m])`, `quantile_over_time(0.9, max(${TEMP})[30m:45s])`,
    `count_over_time(${BATCH}[10m:1m])`, `sum_over_time(${UP}[30m:5m])`, `max_over_time(deriv(${TEMP}[5m])[15m:1m])`,
    `last_over_time(${TEMP}[5m:1m] offset 3m)`, `max_over_time((${QD} > 25)[20m:1m])`,
    `min_over_time(rate(${HTTP}[5m])[30m:1m] @ ${sec(3000.5)})`, `stddev_over_time(${QD}[12m:1m])`,
    `absent_over_time(${BATCH}{instance="b3"}[3m:1m])`, `present_over_time(${BATCH}[4m:30s])`,
    `changes(round(${TEMP})[20m:1m])`, `irate(${HTTP}[3m:20s])`, `max_over_time(avg_over_time(${TEMP}[5m30s:1m])[10m:2m])`,
    `increase(sum(${HTTP})[10m:1m])`, `avg_over_time(histogram_quantile(0.9, rate(${BKT}[5m]))[10m:1m])`,
  ].map((q) => ({ q })),

  // absent.
  ...[
    'absent(nonexistent_metric)', 'absent(nonexistent_metric{job="x",instance=~"y"})', `absent(${QD})`,
    `absent(${BATCH}{instance="b3"})`, 'absent(sum(nonexistent_metric))', `absent(${HTTP}{job="api",job="web"})`,
    `absent(${BATCH}{instance="b4"})`,
  ].map((q) => ({ q })),

  // Edge cases: value formatting, NaN and ±Inf through aggregations, precedence, regex anchoring.
  ...[
    `count_values("t", ${TEMP})`, `count_values("m", ${MEM})`, `count_values("r", rate(${HTTP}[5m]))`,
    `count_values("x", ${MEM} * 1e15)`, `count_values("d", ${QD} / 0)`, `count_values("s", ${TEMP} / 1e6)`,
    `max(${QD} / 0)`, `min(${QD} / 0)`, `sum(${QD} / 0)`, `avg(${QD} / 0)`, `topk(1, ln(${TEMP}))`, `bottomk(1, ln(${TEMP}))`,
    `stddev(${QD} / 0)`, `quantile(0.5, ${QD} / 0)`, `max_over_time((${QD} / 0)[5m:1m])`, `sum_over_time((${QD} / 0)[5m:1m])`,
    `histogram_quantile(0.5, rate(${BKT}[5m]) / 0)`, `-sum(${QD})`, `2 * ${QD} ^ 2`, '-2 ^ 2', `${QD} unless ${QD} > 10 or ${TEMP}`,
    `ceil(${TEMP}) == bool floor(${TEMP})`, `round(${TEMP} * 2) / 2`, `round(-${QD} - 0.5)`,
    `${HTTP} / ignoring(code) group_left sum without (code) (${HTTP})`, `sum by (job) (${HTTP}) / on() group_left sum(${HTTP})`,
    `count by (__name__) ({job="api"})`, `${HTTP}{job=~"ap"}`, `${HTTP}{job=~"a.*|w.*",code=~"5..|"}`,
    `{__name__!~".*_total",job="api"}`, `${HTTP}{job=~""}`, `${QD} and on() vector(1)`, `${QD} > bool time() % 50`,
    `rate(${HTTP}[5m]) > 0.5 and rate(${HTTP}[5m]) < 3`, `day_of_week(timestamp(${QD}))`, `days_in_month(timestamp(${TEMP}))`,
    `sgn(deriv(${TEMP}[5m]))`, `rate(${HTTP}[5m] @ end())`, `${QD} @ start() - ${QD}`, `changes(${BATCH}[1h])`,
    `resets(${BATCH}[1h])`, `absent_over_time(${BATCH}[1m])`, `idelta(${BATCH}[1m])`, `predict_linear(${TEMP}[10m] @ ${sec(2000.5)}, 300)`,
    `timestamp(rate(${HTTP}[5m]))`, `max_over_time(rate(${HTTP}[5m])[10m:1m] offset 5m)`, `absent(nonexistent_metric{job=~"x"})`,
    `label_replace(${HTTP}, "m", "$1-$2", "instance", "(\\\\d+)\\\\.(\\\\d+).*")`, `quantile_over_time(scalar(min(${UP})) * 0.5, ${TEMP}[10m])`,
    `max_over_time(${QD}[1m:10s])`, `${TEMP} % -3`, `-${TEMP} % 3`, `${QD} ^ -1`, `0 ^ 0`, `(-8) ^ (1/3)`,
  ].map((q) => ({ q })),

  // Regex matchers on code points, Go replacement syntax, time functions on odd timestamps,
  // strings and top-level subqueries.
  ...[
    'build_info{owner=~"team-."}', 'build_info{owner=~"(?i)ÉQUIPE-.*"}', 'build_info{owner!~".*[а-я]+"}',
    'build_info{owner=~"\\\\w+-\\\\w+"}', `${HTTP}{job=~"(?i)API"}`, `${HTTP}{instance=~"10\\\\.0\\\\.0\\\\.[12]:\\\\d+",code!~"5.*"}`,
    `{__name__=~"http_.*_total",job=~"a.+"}`, `${UP}{job=~"api|"}`, `${UP}{job!~".+"}`,
    'label_replace(build_info, "first", "$1", "owner", "(.).*")', 'label_replace(build_info, "len", "$1", "owner", "(.{4}).*")',
    `label_replace(${UP}, "dst", "$1_x", "job", "(.*)")`, `label_replace(${UP}, "dst", "\${1}_x", "job", "(.*)")`,
    `label_replace(${UP}, "dst", "$2-$1", "instance", "([^:]*):(.*)")`, `label_replace(${UP}, "dst", "$$1", "job", "(.*)")`,
    `label_replace(${UP}, "dst", "<$0>", "job", "a(.)")`, 'label_join(build_info, "all", "·", "owner", "job", "instance")',
    'count_values("owner", build_info)', `count_values("job", ${QD})`, `count_values("v", ${TEMP} / 1e9)`, `count_values("v", ${QD} * -0)`,
    'hour(vector(-3600.5))', 'minute(vector(-0.5))', 'day_of_month(vector(951782400))', 'days_in_month(vector(951782400))',
    'days_in_month(vector(4107542400))', 'year(vector(1e11))', 'month(vector(-1))', 'day_of_week(vector(-86400 * 3.5))',
    'timestamp(vector(1))', `max_over_time(timestamp(${QD})[5m:1m])`, 'exp(vector(1000))', 'ln(vector(0))', 'sqrt(vector(-0))',
    `round(${TEMP}, 0)`, `${QD} % 0`, `${TEMP} % 0.7`, `clamp_min(${TEMP}, NaN)`, `(${QD} / 0) == bool (${QD} / 0)`,
    `sum by (nonexistent) (${QD})`, `stddev(${QD}{instance="w1"})`, `${QD} and on() (${UP}{job="nope"})`, `rate(${HTTP}[1h])`,
    `${HTTP} offset 1h`, `deriv(${QD}[10s])`, `${QD} / ${QD} offset 1m`, `quantile(0.5, ln(${TEMP}))`,
  ].map((q) => ({ q })),
  { q: '"hello"' },
  inst(`${QD}[5m:1m]`), inst(`rate(${HTTP}{code="500"}[5m])[3m:1m]`), inst(`${QD}[4m:1m] offset 1m`), inst(`build_info[1m]`),

  // sort and sort_desc: instant queries, compared in order.
  sorted(`sort(${TEMP})`), sorted(`sort_desc(rate(${HTTP}[5m]))`), sorted(`sort(sum by (instance) (${QD} + ${QD} / 1000))`),
  sorted(`sort_desc(topk(3, ${TEMP}))`), sorted(`sort(${MEM})`), sorted(`sort_desc(histogram_quantile(0.9, rate(${BKT}[5m])))`),
];

/** Exclusion says which runs of a query are not compared, and why. */
export interface Exclusion {
  /** runs: 'all' (not run at all) or 'range' (its instant runs are still compared). */
  runs: 'all' | 'range';
  reason: string;
}

/**
 * EXCLUDED lists battery queries (or their range runs) not compared, each with the reason: a
 * 2.x-vs-3.x difference the data design cannot avoid. Keep it short; a Sluice bug is never a reason.
 */
export const EXCLUDED: ReadonlyMap<string, Exclusion> = new Map<string, Exclusion>([
  // 2.x keeps the left side's metric name after `atan2` (its shouldDropMetricName lists only
  // + - * / % ^); 3.x drops it like for every other arithmetic operator (corpus: operators.test,
  // `trigy atan2 trigx` gives `{}`). The `(...) * 1` forms in the battery compare the values.
  [`${TEMP} atan2 10`, { runs: 'all', reason: 'atan2 keeps __name__ in Prometheus 2.x, drops it in 3.x' }],
  [`${TEMP} atan2 (${TEMP} offset 5m)`, { runs: 'all', reason: 'atan2 keeps __name__ in Prometheus 2.x, drops it in 3.x' }],
  // predict_linear is "@-unsafe", so its call is not step-invariant; 2.42 then turns the `@` into
  // an offset from the range's start and the window slides with every step. 3.x reads the pinned
  // window once ("only if this is the 1st iteration or no @ modifier has been used" in
  // engine.go) and extrapolates from each step's time. Instant runs agree.
  [`predict_linear(${TEMP}[10m] @ ${sec(2000.5)}, 300)`, { runs: 'range', reason: '2.42 slides an @-pinned window under predict_linear across range steps; 3.x keeps it pinned' }],
]);
