/**
 * The cardinality part of /api/v1/status/tsdb: from the label sets of a head's series, the top
 * lists Prometheus shows (series per metric name, values per label name, bytes of values per
 * label name, series per label pair) and the number of distinct label pairs. A pure function over
 * label sets: the caller collects the series (and fills numSeries, chunkCount, minTime, maxTime
 * of headStats); nothing here touches shards or I/O.
 *
 * As Prometheus' MemPostings.Stats computes them (checked against Prometheus 2.42 in the tests):
 * - seriesCountByMetricName: series per `__name__` value;
 * - labelValueCountByLabelName: distinct values per label name;
 * - memoryInBytesByLabelName: the UTF-8 bytes of the distinct values of each label name (newer
 *   Prometheus versions weigh each value by its series count and a per-entry overhead);
 * - seriesCountByLabelValuePair: series per `name=value`;
 * - numLabelPairs: distinct `name=value` pairs over all series.
 * Each list holds at most `limit` items, largest value first; Prometheus leaves ties in map order,
 * here they go by name (bytewise) so answers are stable.
 */
import { ErrorCode, SluiceError } from '../errors.js';
import type { Labels } from '../model/labels.js';

/** TsdbStat is one `{name, value}` item of a status list. */
export interface TsdbStat {
  name: string;
  value: number;
}

/** CardinalityStats is what cardinalityStats returns; field names follow the API's JSON. */
export interface CardinalityStats {
  seriesCountByMetricName: TsdbStat[];
  labelValueCountByLabelName: TsdbStat[];
  memoryInBytesByLabelName: TsdbStat[];
  seriesCountByLabelValuePair: TsdbStat[];
  /** numSeries is the number of label sets seen. */
  numSeries: number;
  /** numLabelPairs is the number of distinct name=value pairs (headStats.numLabelPairs). */
  numLabelPairs: number;
}

/** DEFAULT_STATUS_LIMIT is the API's default `limit`. */
export const DEFAULT_STATUS_LIMIT = 10;

/**
 * cardinalityStats computes the top-`limit` lists of /api/v1/status/tsdb from series label
 * sets. Each label set is one series (duplicates count twice). Memory: one map entry per
 * distinct label pair; time: O(pairs · log limit) beyond the pass over the labels.
 */
export function cardinalityStats(series: Iterable<Labels>, limit: number = DEFAULT_STATUS_LIMIT): CardinalityStats {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new SluiceError(ErrorCode.BadRequest, 'limit must be a positive number');
  }
  // name → value → number of series with that pair.
  const pairs = new Map<string, Map<string, number>>();
  let numSeries = 0;
  for (const ls of series) {
    numSeries++;
    for (const [name, value] of ls) {
      if (name === '') continue; // Prometheus' all-postings key; never a real label
      let values = pairs.get(name);
      if (values === undefined) {
        values = new Map();
        pairs.set(name, values);
      }
      values.set(value, (values.get(value) ?? 0) + 1);
    }
  }

  const byMetric = new TopK(limit);
  const valuesPerName = new TopK(limit);
  const bytesPerName = new TopK(limit);
  const perPair = new TopK(limit);
  let numLabelPairs = 0;
  for (const [name, values] of pairs) {
    valuesPerName.offer(name, values.size);
    numLabelPairs += values.size;
    let bytes = 0;
    for (const [value, count] of values) {
      if (name === '__name__') byMetric.offer(value, count);
      perPair.offer(`${name}=${value}`, count);
      bytes += Buffer.byteLength(value, 'utf8');
    }
    bytesPerName.offer(name, bytes);
  }
  return {
    seriesCountByMetricName: byMetric.result(),
    labelValueCountByLabelName: valuesPerName.result(),
    memoryInBytesByLabelName: bytesPerName.result(),
    seriesCountByLabelValuePair: perPair.result(),
    numSeries,
    numLabelPairs,
  };
}

/** before tells whether (name, value) ranks ahead of b: larger value first, then smaller name. */
function before(name: string, value: number, b: TsdbStat): boolean {
  if (value !== b.value) return value > b.value;
  return compareCodePoints(name, b.name) < 0;
}

/**
 * compareCodePoints orders strings by code point, which is their UTF-8 byte order (plain `<`
 * compares UTF-16 units and puts U+E000…U+FFFF after astral characters). Allocates nothing.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Only a surrogate against a unit at or above U+E000 orders differently from UTF-16.
    const sa = ca >= 0xd800 && ca < 0xe000;
    const sb = cb >= 0xd800 && cb < 0xe000;
    if (sa !== sb) return sa ? 1 : -1;
    return ca - cb;
  }
  return a.length - b.length;
}

function beats(a: TsdbStat, b: TsdbStat): boolean {
  return before(a.name, a.value, b);
}

/**
 * TopK keeps the `k` best items offered, in a heap whose root is the worst kept item, so an
 * offer costs O(log k) and a list of a million pairs is never sorted whole.
 */
class TopK {
  private readonly k: number;
  private readonly heap: TsdbStat[] = [];

  constructor(k: number) {
    this.k = k;
  }

  offer(name: string, value: number): void {
    const h = this.heap;
    if (h.length < this.k) {
      h.push({ name, value });
      this.up(h.length - 1);
      return;
    }
    if (!before(name, value, h[0]!)) return;
    h[0] = { name, value };
    this.down(0);
  }

  /** result returns the kept items, best first. */
  result(): TsdbStat[] {
    return [...this.heap].sort((a, b) => b.value - a.value || compareCodePoints(a.name, b.name));
  }

  // The root holds the item every other kept item ranks before.
  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!beats(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < h.length && beats(h[worst]!, h[l]!)) worst = l;
      if (r < h.length && beats(h[worst]!, h[r]!)) worst = r;
      if (worst === i) return;
      [h[worst], h[i]] = [h[i]!, h[worst]!];
      i = worst;
    }
  }
}
