/**
 * The read path of one tenant. TenantSource gathers, on the thread that owns the shard links (the
 * main thread), every series matching a selector: the shards' heads (read from shared memory; the
 * shard only answers which series match) and the blocks the BlockSet knows, local and in object
 * storage. A series present in several places (the head and a just-cut block, or a block both
 * local and uploaded) becomes one series whose samples are merged by timestamp, each counted once
 * (src/query/seriesSet.ts). External labels and the tenant label are added to every series, as
 * Thanos Receive's StoreAPI presents them; matchers on them are decided here.
 *
 * TenantQuerier is the PromQL engine's storage (src/query/promql/storage.ts) over a TenantSource
 * in the same thread; query workers use RemoteQuerier (src/query/worker.ts) instead, over gather():
 * the heads' series as refs, which the query thread reads from shared memory itself
 * (src/query/headSelect.ts), so that copying their chunks does not run on the main thread.
 */
import { compileMatcher, type Matcher } from '../model/matchers.js';
import { tenantExternalLabels, type Labels } from '../model/labels.js';
import { SeriesSetBuilder, type RawSeriesSet } from './seriesSet.js';
import { decodeSelection } from './seriesDecode.js';
import type { ShardPool } from '../shards/pool.js';
import type { MessagePort } from 'node:worker_threads';
import { addHeadSeries, type Gathered, type HeadRefs } from './headSelect.js';
import type { BlockSet } from './blockSet.js';
import type { PeerReads } from './peerReads.js';
import type { Querier, SelectHints, SeriesData } from './promql/storage.js';

/** QuerierOptions configures TenantSource. */
export interface QuerierOptions {
  pool: ShardPool;
  blocks?: BlockSet;
  tenantLabelName: string;
  externalLabels: [string, string][];
  /** The other nodes of the hashring, for multi-node reads (PromQL only: never for the StoreAPI). */
  peers?: PeerReads;
  /** --query.replica-label: dropped from every series so that replicas merge. */
  replicaLabels?: string[];
}

/** TenantSource selects one tenant's series from heads and blocks, as raw chunks. */
export class TenantSource {
  private readonly opts: QuerierOptions;
  private readonly tenant: string;
  private readonly ext: Labels;

  constructor(opts: QuerierOptions, tenant: string) {
    this.opts = opts;
    this.tenant = tenant;
    this.ext = tenantExternalLabels(opts.externalLabels, opts.tenantLabelName, tenant);
  }

  /**
   * matchersLeft decides the matchers on external labels here: null when one fails (nothing
   * matches), else the matchers left for the stores.
   */
  private matchersLeft(matchers: Matcher[]): Matcher[] | null {
    const extMap = new Map(this.ext);
    const rest: Matcher[] = [];
    for (const m of matchers) {
      const v = extMap.get(m.name);
      if (v === undefined) rest.push(m);
      else if (!compileMatcher(m).matches(v)) return null;
    }
    return rest;
  }

  private builder(): SeriesSetBuilder {
    return new SeriesSetBuilder({ external: this.ext, drop: this.opts.replicaLabels ?? [] });
  }

  /** headRefs asks every shard which of its series match (the shard answers; no chunk is read). */
  private headRefs(rest: Matcher[], mint: number, maxt: number): Promise<HeadRefs[]> {
    return this.opts.pool.refs({ tenant: this.tenant, matcherSets: [rest], mint, maxt });
  }

  /**
   * addStores adds the series of the blocks (local and in the bucket) and of the peers to `set`;
   * returns the peers' warnings.
   */
  private async addStores(set: SeriesSetBuilder, rest: Matcher[], mint: number, maxt: number, deadline?: number): Promise<string[]> {
    const bs = this.opts.blocks;
    if (bs) {
      for (const b of await bs.blocks(this.opts.tenantLabelName, this.tenant, mint, maxt)) {
        const r = await bs.reader(b);
        for await (const s of r.select(rest, mint, maxt)) {
          const e = set.add(s.labels);
          for (const c of s.chunks) set.chunk(e, c.data, 0, c.data.length, c.minT, c.maxT);
        }
      }
    }
    // Peers: their series carry their tenant and external labels already.
    if (!this.opts.peers) return [];
    return this.opts.peers.select(this.tenant, rest, mint, maxt, (s) => {
      const e = set.addComplete(s.labels);
      for (const c of s.chunks) set.chunk(e, c.data, 0, c.data.length, c.minT, c.maxT);
    }, deadline);
  }

  /** select gathers the chunks overlapping [mint, maxt] of every series matching all matchers. */
  async select(matchers: Matcher[], mint: number, maxt: number, deadline?: number): Promise<RawSeriesSet> {
    const set = this.builder();
    const rest = this.matchersLeft(matchers);
    if (rest === null) return set.build();
    // Heads: the shard names the matching refs; label blobs and chunks are copied from shared
    // memory straight into the set. Series of the heads are distinct (dropping replica labels
    // may make two the same: the builder then merges them).
    const { shards } = this.opts.pool;
    for (const h of await this.headRefs(rest, mint, maxt)) addHeadSeries(set, shards[h.shard]!.view, h.refs, mint, maxt);
    const warnings = await this.addStores(set, rest, mint, maxt, deadline);
    const out = set.build();
    if (warnings.length > 0) out.warnings = warnings;
    return out;
  }

  /**
   * gather is select for a query thread (src/query/headSelect.ts): the heads' matching series as
   * refs, to be read from shared memory by that thread, and the blocks' and peers' packed.
   */
  async gather(matchers: Matcher[], mint: number, maxt: number, deadline?: number): Promise<Gathered> {
    const g: Gathered = { heads: [], rest: this.builder().build(), external: this.ext, drop: this.opts.replicaLabels ?? [] };
    const rest = this.matchersLeft(matchers);
    if (rest === null) return g;
    g.heads = (await this.headRefs(rest, mint, maxt)).filter((h) => h.refs.length > 0);
    const set = this.builder();
    const warnings = await this.addStores(set, rest, mint, maxt, deadline);
    g.rest = set.build();
    if (warnings.length > 0) g.rest.warnings = warnings;
    return g;
  }

  /** blobOf hands shard `shard`'s label blob of `ref` (in shared memory) to `f`. */
  blobOf<T>(shard: number, ref: number, f: (buf: Uint8Array, off: number, len: number) => T): T {
    return this.opts.pool.shards[shard]!.view.labelsInto(ref, f);
  }

  /** subscribe opens a feed of each shard's segment news for a query thread. */
  subscribe(shards: number[]): { ports: MessagePort[]; generations: number[] } {
    return this.opts.pool.subscribe(shards);
  }
}

/** TenantQuerier evaluates selections in this thread: a TenantSource, decoded. */
export class TenantQuerier implements Querier {
  private readonly source: TenantSource;
  /** Warnings of the selections so far (unreachable peers). */
  readonly warnings: string[] = [];

  constructor(opts: QuerierOptions, tenant: string) {
    this.source = new TenantSource(opts, tenant);
  }

  async select(matchers: Matcher[], mint: number, maxt: number, hints?: SelectHints): Promise<SeriesData[]> {
    const set = await this.source.select(matchers, mint, maxt, hints?.deadline);
    if (set.warnings) this.warnings.push(...set.warnings);
    return decodeSelection(set, mint, maxt, hints);
  }
}
