/**
 * Hashring change plan (`sluice hashring plan`): how much of the data changes hands when one
 * hashring file replaces another. A seeded sample of series is placed with both files, exactly as
 * the receivers would place them (Hashrings: tenant → ring, then the ring's getN for each
 * replica), and per endpoint we count the replicas it held before and after, gained and lost.
 *
 * Placement depends only on the series hash (and on the tenant, which picks the ring), so the
 * sample can be uniformly random 64-bit hashes: xxhash64 of real label sets is indistinguishable
 * from them for this purpose (test/peer/plan.test.ts checks that). Pure; reads no files.
 */
import { ConfigError } from '../errors.js';
import type { HashringConfig } from './config.js';
import { GlobPattern } from './glob.js';
import { Hashrings, type TenantRing } from './hashrings.js';
import type { HashringAlgorithm } from './ring.js';

/** PlanOptions are the receiver flags placement depends on. */
export interface PlanOptions {
  /** `--receive.hashrings-algorithm`: the algorithm of rings without their own. */
  readonly algorithm: HashringAlgorithm;
  /** `--receive.replication-factor`. */
  readonly replicationFactor: number;
  /** Ketama sections per endpoint (tests only; Thanos uses 1000). */
  readonly sectionsPerNode?: number;
}

/** TenantWeight is a tenant of the sample and its relative share of the series. */
export interface TenantWeight {
  readonly tenant: string;
  readonly weight: number;
}

/**
 * SeriesSample is the series the plan places: series s belongs to `tenants[tenantOf[s]]` and has
 * the hash hi[s]·2^32 + lo[s].
 */
export interface SeriesSample {
  readonly tenants: readonly string[];
  readonly tenantOf: Uint32Array;
  readonly lo: Uint32Array;
  readonly hi: Uint32Array;
}

/** EndpointPlan is what one endpoint holds before and after, in replicas and shares of all replicas. */
export interface EndpointPlan {
  readonly address: string;
  /** inFrom / inTo: whether the old / new file lists the endpoint. */
  readonly inFrom: boolean;
  readonly inTo: boolean;
  /** Replica counts: held with the old file, with the new one, newly placed here, no longer here. */
  readonly before: number;
  readonly after: number;
  readonly gained: number;
  readonly lost: number;
  /** The same as shares of all replicas (series × RF), 0…1. */
  readonly beforeShare: number;
  readonly afterShare: number;
  readonly gainedShare: number;
  readonly lostShare: number;
}

/** TenantPlan says which ring serves a tenant of the sample, before and after. */
export interface TenantPlan {
  readonly tenant: string;
  readonly series: number;
  /** Ring labels (`hashrings[0] ("default")`), or null when no ring serves the tenant. */
  readonly ringBefore: string | null;
  readonly ringAfter: string | null;
}

/** HashringPlan is the result of planHashringChange. */
export interface HashringPlan {
  readonly series: number;
  readonly replicationFactor: number;
  /** totalReplicas is series × RF: the denominator of every share. */
  readonly totalReplicas: number;
  /** endpoints of both files, sorted by address. */
  readonly endpoints: readonly EndpointPlan[];
  readonly tenants: readonly TenantPlan[];
  /** movedReplicas is the replicas placed on an endpoint that did not hold them before (Σ gained). */
  readonly movedReplicas: number;
  /** movedReplicaShare = movedReplicas / totalReplicas. */
  readonly movedReplicaShare: number;
  /** movedSeries is the series with at least one replica gained or lost anywhere. */
  readonly movedSeries: number;
  /** movedSeriesShare = movedSeries / series. */
  readonly movedSeriesShare: number;
  /** Series whose tenant no ring serves, with the old file and with the new one. */
  readonly unroutableBefore: number;
  readonly unroutableAfter: number;
}

/** DEFAULT_PLAN_SERIES is the sample size of `sluice hashring plan` (about ±0.3 % on a share). */
export const DEFAULT_PLAN_SERIES = 100_000;

/** CATCH_ALL_TENANT stands for "every tenant not listed" (Thanos' default tenant ID). */
export const CATCH_ALL_TENANT = 'default-tenant';

/**
 * planTenants picks the tenants a plan should sample, equally weighted: every tenant listed in
 * either file (an example name for each glob), and CATCH_ALL_TENANT when a catch-all ring exists.
 * `notes` receives a line for each glob no example could be made for.
 */
export function planTenants(from: readonly HashringConfig[], to: readonly HashringConfig[], notes: string[] = []): TenantWeight[] {
  const names = new Set<string>();
  let catchAll = false;
  for (const c of [...from, ...to]) {
    if (c.tenants.length === 0) { catchAll = true; continue; }
    if (c.tenantMatcherType === 'exact') { for (const t of c.tenants) names.add(t); continue; }
    for (const p of c.tenantPatterns) {
      const ex = globExample(p);
      if (ex === null) notes.push(`no example tenant found for glob ${JSON.stringify(p.source)}; pass --tenant NAME to sample it`);
      else names.add(ex);
    }
  }
  if (catchAll) {
    let t = CATCH_ALL_TENANT;
    for (let i = 2; names.has(t); i++) t = `${CATCH_ALL_TENANT}-${i}`;
    names.add(t);
  }
  return [...names].map((tenant) => ({ tenant, weight: 1 }));
}

/**
 * syntheticSample makes `series` uniformly random series hashes, split over `tenants` by weight,
 * from a seeded generator: the same arguments give the same sample on every machine.
 */
export function syntheticSample(tenants: readonly TenantWeight[], series: number, seed = 1): SeriesSample {
  if (tenants.length === 0) throw new ConfigError('plan: no tenant to sample');
  if (!Number.isInteger(series) || series < 1) throw new ConfigError(`plan: the series count must be a positive integer, got ${series}`);
  const total = tenants.reduce((s, t) => s + t.weight, 0);
  if (!(total > 0) || tenants.some((t) => !(t.weight >= 0) || !Number.isFinite(t.weight))) {
    throw new ConfigError('plan: tenant weights must be non-negative numbers, not all zero');
  }
  const tenantOf = new Uint32Array(series);
  let start = 0;
  let acc = 0;
  tenants.forEach((t, i) => {
    acc += t.weight;
    const end = i === tenants.length - 1 ? series : Math.round((series * acc) / total);
    tenantOf.fill(i, start, end);
    start = end;
  });
  const lo = new Uint32Array(series);
  const hi = new Uint32Array(series);
  let state = seed >>> 0;
  // mulberry32, two draws per hash.
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let z = Math.imul(state ^ (state >>> 15), state | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  };
  for (let s = 0; s < series; s++) {
    lo[s] = next();
    hi[s] = next();
  }
  return { tenants: tenants.map((t) => t.tenant), tenantOf, lo, hi };
}

/**
 * planHashringChange places `sample` with the `from` file and with the `to` file and counts what
 * moves. Throws ConfigError (naming the file and the hashring) if either file's rings cannot be
 * built with these options, as the receiver would refuse them.
 */
export function planHashringChange(
  from: readonly HashringConfig[],
  to: readonly HashringConfig[],
  opts: PlanOptions,
  sample: SeriesSample,
): HashringPlan {
  const ringOpts = { algorithm: opts.algorithm, replicationFactor: opts.replicationFactor, ...(opts.sectionsPerNode === undefined ? {} : { sectionsPerNode: opts.sectionsPerNode }) };
  const before = build(from, ringOpts, '--from');
  const after = build(to, ringOpts, '--to');
  const rf = opts.replicationFactor;

  // Global endpoint ids: every address of either file, sorted.
  const addresses = [...new Set([...before.addresses(), ...after.addresses()])].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const id = new Map(addresses.map((a, i) => [a, i] as const));
  const nT = sample.tenants.length;
  const ringB: (TenantRing | null)[] = sample.tenants.map((t) => ringOrNull(before, t));
  const ringA: (TenantRing | null)[] = sample.tenants.map((t) => ringOrNull(after, t));
  // Ring endpoint index → global id, per tenant.
  const toGlobal = (r: TenantRing | null): Int32Array => Int32Array.from(r === null ? [] : r.ring.endpoints.map((e) => id.get(e.address)!));
  const mapB = ringB.map(toGlobal);
  const mapA = ringA.map(toGlobal);

  const E = addresses.length;
  const cBefore = new Float64Array(E);
  const cAfter = new Float64Array(E);
  const cGained = new Float64Array(E);
  const cLost = new Float64Array(E);
  const perTenant = new Float64Array(nT);
  const repB = new Int32Array(rf);
  const repA = new Int32Array(rf);
  let movedSeries = 0;
  let unroutableBefore = 0;
  let unroutableAfter = 0;

  const { lo, hi, tenantOf } = sample;
  for (let s = 0; s < tenantOf.length; s++) {
    const t = tenantOf[s]!;
    perTenant[t]!++;
    const rb = ringB[t]!;
    const ra = ringA[t]!;
    let nb = 0;
    let na = 0;
    if (rb !== null) {
      const m = mapB[t]!;
      for (let n = 0; n < rf; n++) { const g = m[rb.ring.getN(lo[s]!, hi[s]!, n)]!; repB[nb++] = g; cBefore[g]!++; }
    } else unroutableBefore++;
    if (ra !== null) {
      const m = mapA[t]!;
      for (let n = 0; n < rf; n++) { const g = m[ra.ring.getN(lo[s]!, hi[s]!, n)]!; repA[na++] = g; cAfter[g]!++; }
    } else unroutableAfter++;
    let moved = false;
    for (let i = 0; i < na; i++) if (!has(repB, nb, repA[i]!)) { cGained[repA[i]!]!++; moved = true; }
    for (let i = 0; i < nb; i++) if (!has(repA, na, repB[i]!)) { cLost[repB[i]!]!++; moved = true; }
    if (moved) movedSeries++;
  }

  const series = tenantOf.length;
  const totalReplicas = series * rf;
  const fromSet = before.addresses();
  const toSet = after.addresses();
  const endpoints: EndpointPlan[] = addresses.map((address, g) => ({
    address,
    inFrom: fromSet.has(address),
    inTo: toSet.has(address),
    before: cBefore[g]!,
    after: cAfter[g]!,
    gained: cGained[g]!,
    lost: cLost[g]!,
    beforeShare: cBefore[g]! / totalReplicas,
    afterShare: cAfter[g]! / totalReplicas,
    gainedShare: cGained[g]! / totalReplicas,
    lostShare: cLost[g]! / totalReplicas,
  }));
  const movedReplicas = endpoints.reduce((s, e) => s + e.gained, 0);
  const tenants: TenantPlan[] = sample.tenants.map((tenant, t) => ({
    tenant,
    series: perTenant[t]!,
    ringBefore: ringName(before, ringB[t]!),
    ringAfter: ringName(after, ringA[t]!),
  }));
  return {
    series,
    replicationFactor: rf,
    totalReplicas,
    endpoints,
    tenants,
    movedReplicas,
    movedReplicaShare: movedReplicas / totalReplicas,
    movedSeries,
    movedSeriesShare: movedSeries / series,
    unroutableBefore,
    unroutableAfter,
  };
}

/** build makes the rings of one file, naming it in the error. */
function build(configs: readonly HashringConfig[], opts: ConstructorParameters<typeof Hashrings>[1], which: string): Hashrings {
  try {
    return new Hashrings(configs, opts);
  } catch (e) {
    throw new ConfigError(`${which}: ${(e as Error).message}`);
  }
}

function ringOrNull(h: Hashrings, tenant: string): TenantRing | null {
  try {
    return h.ringFor(tenant);
  } catch {
    return null;
  }
}

function ringName(h: Hashrings, r: TenantRing | null): string | null {
  if (r === null) return null;
  const i = h.rings.indexOf(r);
  return r.name === '' ? `hashrings[${i}]` : `hashrings[${i}] (${JSON.stringify(r.name)})`;
}

/** has tells whether `v` is among the first `n` entries of `a` (n is at most RF: tiny). */
function has(a: Int32Array, n: number, v: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] === v) return true;
  return false;
}

/**
 * globExample makes a tenant name that `p` matches: `*` becomes "example", `?` "x", a class its
 * first character (or a few guesses when negated). Returns null when no guess matches.
 */
function globExample(p: GlobPattern): string | null {
  for (const fill of ['example', 'x', '0', '']) {
    let out = '';
    const src = [...p.source];
    for (let i = 0; i < src.length; i++) {
      const c = src[i]!;
      if (c === '*') out += fill;
      else if (c === '?') out += fill === '' || fill === 'example' ? 'x' : fill;
      else if (c === '\\') out += src[++i] ?? '';
      else if (c === '[') {
        let j = i + 1;
        const negate = src[j] === '^';
        if (negate) j++;
        const first = src[j] === '\\' ? src[j + 1] : src[j];
        while (j < src.length && !(src[j] === ']' && j > i + 1 + (negate ? 1 : 0))) j += src[j] === '\\' ? 2 : 1;
        out += negate ? (fill === '' ? 'x' : fill[0]!) : (first ?? '');
        i = j;
      } else out += c;
    }
    if (p.matches(out)) return out;
  }
  return null;
}
