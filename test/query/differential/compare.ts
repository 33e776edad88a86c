/**
 * Compares two Prometheus HTTP API query answers (`/api/v1/query`, `/api/v1/query_range`): the
 * expected one from Prometheus, the one under test from Sluice. Pure functions over parsed JSON;
 * no I/O.
 *
 * Equal means: both errors of the same errorType, or both successes with the same resultType,
 * the same set of series (by label set, after removing the labels only the tested side adds),
 * and per series the same timestamps and values equal within REL_TOLERANCE relative (NaN equals
 * NaN, each infinity equals itself). Instant vectors are compared as sets unless `ordered`.
 * Warnings and infos are ignored (3.x annotates what 2.42 does not).
 */

/** REL_TOLERANCE is the largest relative difference two values may have and count as equal. */
export const REL_TOLERANCE = 1e-9;

/** ApiReply is the JSON body of a query answer. */
export interface ApiReply {
  status: string;
  data?: { resultType: string; result: unknown };
  errorType?: string;
  error?: string;
}

/** Series is one series: its labels' canonical key and its [ms, value text] points. */
interface Series {
  key: string;
  points: [number, string][];
}

type RawPoint = [number, string];
type RawSeries = { metric?: Record<string, string>; value?: RawPoint; values?: RawPoint[] };

/** parseValue reads a sample value as the API writes it: "NaN", "+Inf", "-Inf" or a decimal. */
export function parseValue(s: string): number {
  // Number('+Inf') is NaN in JavaScript, so the infinities need naming.
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

/** valuesClose compares two sample values as written by the API. */
export function valuesClose(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseValue(a);
  const y = parseValue(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
  if (x === y) return true;
  if (!Number.isFinite(x) || !Number.isFinite(y)) return false;
  return Math.abs(x - y) <= REL_TOLERANCE * Math.max(Math.abs(x), Math.abs(y));
}

function labelKey(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',');
}

function ms(t: number): number {
  return Math.round(t * 1000);
}

/** toSeries flattens any result type into series; scalars and strings become one unlabeled series. */
function toSeries(data: { resultType: string; result: unknown }, strip: readonly string[]): Series[] {
  const one = (labels: Record<string, string>, points: RawPoint[]): Series => {
    const l: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) if (!strip.includes(k)) l[k] = v;
    return { key: labelKey(l), points: points.map(([t, v]) => [ms(t), v]) };
  };
  switch (data.resultType) {
    case 'scalar':
    case 'string':
      return [one({}, [data.result as RawPoint])];
    case 'vector':
      return (data.result as RawSeries[]).map((s) => one(s.metric ?? {}, [s.value!]));
    case 'matrix':
      return (data.result as RawSeries[]).map((s) => one(s.metric ?? {}, s.values ?? []));
    default:
      throw new Error(`unknown resultType ${data.resultType}`);
  }
}

function show(s: Series): string {
  return `{${s.key}}`;
}

/**
 * diffReplies returns null when `got` equals `want`, else a one-line description of the first
 * difference (series and point, with both values). `strip` names labels removed from `got`.
 */
export function diffReplies(want: ApiReply, got: ApiReply, strip: readonly string[], ordered: boolean): string | null {
  if (want.status !== 'success' || got.status !== 'success') {
    if (want.status === got.status && want.errorType === got.errorType) return null;
    return `prometheus: ${want.status} ${want.errorType ?? ''} ${want.error ?? ''} | sluice: ${got.status} ${got.errorType ?? ''} ${got.error ?? ''}`;
  }
  if (want.data!.resultType !== got.data!.resultType) {
    return `resultType: prometheus ${want.data!.resultType}, sluice ${got.data!.resultType}`;
  }
  const a = toSeries(want.data!, []);
  const b = toSeries(got.data!, strip);
  const dupe = (xs: Series[]): string | undefined => {
    const seen = new Set<string>();
    for (const s of xs) { if (seen.has(s.key)) return s.key; seen.add(s.key); }
    return undefined;
  };
  const dupB = dupe(b);
  if (dupB !== undefined) return `sluice returned {${dupB}} twice (after removing ${strip.join(', ')})`;
  if (!ordered) {
    a.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    b.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  }
  const bKeys = new Set(b.map((s) => s.key));
  const aKeys = new Set(a.map((s) => s.key));
  const missing = a.filter((s) => !bKeys.has(s.key));
  const extra = b.filter((s) => !aKeys.has(s.key));
  if (missing.length > 0 || extra.length > 0) {
    const m = missing.slice(0, 3).map(show).join(' ');
    const e = extra.slice(0, 3).map(show).join(' ');
    return `series differ: ${a.length} vs ${b.length}; only in prometheus (${missing.length}): ${m || '-'}; only in sluice (${extra.length}): ${e || '-'}`;
  }
  for (let k = 0; k < a.length; k++) {
    const x = a[k]!;
    const y = b[k]!;
    if (x.key !== y.key) return `order differs at #${k}: prometheus ${show(x)}, sluice ${show(y)}`;
    const n = Math.max(x.points.length, y.points.length);
    for (let p = 0; p < n; p++) {
      const px = x.points[p];
      const py = y.points[p];
      if (px === undefined || py === undefined || px[0] !== py[0]) {
        return `${show(x)} point #${p}: prometheus ${px ? `${px[1]} @${px[0]}` : 'none'}, sluice ${py ? `${py[1]} @${py[0]}` : 'none'} (${x.points.length} vs ${y.points.length} points)`;
      }
      if (!valuesClose(px[1], py[1])) {
        return `${show(x)} @${px[0]}: prometheus ${px[1]}, sluice ${py[1]}`;
      }
    }
  }
  return null;
}
