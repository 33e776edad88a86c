/**
 * Hashrings turns a parsed hashring file into rings and answers "which ring serves this tenant",
 * as Thanos Receive's `multiHashring` does: the first hashring in file order whose tenants match
 * (a hashring without tenants matches every tenant), the answer cached per tenant, and the error
 * "no matching hashring to handle tenant" when none matches. Pure; touches nothing.
 */
import { ConfigError, ErrorCode, SluiceError } from '../errors.js';
import type { HashringConfig } from './config.js';
import { HashmodRing } from './hashmod.js';
import { KetamaRing, SECTIONS_PER_NODE } from './ketama.js';
import type { Endpoint, HashringAlgorithm, Ring } from './ring.js';

/** HashringsOptions are the flags that shape the rings. */
export interface HashringsOptions {
  /** `--receive.hashrings-algorithm`: used by hashrings without their own `algorithm`. */
  algorithm: HashringAlgorithm;
  /** `--receive.replication-factor`. */
  replicationFactor: number;
  /** Ketama sections per endpoint (tests only; Thanos uses 1000). */
  sectionsPerNode?: number;
}

/** TenantRing is the ring chosen for a tenant, with the hashring entry it came from. */
export interface TenantRing {
  /** name is the hashring's `hashring` field ('' if absent). */
  readonly name: string;
  readonly ring: Ring;
  readonly externalLabels: Readonly<Record<string, string>>;
}

/** MAX_CACHED_TENANTS bounds the tenant → ring cache; it is cleared when it grows past this. */
const MAX_CACHED_TENANTS = 100_000;

/** Hashrings holds the rings of one version of the hashring file. Replace it on reload. */
export class Hashrings {
  readonly configs: readonly HashringConfig[];
  readonly rings: readonly TenantRing[];
  private readonly exactSets: (Set<string> | null)[];
  private readonly cache = new Map<string, TenantRing | null>();

  /**
   * Builds every ring. Throws ConfigError naming the hashring if one cannot be built (AZs with
   * hashmod, fewer endpoints than the replication factor, an impossible AZ spread).
   */
  constructor(configs: readonly HashringConfig[], opts: HashringsOptions) {
    if (!Number.isInteger(opts.replicationFactor) || opts.replicationFactor < 1) {
      throw new ConfigError(`--receive.replication-factor: expected a positive integer, got ${opts.replicationFactor}`);
    }
    this.configs = configs;
    this.rings = configs.map((c, i) => {
      const algorithm = c.algorithm === '' ? opts.algorithm : c.algorithm;
      try {
        const ring = algorithm === 'ketama'
          ? new KetamaRing(c.endpoints, opts.replicationFactor, opts.sectionsPerNode ?? SECTIONS_PER_NODE)
          : new HashmodRing(c.endpoints, opts.replicationFactor);
        return { name: c.hashring, ring, externalLabels: c.externalLabels };
      } catch (e) {
        const label = c.hashring === '' ? `hashrings[${i}]` : `hashrings[${i}] (${JSON.stringify(c.hashring)})`;
        throw new ConfigError(`${label}: ${(e as Error).message}`);
      }
    });
    this.exactSets = configs.map((c) => (c.tenantMatcherType === 'exact' && c.tenants.length > 0 ? new Set(c.tenants) : null));
  }

  /**
   * ringFor returns the ring that serves `tenant`. Throws SluiceError (Internal, 500 like Thanos)
   * "no matching hashring to handle tenant" if no hashring matches.
   */
  ringFor(tenant: string): TenantRing {
    let r = this.cache.get(tenant);
    if (r === undefined) {
      r = this.match(tenant);
      if (this.cache.size >= MAX_CACHED_TENANTS) this.cache.clear();
      this.cache.set(tenant, r);
    }
    if (r === null) throw new SluiceError(ErrorCode.Internal, `no matching hashring to handle tenant ${JSON.stringify(tenant)}`);
    return r;
  }

  /** match finds the first hashring, in file order, that serves `tenant` (uncached). */
  private match(tenant: string): TenantRing | null {
    for (let i = 0; i < this.configs.length; i++) {
      const c = this.configs[i]!;
      if (c.tenants.length === 0) return this.rings[i]!;
      if (c.tenantMatcherType === 'exact') {
        if (this.exactSets[i]!.has(tenant)) return this.rings[i]!;
      } else if (c.tenantPatterns.some((p) => p.matches(tenant))) {
        return this.rings[i]!;
      }
    }
    return null;
  }

  /** nodes returns every endpoint of every hashring, sorted by address (duplicates kept, as Thanos). */
  nodes(): Endpoint[] {
    const all: Endpoint[] = [];
    for (const r of this.rings) all.push(...r.ring.endpoints);
    return all.sort((a, b) => Buffer.compare(Buffer.from(a.address), Buffer.from(b.address)));
  }

  /** addresses returns the distinct endpoint addresses of all hashrings. */
  addresses(): Set<string> {
    const s = new Set<string>();
    for (const r of this.rings) for (const e of r.ring.endpoints) s.add(e.address);
    return s;
  }
}
