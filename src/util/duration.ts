/**
 * Durations as Prometheus and Thanos write them in flags and config files (model.Duration):
 * `1h30m`, `90s`, `500ms`, `2d`, `1w`, `1y`, or `0`.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** parseDuration returns the duration in ms, or undefined if `s` is not one. */
export function parseDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const re = /(\d+)(ms|s|m|h|d|w|y)/y;
  let total = 0;
  let m: RegExpExecArray | null;
  while (re.lastIndex < s.length && (m = re.exec(s)) !== null) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return s !== '' && re.lastIndex === s.length ? total : undefined;
}
