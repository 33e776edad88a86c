/**
 * series.ts is the seeded series model of the load generator: which series exist (labels that
 * look like Kubernetes scrape targets) and how their values move from round to round. Everything
 * comes from a seeded PRNG (mulberry32), so two runs with the same flags send the same series and
 * the same values.
 */


// The seeded PRNG shared with the tests: one implementation, so fixtures stay identical.
import { mulberry32 } from '../../test/helpers/prng.js';
export { mulberry32 };

const KIND_COUNTER = 0;
const KIND_GAUGE = 1;
const KIND_CONST = 2;

const METRICS: ReadonlyArray<readonly [string, number]> = [
  ['http_requests_total', KIND_COUNTER],
  ['http_request_duration_seconds_count', KIND_COUNTER],
  ['process_cpu_seconds_total', KIND_COUNTER],
  ['container_cpu_usage_seconds_total', KIND_COUNTER],
  ['node_network_receive_bytes_total', KIND_COUNTER],
  ['container_memory_working_set_bytes', KIND_GAUGE],
  ['go_goroutines', KIND_GAUGE],
  ['node_load1', KIND_GAUGE],
  ['process_resident_memory_bytes', KIND_GAUGE],
  ['up', KIND_CONST],
];
const CLUSTERS = ['eu-west-1a', 'eu-west-1b', 'us-east-1a', 'us-east-1b', 'ap-south-1a', 'sa-east-1a'];
const NAMESPACES = [
  'default', 'kube-system', 'monitoring', 'payments', 'checkout', 'search', 'ingest', 'billing',
  'identity', 'catalog', 'orders', 'shipping', 'frontend', 'backend', 'data', 'ml-serving',
];
const APPS = ['api', 'web', 'worker', 'cron', 'gateway', 'cache', 'db-proxy', 'indexer', 'scheduler', 'consumer'];
const JOBS = ['kubelet', 'cadvisor', 'node-exporter', 'kube-state-metrics', 'app', 'apiserver'];
const CONTAINERS = ['app', 'sidecar', 'envoy', 'istio-proxy', 'init', 'metrics-exporter', 'log-shipper'];
const ENVS = ['prod', 'staging', 'dev'];
const ALNUM = 'bcdfghjklmnpqrstvwxz2456789';

/** BASE_LABELS are the label names, in the order they are dropped from (kept first) when --labels < 8. */
const BASE_LABELS = ['__name__', 'instance', 'job', 'namespace', 'pod', 'cluster', 'container', 'env'];

/** pick returns a random element of arr. */
function pick<T>(r: () => number, arr: readonly T[]): T {
  return arr[Math.floor(r() * arr.length)] as T;
}
/** randStr returns n random characters of ALNUM. */
function randStr(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[Math.floor(r() * ALNUM.length)];
  return s;
}

/** SeriesDef is one generated series: sorted labels and how its value moves per round. */
export interface SeriesDef { labels: Array<[string, string]>; kind: number; base: number; rate: number }

/** SERIES_PER_TARGET is the number of series per scrape target: one per metric name, so __name__ + instance identify a series. */
const SERIES_PER_TARGET = 10;

/**
 * makeSeries returns series i for a seed. Series come in groups of 10 that share a target
 * (instance, pod, namespace, job, cluster, container, env) and differ in the metric name, as the
 * series scraped from one pod do. The result depends only on (seed, i, labelCount), not on the
 * total number of series, so series 0..N-1 are the same whatever N is.
 */
export function makeSeries(seed: number, i: number, labelCount: number): SeriesDef {
  const g = Math.floor(i / SERIES_PER_TARGET);
  const rg = mulberry32((seed ^ Math.imul(g + 1, 0x9e3779b1)) >>> 0);
  const rs = mulberry32((seed ^ Math.imul(i + 1, 0x85ebca6b) ^ 0x5bd1e995) >>> 0);
  const [metric, kind] = METRICS[i % SERIES_PER_TARGET] as readonly [string, number];
  const app = pick(rg, APPS);
  const all: Record<string, string> = {
    __name__: metric,
    // The target address is derived from the group number, which makes every series unique.
    instance: `10.${(g >>> 16) & 255}.${(g >>> 8) & 255}.${g & 255}:${9100 + Math.floor(g / 16_777_216)}`,
    job: pick(rg, JOBS),
    namespace: pick(rg, NAMESPACES),
    pod: `${app}-${randStr(rg, 9)}-${randStr(rg, 5)}`,
    cluster: pick(rg, CLUSTERS),
    container: pick(rg, CONTAINERS),
    env: pick(rg, ENVS),
  };
  const names = BASE_LABELS.slice(0, Math.min(labelCount, BASE_LABELS.length));
  const labels: Array<[string, string]> = names.map((n) => [n, all[n] as string]);
  for (let k = BASE_LABELS.length; k < labelCount; k++) {
    labels.push([`extra_label_${String(k + 1).padStart(2, '0')}`, `value-${randStr(rs, 6)}`]);
  }
  labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let base: number;
  let rate = 0;
  if (kind === KIND_COUNTER) {
    base = 1 + Math.floor(rs() * 1_000_000);
    rate = 1 + Math.floor(rs() * 500);
  } else if (kind === KIND_GAUGE) {
    base = 1 + rs() * 1000;
  } else {
    base = 1;
  }
  return { labels, kind, base, rate };
}

/** valueAt is the value of a series in a round; never 0 in round 0 (protobuf would omit it). */
export function valueAt(kind: number, base: number, rate: number, id: number, round: number): number {
  if (kind === KIND_COUNTER) return base + rate * round;
  if (kind === KIND_GAUGE) return base * (1 + 0.1 * Math.sin(round * 0.3 + id));
  return base;
}
