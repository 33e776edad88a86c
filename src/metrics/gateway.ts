/**
 * Per-request metrics of a gateway thread, named as Thanos Receive names them. Each gateway
 * thread keeps its own registry; the main thread sums them at scrape time (src/metrics/node.ts).
 * Updated once per request, never per sample.
 */
import client from 'prom-client';

/** GatewayMetrics holds one gateway thread's metrics. */
export class GatewayMetrics {
  readonly registry = new client.Registry();
  readonly writeTimeseries: client.Histogram<'code' | 'tenant'>;
  readonly writeSamples: client.Histogram<'code' | 'tenant'>;
  readonly httpDuration: client.Histogram<'handler' | 'code' | 'method' | 'tenant'>;
  readonly httpRequests: client.Counter<'handler' | 'code' | 'method' | 'tenant'>;
  readonly headSeries: client.Gauge<'tenant'>;
  readonly samplesAppended: client.Counter<'tenant' | 'type'>;
  readonly rejectedSamples: client.Counter<'tenant' | 'reason'>;
  readonly dropped: client.Counter<'kind'>;
  /** Remote-write requests answered 503 because the receiver was not ready (starting, stopping). */
  readonly notReady: client.Counter;

  constructor() {
    const r = this.registry;
    const sizeBuckets = [10, 50, 100, 500, 1000, 5000, 10000];
    this.writeTimeseries = new client.Histogram({
      name: 'thanos_receive_write_timeseries', help: 'The number of timeseries received in the incoming write requests.',
      labelNames: ['code', 'tenant'], buckets: sizeBuckets, registers: [r],
    });
    this.writeSamples = new client.Histogram({
      name: 'thanos_receive_write_samples', help: 'The number of sampled received in the incoming write requests.',
      labelNames: ['code', 'tenant'], buckets: sizeBuckets, registers: [r],
    });
    this.httpDuration = new client.Histogram({
      name: 'http_request_duration_seconds', help: 'Tracks the latencies for HTTP requests.',
      labelNames: ['handler', 'code', 'method', 'tenant'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [r],
    });
    this.httpRequests = new client.Counter({
      name: 'http_requests_total', help: 'Tracks the number of HTTP requests.',
      labelNames: ['handler', 'code', 'method', 'tenant'], registers: [r],
    });
    this.headSeries = new client.Gauge({
      name: 'prometheus_tsdb_head_series', help: 'Total number of series in the head block.', labelNames: ['tenant'], registers: [r],
    });
    this.samplesAppended = new client.Counter({
      name: 'prometheus_tsdb_head_samples_appended_total', help: 'Total number of appended samples.',
      labelNames: ['tenant', 'type'], registers: [r],
    });
    this.rejectedSamples = new client.Counter({
      name: 'sluice_receive_rejected_samples_total', help: 'Samples refused, by reason (out_of_order, duplicate, invalid_labels).',
      labelNames: ['tenant', 'reason'], registers: [r],
    });
    this.dropped = new client.Counter({
      name: 'sluice_receive_dropped_total', help: 'Parts of write requests not stored yet (exemplar, histogram, metadata).',
      labelNames: ['kind'], registers: [r],
    });
    this.notReady = new client.Counter({
      name: 'sluice_receive_not_ready_requests_total', help: 'Remote-write requests answered 503 because the receiver was starting (WAL replay) or stopping.',
      registers: [r],
    });
  }

  /**
   * watchBodyBudget exports the thread's budget of buffered body bytes, read at scrape time (no
   * cost per request): bytes held now, the limit, and requests refused for want of room.
   */
  watchBodyBudget(held: () => number, limit: number, refused: () => number): void {
    const r = this.registry;
    new client.Gauge({
      name: 'sluice_receive_inflight_body_bytes', help: 'Bytes of remote-write request bodies buffered now (from their headers until their reply).',
      registers: [r], collect() { this.set(held()); },
    });
    new client.Gauge({
      name: 'sluice_receive_inflight_body_bytes_limit', help: 'Most bytes of remote-write request bodies buffered at once (--receive.max-inflight-body-bytes).',
      registers: [r], collect() { this.set(limit); },
    });
    new client.Counter({
      name: 'sluice_receive_inflight_body_refused_total', help: 'Remote-write requests answered 503 because buffering their body would pass --receive.max-inflight-body-bytes.',
      registers: [r], collect() { this.reset(); this.inc(refused()); },
    });
  }
}
