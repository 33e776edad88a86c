/**
 * Metadata reads of one tenant: the label sets of its series (/api/v1/series), its label names
 * (/api/v1/labels) and one label's values (/api/v1/label/<name>/values), over the same places
 * PromQL reads (TenantSource, src/query/querier.ts): the shards' heads (each shard answers from
 * its postings), the blocks of the BlockSet overlapping the range, local and bucket-only (from the
 * index alone: label tables and series entries, never chunk bytes), and, when QuerierOptions.peers
 * is set, the other endpoints of the tenant's hashring over their StoreAPI. A peer that cannot
 * answer makes the answer partial and adds a warning, as for PromQL.
 *
 * As TenantSource does: matchers on the external labels and the tenant label are decided here,
 * series get those labels, `--query.replica-label`s are dropped (so replicas on several nodes are
 * one series), and a series found in several places is listed once. A block counts as soon as it
 * overlaps the range; within it, series are kept when one of their chunks overlaps it, while label
 * names and values asked for without matchers come from the block's label tables (Prometheus'
 * granularity: the label browser never reads a block's series).
 *
 * The `local*` methods are the raw part (heads and blocks, no labels added, no peers) that the
 * StoreAPI serves (src/query/storeProvider.ts). Touches nothing: reads through the pool, the block
 * set and the peers' clients.
 */
import { compileMatcher, type Matcher } from '../model/matchers.js';
import { compareLabels, tenantExternalLabels, withLabels, type Labels } from '../model/labels.js';
import type { QuerierOptions } from './querier.js';
import type { PeerMetadataQuery } from './peerReads.js';
import type { BlockReader } from '../blocks/reader.js';

/** MetadataAnswer is what a metadata read returns: the data and the warnings of peers that failed. */
export interface MetadataAnswer<T> {
  data: T[];
  warnings: string[];
}

/** seriesKey is a label set's identity for de-duplication. */
function seriesKey(ls: Labels): string {
  let k = '';
  for (const [n, v] of ls) k += `${n}\xff${v}\xff`;
  return k;
}

/** cut keeps the first `limit` items (0: all). */
function cut<T>(xs: T[], limit: number): T[] {
  return limit > 0 && xs.length > limit ? xs.slice(0, limit) : xs;
}

/** TenantMetadata answers the metadata endpoints for one tenant. */
export class TenantMetadata {
  private readonly opts: QuerierOptions;
  private readonly tenant: string;
  /** The tenant's external labels: the node's plus the tenant label, sorted. */
  private readonly ext: Labels;
  private readonly extMap: Map<string, string>;
  private readonly drop: ReadonlySet<string>;

  constructor(opts: QuerierOptions, tenant: string) {
    this.opts = opts;
    this.tenant = tenant;
    this.ext = tenantExternalLabels(opts.externalLabels, opts.tenantLabelName, tenant);
    this.extMap = new Map(this.ext);
    this.drop = new Set(opts.replicaLabels ?? []);
  }

  /**
   * series returns the label sets (with the tenant and external labels, without replica labels)
   * of the series matching any one of `matcherSets` (none: every series) with a sample in
   * [mint, maxt], sorted, each once, at most `limit` (0: all).
   */
  async series(matcherSets: Matcher[][], mint: number, maxt: number, limit = 0): Promise<MetadataAnswer<Labels>> {
    const sets = this.decideExternal(matcherSets);
    if (sets === null) return { data: [], warnings: [] };
    const [local, remote] = await Promise.all([
      this.localSeries(sets, mint, maxt),
      this.fromPeers(sets, (peers, matchers) => peers.series(this.tenant, this.peerQuery(matchers, mint, maxt, limit)).then((r) => ({ data: r.series, warnings: r.warnings }))),
    ]);
    const seen = new Map<string, Labels>();
    const put = (ls: Labels): void => {
      const k = seriesKey(ls);
      if (!seen.has(k)) seen.set(k, ls);
    };
    for (const ls of local) put(this.dropReplicas(withLabels(ls, this.ext)));
    for (const ls of remote.data) put(this.dropReplicas(ls));
    const all = [...seen.values()].sort(compareLabels);
    return { data: cut(all, limit), warnings: remote.warnings };
  }

  /**
   * labelNames returns the label names of the series `series()` would list, sorted, at most
   * `limit`. The tenant and external label names count when the node has any such series.
   */
  async labelNames(matcherSets: Matcher[][], mint: number, maxt: number, limit = 0): Promise<MetadataAnswer<string>> {
    const sets = this.decideExternal(matcherSets);
    if (sets === null) return { data: [], warnings: [] };
    const [local, remote] = await Promise.all([
      this.localLabelNames(sets, mint, maxt),
      this.fromPeers(sets, (peers, matchers) => peers.labelNames(this.tenant, this.peerQuery(matchers, mint, maxt, limit)).then((r) => ({ data: r.names, warnings: r.warnings }))),
    ]);
    const names = new Set([...local, ...remote.data]);
    if (local.length > 0) for (const [n] of this.ext) names.add(n);
    for (const n of this.drop) names.delete(n);
    return { data: cut([...names].sort(), limit), warnings: remote.warnings };
  }

  /**
   * labelValues returns the values of label `name` among the series `series()` would list, sorted,
   * at most `limit`. An external label's value (or the tenant) counts when the node has any such
   * series; a replica label has no values, as it is dropped from every series.
   */
  async labelValues(name: string, matcherSets: Matcher[][], mint: number, maxt: number, limit = 0): Promise<MetadataAnswer<string>> {
    const sets = this.decideExternal(matcherSets);
    if (sets === null || this.drop.has(name) || name === '') return { data: [], warnings: [] };
    const extValue = this.extMap.get(name);
    const local = extValue === undefined
      ? this.localLabelValues(name, sets, mint, maxt)
      : this.localHasSeries(sets, mint, maxt).then((any) => (any ? [extValue] : []));
    const [mine, remote] = await Promise.all([
      local,
      this.fromPeers(sets, (peers, matchers) => peers.labelValues(this.tenant, name, this.peerQuery(matchers, mint, maxt, limit)).then((r) => ({ data: r.values, warnings: r.warnings }))),
    ]);
    const values = new Set([...mine, ...remote.data]);
    values.delete('');
    return { data: cut([...values].sort(), limit), warnings: remote.warnings };
  }

  /**
   * localSeries returns the raw label sets (no labels added) of this node's series matching any
   * one of `matcherSets` with a sample in [mint, maxt]: heads and blocks, each once, unsorted.
   */
  async localSeries(matcherSets: Matcher[][], mint: number, maxt: number): Promise<Labels[]> {
    const sets = normalize(matcherSets);
    const seen = new Map<string, Labels>();
    const put = (ls: Labels): void => {
      const k = seriesKey(ls);
      if (!seen.has(k)) seen.set(k, ls);
    };
    const [head, readers] = await Promise.all([
      this.opts.pool.series({ tenant: this.tenant, matcherSets: sets, mint, maxt }),
      this.blockReaders(mint, maxt),
    ]);
    for (const ls of head) put(ls);
    await Promise.all(readers.map(async (r) => {
      for await (const batch of r.seriesLabels(sets, mint, maxt)) for (const ls of batch) put(ls);
    }));
    return [...seen.values()];
  }

  /** localLabelNames returns the label names of this node's series (heads and blocks), sorted. */
  async localLabelNames(matcherSets: Matcher[][], mint: number, maxt: number): Promise<string[]> {
    const sets = normalize(matcherSets);
    const [head, readers] = await Promise.all([
      this.opts.pool.labelNames({ tenant: this.tenant, matcherSets: sets, mint, maxt }),
      this.blockReaders(mint, maxt),
    ]);
    const parts = await Promise.all(readers.map((r) => (sets.length === 0 ? r.index.labelNames() : r.labelNamesOf(sets, mint, maxt))));
    return [...new Set([...head, ...parts.flat()])].sort();
  }

  /** localLabelValues returns the values of label `name` among this node's series (heads and blocks), sorted. */
  async localLabelValues(name: string, matcherSets: Matcher[][], mint: number, maxt: number): Promise<string[]> {
    const sets = normalize(matcherSets);
    const [head, readers] = await Promise.all([
      this.opts.pool.labelValues(name, { tenant: this.tenant, matcherSets: sets, mint, maxt }),
      this.blockReaders(mint, maxt),
    ]);
    const parts = await Promise.all(readers.map((r) => (sets.length === 0 ? r.index.labelValues(name) : r.labelValuesOf(name, sets, mint, maxt))));
    return [...new Set([...head, ...parts.flat()])].sort();
  }

  /** localHasSeries tells whether this node has a series matching the sets in [mint, maxt]. */
  private async localHasSeries(sets: Matcher[][], mint: number, maxt: number): Promise<boolean> {
    if ((await this.opts.pool.labelNames({ tenant: this.tenant, matcherSets: sets, mint, maxt })).length > 0) return true;
    const readers = await this.blockReaders(mint, maxt);
    // Every series of a block has a chunk: without matchers an overlapping block is enough.
    if (sets.length === 0) return readers.length > 0;
    for (const r of readers) {
      for await (const batch of r.seriesLabels(sets, mint, maxt)) if (batch.length > 0) return true;
    }
    return false;
  }

  /** blockReaders opens the tenant's blocks overlapping [mint, maxt]. */
  private async blockReaders(mint: number, maxt: number): Promise<BlockReader[]> {
    const bs = this.opts.blocks;
    if (bs === undefined) return [];
    const known = await bs.blocks(this.opts.tenantLabelName, this.tenant, mint, maxt);
    return Promise.all(known.map((b) => bs.reader(b)));
  }

  /**
   * decideExternal decides the matchers on the tenant's external labels: a set one of them fails
   * is dropped, the others lose them. null: every set was dropped (nothing can match); [] (also
   * when a set is left with no matcher): every series.
   */
  private decideExternal(matcherSets: Matcher[][]): Matcher[][] | null {
    if (matcherSets.length === 0) return [];
    const out: Matcher[][] = [];
    for (const ms of matcherSets) {
      const rest: Matcher[] = [];
      let possible = true;
      for (const m of ms) {
        const v = this.extMap.get(m.name);
        if (v === undefined) rest.push(m);
        else if (!compileMatcher(m).matches(v)) { possible = false; break; }
      }
      if (possible) out.push(rest);
    }
    return out.length === 0 ? null : normalize(out);
  }

  /**
   * fromPeers runs `ask` once per matcher set (StoreAPI calls take one) when peers are set, and
   * joins the answers and warnings.
   */
  private async fromPeers<T>(sets: Matcher[][], ask: (peers: NonNullable<QuerierOptions['peers']>, matchers: Matcher[]) => Promise<MetadataAnswer<T>>): Promise<MetadataAnswer<T>> {
    const peers = this.opts.peers;
    if (peers === undefined) return { data: [], warnings: [] };
    const answers = await Promise.all((sets.length === 0 ? [[]] : sets).map((ms) => ask(peers, ms)));
    const warnings: string[] = [];
    for (const a of answers) for (const w of a.warnings) if (!warnings.includes(w)) warnings.push(w);
    return { data: answers.flatMap((a) => a.data), warnings };
  }

  private peerQuery(matchers: Matcher[], mint: number, maxt: number, limit: number): PeerMetadataQuery {
    return { matchers, mint, maxt, limit, withoutReplicaLabels: [...this.drop] };
  }

  /** dropReplicas removes the replica labels from a sorted label set. */
  private dropReplicas(ls: Labels): Labels {
    return this.drop.size === 0 ? ls : ls.filter(([n]) => !this.drop.has(n));
  }
}

/** normalize turns matcher sets of which one is empty (it matches every series) into none. */
function normalize(sets: Matcher[][]): Matcher[][] {
  return sets.some((s) => s.length === 0) ? [] : sets;
}
