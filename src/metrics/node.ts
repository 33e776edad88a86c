/**
 * Metrics of the node: process metrics, per-shard figures read from the shards' statistics blocks
 * at scrape time, and the gateway threads' registries summed into one exposition.
 */
import client from 'prom-client';
import { StatSlot } from '../sharedmem/layout.js';
import type { ShardPool } from '../shards/pool.js';
import type { PostingsCache } from '../blocks/index/postingsCache.js';

/** NodeMetrics renders /metrics for the whole node. */
export class NodeMetrics {
  readonly registry = new client.Registry();
  /** PromQL queries answered on the HTTP API, by endpoint and status code. */
  readonly queryDuration: client.Histogram<'handler' | 'code'>;
  /** Range queries evaluated in parts over several query threads (src/query/split.ts), by outcome. */
  readonly querySplits: client.Counter<'outcome'>;
  private readonly gatewaySnapshots: () => Promise<client.MetricObjectWithValues<client.MetricValue<string>>[][]>;

  constructor(pool: ShardPool, gatewaySnapshots: () => Promise<client.MetricObjectWithValues<client.MetricValue<string>>[][]>) {
    this.gatewaySnapshots = gatewaySnapshots;
    const r = this.registry;
    client.collectDefaultMetrics({ register: r });
    const shardGauge = (name: string, help: string, read: (i: number) => number): void => {
      new client.Gauge({
        name, help, labelNames: ['shard'], registers: [r],
        collect() {
          for (let i = 0; i < pool.shards.length; i++) this.set({ shard: String(i) }, read(i));
        },
      });
    };
    // Counters kept by the shards (or their supervisor): exposed as counters, read at scrape time.
    const shardCounter = (name: string, help: string, read: (i: number) => number): void => {
      new client.Counter({
        name, help, labelNames: ['shard'], registers: [r],
        collect() {
          this.reset();
          for (let i = 0; i < pool.shards.length; i++) this.inc({ shard: String(i) }, read(i));
        },
      });
    };
    const at = (i: number) => pool.shards[i]!;
    shardCounter('sluice_shard_restarts_total', 'Shard threads that died and were replaced.', (i) => at(i).restarts);
    shardCounter('sluice_wal_write_failures_total', 'Rounds of batches refused with 503 because the WAL could not log them (disk full, I/O error).', (i) => at(i).stat(StatSlot.WAL_FAILURES));
    shardCounter('prometheus_tsdb_wal_corruptions_total', 'Corrupt WAL records skipped during replay.', (i) => at(i).walCorruptions);
    shardGauge('sluice_shard_series', 'Series held by the shard.', (i) => at(i).stat(StatSlot.SERIES));
    shardGauge('sluice_shard_samples_appended', 'Samples appended by the shard since start (counter).', (i) => at(i).stat(StatSlot.SAMPLES_APPENDED));
    shardGauge('sluice_shard_batches', 'Batches applied by the shard since start (counter).', (i) => at(i).stat(StatSlot.BATCHES));
    shardGauge('sluice_shard_head_bytes', 'Bytes of the shard head: shared series and arena segments plus the series hash table.', (i) => at(i).stat(StatSlot.HEAD_BYTES));
    shardGauge('sluice_shard_ring_used_bytes', 'Bytes waiting in the shard\'s write rings.', (i) => at(i).ringUsed());
    shardGauge('sluice_shard_ring_capacity_bytes', 'Size of the shard\'s write rings.', (i) => at(i).ringCapacity());
    this.queryDuration = new client.Histogram({
      name: 'sluice_query_duration_seconds', help: 'Time to answer a PromQL query on the HTTP API (/api/v1/query, /api/v1/query_range), from request to rendered answer.',
      labelNames: ['handler', 'code'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [r],
    });
    this.querySplits = new client.Counter({
      name: 'sluice_query_splits_total',
      help: 'Range queries evaluated in parts over several query threads; outcome "merged" (answered from the parts) or "rerun" (a part ran out of its share of --query.max-samples: evaluated again whole).',
      labelNames: ['outcome'], registers: [r],
    });
    shardGauge('sluice_shard_up', '1 while the shard thread runs.', (i) => (at(i).failed ? 0 : 1));
  }

  /**
   * watchPostingsCache exposes the block postings cache (src/blocks/index/postingsCache.ts) under
   * the names Thanos' store gateway uses for its index cache, item_type "Postings".
   */
  watchPostingsCache(cache: PostingsCache): void {
    const r = this.registry;
    const item = { item_type: 'Postings' };
    new client.Counter({
      name: 'thanos_store_index_cache_requests_total', help: 'Postings lists asked of the block postings cache.', labelNames: ['item_type'], registers: [r],
      collect() { this.reset(); this.inc(item, cache.hits + cache.misses); },
    });
    new client.Counter({
      name: 'thanos_store_index_cache_hits_total', help: 'Postings lists the block postings cache answered.', labelNames: ['item_type'], registers: [r],
      collect() { this.reset(); this.inc(item, cache.hits); },
    });
    new client.Gauge({
      name: 'thanos_store_index_cache_total_size_bytes', help: 'Bytes of postings lists held by the block postings cache.', labelNames: ['item_type'], registers: [r],
      collect() { this.set(item, cache.bytes); },
    });
  }

  /** contentType is the exposition format's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** render returns the node's metrics with the gateway threads' metrics summed in. */
  async render(): Promise<string> {
    const snaps = await this.gatewaySnapshots();
    const merged = snaps.length > 0 ? client.Registry.merge([this.registry, client.AggregatorRegistry.aggregate(snaps)]) : this.registry;
    return merged.metrics();
  }
}
