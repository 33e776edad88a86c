/**
 * The engine's view of storage. The engine first collects every selector's matchers and time
 * range, awaits all `select` calls, and then evaluates synchronously over the returned arrays, so
 * a Querier may be backed by shard threads, object storage or memory.
 */
import type { Labels } from '../../model/labels.js';
import type { Matcher } from '../../model/matchers.js';

/**
 * SeriesData is one series' samples in [mint, maxt]: `t` are millisecond timestamps in ascending
 * order, `v` the raw float values, stale markers (NaN with bits 0x7ff0000000000002) included.
 * `labels` is sorted by name and includes `__name__`. `st`, when present, holds the start
 * (created) timestamp of each sample, 0 where unknown.
 */
export interface SeriesData {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  st?: Float64Array;
}

/**
 * SelectHints tell a Querier what the query will look at. `labels`: the sorted names of the only
 * labels it reads (src/query/promql/projection.ts); a querier may leave every other label out of
 * the series it returns, or ignore the hint.
 */
export interface SelectHints {
  labels?: readonly string[];
  /**
   * lazy: the query reads the series one at a time and releases each (a range function's
   * argument): a querier may decode each series' samples only when it is read
   * (src/query/seriesDecode.ts lazySeriesSet), or ignore the hint.
   */
  lazy?: boolean;
  /**
   * deadline (epoch ms) of the query (--query.timeout): a querier that waits on other stores
   * gives up on them by then rather than let the query run past it.
   */
  deadline?: number;
}

/** Querier selects series by label matchers; every matcher must hold. */
export interface Querier {
  select(matchers: Matcher[], mint: number, maxt: number, hints?: SelectHints): Promise<SeriesData[]>;
  /**
   * maxSamples, when given, narrows the engine's --query.max-samples once the selects are done:
   * a querier that holds one part of a split query (src/query/split.ts) answers its share.
   */
  maxSamples?(): number | undefined;
}
