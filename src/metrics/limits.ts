/**
 * Metrics of the limits config, under Thanos Receive's names (pkg/receive/request_limiter.go,
 * head_series_limiter.go, pkg/gate). Registered only when a limits config is loaded, as in Thanos.
 *
 *   gateway threads (summed at scrape time)   thanos_receive_write_limits_hit{tenant,limit} (summary: _sum/_count)
 *                                             thanos_receive_head_series_limited_requests_total{tenant}
 *                                             thanos_receive_write_request_concurrent_gate_write_requests_{in_flight,total,duration_seconds}
 *   main thread (configuration, once)         thanos_receive_write_limits{tenant,limit}, thanos_receive_head_series_limit{tenant},
 *                                             thanos_receive_write_request_concurrent_gate_write_requests_max
 *
 * Updated once per request, never per sample. Touches only the registries it is given.
 */
import client from 'prom-client';
import type { LimitsConfig, RequestLimits } from '../receive/limits.js';

const GATE = 'thanos_receive_write_request_concurrent_gate_write_requests';

/** GatewayLimitMetrics are one gateway thread's limit metrics. */
export class GatewayLimitMetrics {
  /**
   * How far beyond its limit each refused request was. A summary as in Thanos, but without
   * quantiles: the main thread sums the gateway threads, and quantiles cannot be summed.
   */
  readonly limitsHit: client.Summary<'tenant' | 'limit'>;
  readonly headSeriesLimited: client.Counter<'tenant'>;
  /** The write gate's metrics; undefined without max_concurrency. */
  readonly gateInFlight: client.Gauge | undefined;
  readonly gateTotal: client.Counter | undefined;
  readonly gateDuration: client.Histogram | undefined;

  constructor(registry: client.Registry, withGate: boolean) {
    const registers = [registry];
    this.limitsHit = new client.Summary({
      name: 'thanos_receive_write_limits_hit', help: 'Summary of how much beyond the limit a refused remote write request was.',
      labelNames: ['tenant', 'limit'], percentiles: [], registers,
    });
    this.headSeriesLimited = new client.Counter({
      name: 'thanos_receive_head_series_limited_requests_total',
      help: 'The total number of remote write requests that have been dropped due to active series limiting.',
      labelNames: ['tenant'], registers,
    });
    if (!withGate) {
      this.gateInFlight = this.gateTotal = this.gateDuration = undefined;
      return;
    }
    this.gateInFlight = new client.Gauge({ name: `${GATE}_in_flight`, help: 'Number of write_requests that are currently in flight.', registers });
    this.gateTotal = new client.Counter({ name: `${GATE}_total`, help: 'Total number of write_requests.', registers });
    this.gateDuration = new client.Histogram({
      name: `${GATE}_duration_seconds`, help: 'How many seconds it took for write_requests to wait at the gate.',
      buckets: [0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120, 240, 360, 720], registers,
    });
  }
}

/** REQUEST_LIMIT_LABELS names each request limit in `thanos_receive_write_limits{limit}`. */
const REQUEST_LIMIT_LABELS: [keyof RequestLimits, string][] = [
  ['sizeBytesLimit', 'body_size'], ['seriesLimit', 'series'], ['samplesLimit', 'samples'],
  ['labelLimit', 'label_limit'], ['labelNameLengthLimit', 'label_name_length_limit'], ['labelValueLengthLimit', 'label_value_length_limit'],
];

/**
 * registerConfiguredLimits exposes the configuration on the main thread's registry: the request
 * limits and head-series limits per listed tenant (tenant="" is the default, as in Thanos) and
 * the gate's size (`gateSlots`, the sum of the gateway threads' shares: ≥ max_concurrency).
 */
export function registerConfiguredLimits(registry: client.Registry, cfg: LimitsConfig, gateSlots: number): void {
  const registers = [registry];
  const limits = new client.Gauge({
    name: 'thanos_receive_write_limits', help: 'The configured write limits.', labelNames: ['tenant', 'limit'], registers,
  });
  const head = new client.Gauge({
    name: 'thanos_receive_head_series_limit', help: 'The configured limit for active (head) series of tenants.', labelNames: ['tenant'], registers,
  });
  const set = (tenant: string, r: RequestLimits, headSeries: number): void => {
    for (const [field, limit] of REQUEST_LIMIT_LABELS) limits.set({ tenant, limit }, r[field]);
    head.set({ tenant }, headSeries);
  };
  set('', cfg.default.request, cfg.default.headSeriesLimit);
  for (const [tenant, t] of cfg.tenants) set(tenant, t.request, t.headSeriesLimit);
  if (cfg.maxConcurrency > 0) {
    new client.Gauge({ name: `${GATE}_max`, help: 'Maximum number of concurrent write_requests.', registers }).set(gateSlots);
  }
}
