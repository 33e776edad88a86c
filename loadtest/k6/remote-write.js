// k6 scenario: remote-write load against Sluice (or any Thanos Receive / Prometheus receiver).
// Needs a k6 binary built with the xk6-client-prometheus-remote extension (see README.md here).
//
//   ./k6 run -e RW_URL=http://127.0.0.1:19291/api/v1/receive -e SERIES=100000 -e BATCH=500 \
//            -e SAMPLES_PER_SEC=200000 -e DURATION=2m -e TENANTS=1 loadtest/k6/remote-write.js
//
// Every iteration sends one request of BATCH series (one sample each, timestamp = now). Iterations
// walk the SERIES series batch by batch, so each series gets one sample every
// SERIES / SAMPLES_PER_SEC seconds. Keep that interval well above the p99 latency: a series whose
// next sample overtakes the previous one on another connection is rejected as out of order.

import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import remote from 'k6/x/remotewrite';

function intEnv(name, def) {
  const v = __ENV[name];
  if (v === undefined || v === '') return def;
  const n = parseInt(v, 10);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
  return n;
}
function floatEnv(name, def) {
  const v = __ENV[name];
  if (v === undefined || v === '') return def;
  const n = parseFloat(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${v}`);
  return n;
}

const RW_URL = __ENV.RW_URL || 'http://127.0.0.1:19291/api/v1/receive';
const SERIES = intEnv('SERIES', 100000);
const BATCH = intEnv('BATCH', 500);
const TENANTS = intEnv('TENANTS', 1);
const TENANT_HEADER = __ENV.TENANT_HEADER || 'THANOS-TENANT';
const SAMPLES_PER_SEC = intEnv('SAMPLES_PER_SEC', 100000);
const DURATION = __ENV.DURATION || '1m';
const VUS = intEnv('VUS', 16);
const P99_MS = intEnv('P99_MS', 500);
const MAX_FAILURE_RATE = floatEnv('MAX_FAILURE_RATE', 0.01);

const BATCHES = Math.ceil(SERIES / BATCH);

// Our own metrics, recorded from each response, so the thresholds hold whatever built-in metrics
// the extension version emits (v0.4.0 also feeds http_req_duration and http_req_failed).
const rwDuration = new Trend('sluice_rw_duration', true);
const rwFailed = new Rate('sluice_rw_failed');
const rwSamples = new Counter('sluice_rw_samples');

export const options = {
  scenarios: {
    remote_write: {
      executor: 'constant-arrival-rate',
      rate: Math.max(1, Math.round(SAMPLES_PER_SEC / BATCH)),
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: VUS,
      maxVUs: VUS * 4,
    },
  },
  thresholds: {
    sluice_rw_failed: [{ threshold: `rate<${MAX_FAILURE_RATE}`, abortOnFail: false }],
    sluice_rw_duration: [`p(99)<${P99_MS}`],
    checks: [`rate>${1 - MAX_FAILURE_RATE}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
};

// 8 labels. Each value may hold one ${series_id}, ${series_id/N} or ${series_id%N} placeholder.
// Series come in groups of 10 per scrape target (pod/instance), one per metric name, so
// __name__ + instance identify a series. The extension sorts labels by name before encoding.
const LABELS = {
  __name__: 'k6_metric_${series_id%10}',
  cluster: 'cluster-${series_id/50000}',
  container: 'container-${series_id/100}',
  env: 'env-${series_id/250000}',
  instance: 'target-${series_id/10}:9100',
  job: 'job-${series_id/1000}',
  namespace: 'namespace-${series_id/2000}',
  pod: 'pod-${series_id/10}',
};
const TEMPLATE = remote.precompileLabelTemplates(LABELS);

// One client per tenant; the tenant header is only sent when there is more than one tenant.
const clients = [];
for (let t = 0; t < TENANTS; t++) {
  const cfg = { url: RW_URL, timeout: '30s' };
  if (TENANTS > 1) cfg.headers = { [TENANT_HEADER]: `tenant-${t}` };
  clients.push(new remote.Client(cfg));
}

export function setup() {
  console.log(
    `remote-write to ${RW_URL}: ${SERIES} series x 8 labels in ${BATCHES} batches of ${BATCH}, ` +
      `${TENANTS} tenant(s), target ${SAMPLES_PER_SEC} samples/s ` +
      `(each series every ${(SERIES / SAMPLES_PER_SEC).toFixed(2)} s) for ${DURATION}`,
  );
}

export default function () {
  const k = exec.scenario.iterationInTest % BATCHES;
  const first = k * BATCH;
  const end = Math.min(first + BATCH, SERIES); // exclusive
  const client = clients[k % TENANTS];
  let res;
  try {
    res = client.storeFromPrecompiledTemplates(0, 100, Date.now(), first, end, TEMPLATE);
  } catch (e) {
    rwFailed.add(true);
    check(null, { 'remote-write accepted': () => false });
    console.warn(`batch ${k}: ${e}`);
    return;
  }
  const ok = res.status >= 200 && res.status < 300;
  rwFailed.add(!ok);
  if (res.timings) rwDuration.add(res.timings.duration);
  if (ok) rwSamples.add(end - first);
  check(res, { 'remote-write accepted': () => ok });
}
