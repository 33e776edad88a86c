/**
 * options.ts holds the knobs of a load run (LoadOptions), their defaults and their range checks.
 */

/** ROUND_INTERVAL_MS is the interval between rounds in the sample timestamps (ms), as a 15 s scrape interval. */
export const ROUND_INTERVAL_MS = 15_000;

/** LoadOptions are the knobs of one load run. */
export interface LoadOptions {
  /** Full remote-write URL, e.g. http://127.0.0.1:19291/api/v1/receive. */
  url: string;
  /** Number of active series. */
  series: number;
  /** Rounds to send (each round = one sample per series); ignored when durationSec > 0. */
  rounds: number;
  /** Series per request. */
  batch: number;
  /** HTTP connections, and requests in flight. */
  concurrency: number;
  /** Tenants; series i belongs to tenant i % tenants. The tenant header is sent when tenants > 1. */
  tenants: number;
  /** Labels per series, __name__ included (2..32). */
  labels: number;
  /** When > 0, send rounds until this many seconds have passed (rounds is then ignored). */
  durationSec: number;
  /** PRNG seed. */
  seed: number;
  /** Index of the first round to send (compare.ts warms up with round 0, then measures from 1). */
  startRound: number;
  /** Timestamp of round 0 in ms. */
  startMs: number;
  /** Header that names the tenant. */
  tenantHeader: string;
  /** Retries of one request on 5xx, 429 or a network error. */
  maxRetries: number;
  /** Header and body timeout of one attempt (ms). */
  timeoutMs: number;
}

/** DEFAULT_OPTIONS are the values of every LoadOptions field but the URL when a flag is not given. */
export const DEFAULT_OPTIONS: Omit<LoadOptions, 'url'> = {
  series: 10_000,
  rounds: 10,
  batch: 500,
  concurrency: 8,
  tenants: 1,
  labels: 8,
  durationSec: 0,
  seed: 1,
  startRound: 0,
  startMs: Math.floor(Date.now() / ROUND_INTERVAL_MS) * ROUND_INTERVAL_MS,
  tenantHeader: 'THANOS-TENANT',
  maxRetries: 8,
  timeoutMs: 30_000,
};

/** MIN_TS and MAX_TS bound the timestamps a run may send: they keep every timestamp a 6-byte varint. */
const MIN_TS = 2 ** 35;
const MAX_TS = 2 ** 42;
/** MAX_ROUNDS is the most rounds one run may send (duration mode sends until time is up, at most this). */
export const MAX_ROUNDS = 10_000_000;

/** resolveOptions fills defaults and checks ranges; it throws on a bad value. */
export function resolveOptions(partial: Partial<LoadOptions> & { url: string }): LoadOptions {
  const o: LoadOptions = { ...DEFAULT_OPTIONS, ...partial };
  const int = (name: keyof LoadOptions, min: number, max: number): void => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
    }
  };
  int('series', 1, 50_000_000);
  int('rounds', 1, MAX_ROUNDS);
  int('batch', 1, 1_000_000);
  int('concurrency', 1, 4096);
  int('tenants', 1, 100_000);
  int('labels', 2, 32);
  int('seed', -(2 ** 31), 2 ** 32 - 1);
  int('startRound', 0, MAX_ROUNDS);
  int('maxRetries', 0, 100);
  int('timeoutMs', 1, 3_600_000);
  if (!(o.durationSec >= 0 && o.durationSec <= 86_400)) throw new Error('--duration must be in [0, 86400] seconds');
  if (o.tenants > o.series) throw new Error('--tenants must not exceed --series');
  if (!Number.isInteger(o.startMs) || o.startMs < MIN_TS || o.startMs + (o.startRound + MAX_ROUNDS) * ROUND_INTERVAL_MS >= MAX_TS) {
    throw new Error(`start timestamp ${o.startMs} out of range (must be a ms timestamp between 1971 and 2100)`);
  }
  new URL(o.url); // throws on a bad URL
  return o;
}
