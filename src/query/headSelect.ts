/**
 * Head reads in the thread that evaluates a query. The main thread only asks each shard which of
 * its series match (a message the shard answers between rounds) and gathers the blocks and peers;
 * the query thread copies the head series' labels and chunks out of shared memory itself, through
 * its own feeds of the shards' segment news (src/sharedmem/headFeed.ts). That copy (tens of MB for
 * a query over 100k series) then runs at the query threads' priority (SCHED_IDLE), not on the
 * main thread beside ingestion.
 *
 * Refs belong to the shard thread that handed them out (its generation, src/shards/pool.ts): a
 * feed of another generation cannot read them, and a shard that restarted between the two makes
 * the select fail as unavailable, as a shard that is down does.
 */
import { SeriesSetBuilder, seriesCount, transferList, type RawSeriesSet } from './seriesSet.js';
import type { HeadFeeds, HeadRefs, Subscriber } from '../sharedmem/headFeed.js';
import type { HeadView } from '../sharedmem/headView.js';
import type { Labels } from '../model/labels.js';
import type { BufferSource } from '../util/bufferPool.js';

export type { HeadRefs, Subscriber } from '../sharedmem/headFeed.js';

/**
 * Gathered is a selection whose head series are still refs: `rest` holds the series of blocks and
 * peers, packed (labels complete); `external` and `drop` are what the head series' labels get and
 * lose (TenantSource's external labels and replica labels).
 */
export interface Gathered {
  heads: HeadRefs[];
  rest: RawSeriesSet;
  external: Labels;
  drop: string[];
}

/** gatheredTransfer names the buffers of a gathered selection for postMessage. */
export function gatheredTransfer(g: Gathered): ArrayBuffer[] {
  const l = transferList(g.rest);
  for (const h of g.heads) l.push(h.refs.buffer as ArrayBuffer);
  return [...new Set(l)];
}

/** addHeadSeries copies the labels and the chunks overlapping [mint, maxt] of `refs` from `view` into `set`. */
export function addHeadSeries(set: SeriesSetBuilder, view: HeadView, refs: Int32Array, mint: number, maxt: number): void {
  const add = (buf: Uint8Array, off: number, len: number): number => set.addDistinctBlob(buf, off, len);
  for (const ref of refs) view.chunksInto(ref, mint, maxt, set.into(view.labelsInto(ref, add)));
}

/**
 * assemble reads the head series of `g` over [mint, maxt] through this thread's `feeds` and packs
 * them with its rest, as TenantSource.select packs a selection on the main thread; the packed
 * bytes' large buffers come from `buffers` (the query's lease of this thread's pool).
 */
export async function assemble(
  feeds: HeadFeeds, g: Gathered, mint: number, maxt: number, subscribe: Subscriber, buffers?: BufferSource,
): Promise<RawSeriesSet> {
  if (g.heads.length === 0) return g.rest;
  await feeds.ensure(g.heads, subscribe);
  const set = new SeriesSetBuilder({ external: g.external, drop: g.drop, ...(buffers !== undefined ? { buffers } : {}) });
  for (const h of g.heads) addHeadSeries(set, feeds.view(h.shard), h.refs, mint, maxt);
  if (seriesCount(g.rest) > 0) set.addSet(g.rest);
  const out = set.build();
  if (g.rest.warnings) out.warnings = g.rest.warnings;
  return out;
}
