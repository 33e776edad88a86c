/**
 * Self-metrics of a receiver, named as Thanos Receive and the Prometheus TSDB name them so the
 * same dashboards and alert rules work. Per-request metrics are updated once per request, never
 * per sample; per-shard figures are read from the shards' statistics blocks at scrape time.
 */
import client from 'prom-client';
import { StatSlot } from '../sharedmem/layout.js';
import type { ShardPool } from '../shards/pool.js';

/** ReceiveMetrics holds every metric a receiver exports. */
export class ReceiveMetrics {
  readonly registry = new client.Registry();
  readonly writeTimeseries: client.Histogram<'code' | 'tenant'>;
  readonly writeSamples: client.Histogram<'code' | 'tenant'>;
  readonly httpDuration: client.Histogram<'handler' | 'code' | 'method' | 'tenant'>;
  readonly httpRequests: client.Counter<'handler' | 'code' | 'method' | 'tenant'>;
  readonly headSeries: client.Gauge<'tenant'>;
  readonly samplesAppended: client.Counter<'tenant' | 'type'>;
  readonly rejectedSamples: client.Counter<'tenant' | 'reason'>;
  readonly dropped: client.Counter<'kind'>;

  constructor(pool: ShardPool) {
    const r = this.registry;
    client.collectDefaultMetrics({ register: r });
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
    const shardGauge = (name: string, help: string, read: (i: number) => number): void => {
      new client.Gauge({
        name, help, labelNames: ['shard'], registers: [r],
        collect() {
          for (let i = 0; i < pool.shards.length; i++) this.set({ shard: String(i) }, read(i));
        },
      });
    };
    shardGauge('sluice_shard_series', 'Series held by the shard.', (i) => pool.shards[i]!.stat(StatSlot.SERIES));
    shardGauge('sluice_shard_samples_appended', 'Samples appended by the shard since start (counter).', (i) => pool.shards[i]!.stat(StatSlot.SAMPLES_APPENDED));
    shardGauge('sluice_shard_batches', 'Batches applied by the shard since start (counter).', (i) => pool.shards[i]!.stat(StatSlot.BATCHES));
    shardGauge('sluice_shard_head_bytes', 'Bytes of the shard head: shared series and arena segments plus the series hash table.', (i) => pool.shards[i]!.stat(StatSlot.HEAD_BYTES));
    shardGauge('sluice_shard_ring_used_bytes', 'Bytes waiting in the shard\'s write ring.', (i) => pool.shards[i]!.producer.used());
    shardGauge('sluice_shard_ring_capacity_bytes', 'Size of the shard\'s write ring.', (i) => pool.shards[i]!.producer.capacity);
    shardGauge('sluice_shard_ring_batches_waiting', 'Batches written to the ring and not yet appended.', (i) => pool.shards[i]!.inFlight());
    shardGauge('sluice_shard_up', '1 while the shard thread runs.', (i) => (pool.shards[i]!.failed ? 0 : 1));
  }
}
