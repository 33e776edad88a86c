/**
 * Quantiles: the φ-quantile of a set of values (quantile, quantile_over_time, mad_over_time) and
 * of classic histograms made of `le` buckets (histogram_quantile, histogram_fraction), after
 * Prometheus' promql/quantile.go.
 */

/**
 * quantile returns the q-quantile of values (sorted in place), interpolating between the two
 * nearest ranks; NaN values rank below all others, as in Prometheus' vectorByValueHeap. NaN for
 * no values or a NaN q; -Inf for q < 0; +Inf for q > 1.
 */
export function quantile(q: number, values: Float64Array): number {
  if (values.length === 0 || q !== q) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  // The native numeric sort puts NaN last; index as if the NaNs came first.
  values.sort();
  const n = values.length;
  let nans = 0;
  while (nans < n && values[n - 1 - nans] !== values[n - 1 - nans]) nans++;
  const at = (i: number): number => (i < nans ? NaN : values[i - nans]!);
  const rank = q * (n - 1);
  const lowerIndex = Math.max(0, Math.floor(rank));
  const upperIndex = Math.min(n - 1, lowerIndex + 1);
  const weight = rank - Math.floor(rank);
  return at(lowerIndex) * (1 - weight) + at(upperIndex) * weight;
}

/** Bucket is one classic-histogram bucket: its upper bound and cumulative count. */
export interface Bucket {
  upperBound: number;
  count: number;
}

/** almostEqual is Prometheus' util/almost.Equal. */
export function almostEqual(a: number, b: number, epsilon: number): boolean {
  const minNormal = 2.2250738585072014e-308;
  if (a !== a && b !== b) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < minNormal) return diff < epsilon * minNormal;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

function sortAndCoalesce(buckets: Bucket[]): Bucket[] {
  buckets.sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  const out: Bucket[] = [];
  for (const b of buckets) {
    const last = out[out.length - 1];
    if (last && last.upperBound === b.upperBound) last.count += b.count;
    else out.push({ upperBound: b.upperBound, count: b.count });
  }
  return out;
}

/**
 * ensureMonotonic absorbs differences within the tolerance (float noise, either direction) and
 * then carries the last accepted count forward over any decrease. Returns whether a decrease had
 * to be removed.
 */
function ensureMonotonic(buckets: Bucket[], tolerance: number): boolean {
  let forced = false;
  let prev = buckets[0]!.count;
  for (let i = 1; i < buckets.length; i++) {
    const curr = buckets[i]!.count;
    if (curr === prev) continue;
    if (almostEqual(prev, curr, tolerance)) {
      buckets[i]!.count = prev;
      continue;
    }
    if (curr < prev) {
      buckets[i]!.count = prev;
      forced = true;
      continue;
    }
    prev = curr;
  }
  return forced;
}

/** BucketQuantileResult is the quantile and whether monotonicity had to be forced. */
export interface BucketQuantileResult {
  value: number;
  forcedMonotonic: boolean;
}

/**
 * bucketQuantile is histogram_quantile over classic buckets: linear interpolation within the
 * bucket holding the rank, 0 as the lower bound of a first bucket above 0, and the second highest
 * bound when the rank falls into the +Inf bucket.
 */
export function bucketQuantile(q: number, input: Bucket[]): BucketQuantileResult {
  if (q !== q) return { value: NaN, forcedMonotonic: false };
  if (q < 0) return { value: -Infinity, forcedMonotonic: false };
  if (q > 1) return { value: Infinity, forcedMonotonic: false };
  let buckets = input.slice();
  buckets.sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  if (buckets[buckets.length - 1]!.upperBound !== Infinity) return { value: NaN, forcedMonotonic: false };
  buckets = sortAndCoalesce(buckets);
  const forcedMonotonic = ensureMonotonic(buckets, 1e-12);
  if (buckets.length < 2) return { value: NaN, forcedMonotonic };
  const observations = buckets[buckets.length - 1]!.count;
  if (observations === 0) return { value: NaN, forcedMonotonic };
  let rank = q * observations;
  let b = 0;
  {
    let lo = 0;
    let hi = buckets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (buckets[mid]!.count >= rank) hi = mid;
      else lo = mid + 1;
    }
    b = lo;
  }
  if (b === buckets.length - 1) return { value: buckets[buckets.length - 2]!.upperBound, forcedMonotonic };
  if (b === 0 && buckets[0]!.upperBound <= 0) return { value: buckets[0]!.upperBound, forcedMonotonic };
  let bucketStart = 0;
  const bucketEnd = buckets[b]!.upperBound;
  let count = buckets[b]!.count;
  if (b > 0) {
    bucketStart = buckets[b - 1]!.upperBound;
    count -= buckets[b - 1]!.count;
    rank -= buckets[b - 1]!.count;
  }
  return { value: bucketStart + (bucketEnd - bucketStart) * (rank / count), forcedMonotonic };
}

/** bucketFraction is histogram_fraction over classic buckets. */
export function bucketFraction(lower: number, upper: number, input: Bucket[]): number {
  if (input.length === 0) return NaN;
  let buckets = input.slice();
  buckets.sort((a, b) => (a.upperBound < b.upperBound ? -1 : a.upperBound > b.upperBound ? 1 : 0));
  if (buckets[buckets.length - 1]!.upperBound !== Infinity) return NaN;
  buckets = sortAndCoalesce(buckets);
  const count = buckets[buckets.length - 1]!.count;
  if (count === 0 || lower !== lower || upper !== upper) return NaN;
  if (lower >= upper) return 0;
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  let lowerBound = buckets[0]!.upperBound <= 0 ? -Infinity : 0;
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]!;
    if (i > 0) lowerBound = buckets[i - 1]!.upperBound;
    const upperBound = b.upperBound;
    const interp = (v: number): number => {
      if (lowerBound === -Infinity) return b.count;
      return rank + (b.count - rank) * (v - lowerBound) / (upperBound - lowerBound);
    };
    if (!lowerSet && lowerBound >= lower) {
      lowerRank = rank;
      lowerSet = true;
    }
    if (!upperSet && lowerBound >= upper) {
      upperRank = rank;
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    if (!lowerSet && lowerBound < lower && upperBound > lower) {
      lowerRank = interp(lower);
      lowerSet = true;
    }
    if (!upperSet && lowerBound < upper && upperBound > upper) {
      upperRank = interp(upper);
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    rank = b.count;
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  return (upperRank - lowerRank) / count;
}
