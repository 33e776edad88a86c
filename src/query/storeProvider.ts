/**
 * NodeStoreProvider offers this node's data to the StoreAPI server (src/query/storeapi/): its
 * tenants (heads and blocks), their series as raw chunks (TenantSource: heads from shared memory,
 * local and bucket blocks), and label names and values from the same heads and blocks
 * (TenantMetadata's local part: never the peers, as a StoreAPI does not fan out).
 */
import { TenantSource, type QuerierOptions } from './querier.js';
import { TenantMetadata } from './metadata.js';
import { StatSlot } from '../sharedmem/layout.js';
import type { Matcher } from '../model/matchers.js';
import type { RawSeriesSet } from './seriesSet.js';
import type { StoreProvider } from './storeapi/server.js';

/** NodeStoreProvider is a StoreProvider over a receiver's shards and blocks. */
export class NodeStoreProvider implements StoreProvider {
  private readonly opts: QuerierOptions;
  readonly tenantLabelName: string;
  readonly externalLabels: [string, string][];

  constructor(opts: QuerierOptions) {
    this.opts = opts;
    this.tenantLabelName = opts.tenantLabelName;
    this.externalLabels = opts.externalLabels;
  }

  async tenants(): Promise<string[]> {
    const { pool, blocks } = this.opts;
    const head = await Promise.all(pool.shards.map((s) => s.query<string[]>({ type: 'query', op: 'tenants' })));
    const inBlocks = blocks ? (await blocks.tenants(this.tenantLabelName)).tenants : [];
    return [...new Set([...head.flat(), ...inBlocks])];
  }

  select(tenant: string, matchers: Matcher[], mint: number, maxt: number): Promise<RawSeriesSet> {
    return new TenantSource(this.opts, tenant).select(matchers, mint, maxt);
  }

  labelNames(tenant: string, matchers: Matcher[], mint: number, maxt: number): Promise<string[]> {
    return new TenantMetadata(this.opts, tenant).localLabelNames(matchers.length > 0 ? [matchers] : [], mint, maxt);
  }

  labelValues(tenant: string, name: string, matchers: Matcher[], mint: number, maxt: number): Promise<string[]> {
    return new TenantMetadata(this.opts, tenant).localLabelValues(name, matchers.length > 0 ? [matchers] : [], mint, maxt);
  }

  async timeRange(): Promise<[number, number]> {
    let minT = Infinity;
    for (const s of this.opts.pool.shards) minT = Math.min(minT, s.stat(StatSlot.MIN_T));
    if (this.opts.blocks) minT = Math.min(minT, (await this.opts.blocks.tenants(this.tenantLabelName)).minTime);
    // Still receiving: the newest time is open.
    return [Number.isFinite(minT) ? minT : 0, Infinity];
  }
}
