/**
 * The hashring configuration file (`--receive.hashrings-file` / `--receive.hashrings`): Thanos
 * Receive's JSON format, parsed and validated into plain objects. Every error is a ConfigError
 * whose message starts with the path of the offending field (`hashrings[1].endpoints[0].az: …`).
 * The format as we read it is docs/format/hashring.md. Pure; reads no files (see watcher.ts).
 */
import { ConfigError } from '../errors.js';
import { GlobPattern } from './glob.js';
import type { Endpoint, HashringAlgorithm } from './ring.js';

/** TenantMatcherType is how a hashring's `tenants` are compared with a request's tenant. */
export type TenantMatcherType = 'exact' | 'glob';

/** HashringConfig is one entry of the hashring file, with defaults filled in. */
export interface HashringConfig {
  /** hashring is the ring's name ('' if absent); it labels metrics. */
  readonly hashring: string;
  /** tenants this ring serves; empty means every tenant (a catch-all ring). */
  readonly tenants: readonly string[];
  /** tenantMatcherType is `exact` (default) or `glob`. */
  readonly tenantMatcherType: TenantMatcherType;
  /** tenantPatterns are the compiled `tenants` when tenantMatcherType is `glob`, else empty. */
  readonly tenantPatterns: readonly GlobPattern[];
  /** algorithm overrides `--receive.hashrings-algorithm` for this ring; '' = use the flag. */
  readonly algorithm: HashringAlgorithm | '';
  /** endpoints in file order. */
  readonly endpoints: readonly Endpoint[];
  /** externalLabels are added to the blocks of tenants on this ring. */
  readonly externalLabels: Readonly<Record<string, string>>;
}

/** ALGORITHMS lists the placement algorithms (values of `--receive.hashrings-algorithm`). */
export const ALGORITHMS: readonly HashringAlgorithm[] = ['hashmod', 'ketama'];

/** DEFAULT_REFRESH_INTERVAL_MS is `--receive.hashrings-file-refresh-interval`'s default (5m). */
export const DEFAULT_REFRESH_INTERVAL_MS = 5 * 60 * 1000;

/** Keys of a hashring entry we read; others are ignored, as Go's encoding/json does. */
const KNOWN_ENDPOINT_KEYS = new Set(['address', 'az', 'capnproto_address']);

/**
 * parseHashringsConfig parses the text of a hashring file. `source` names it in errors (a path,
 * or `--receive.hashrings`). Throws ConfigError naming the field for anything malformed.
 */
export function parseHashringsConfig(text: string, source = 'hashrings'): HashringConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${source}: not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(raw)) throw new ConfigError(`${source}: expected a JSON array of hashrings, got ${kind(raw)}`);
  if (raw.length === 0) throw new ConfigError(`${source}: the configuration is empty (no hashrings)`);
  return raw.map((h, i) => parseHashring(h, `hashrings[${i}]`));
}

/** parseHashring validates one entry; `at` is its path for error messages. */
function parseHashring(h: unknown, at: string): HashringConfig {
  if (!isObject(h)) throw new ConfigError(`${at}: expected an object, got ${kind(h)}`);
  const name = optionalString(h['hashring'], `${at}.hashring`);

  const tenants: string[] = [];
  const rawTenants = h['tenants'];
  if (rawTenants !== undefined && rawTenants !== null) {
    if (!Array.isArray(rawTenants)) throw new ConfigError(`${at}.tenants: expected an array of strings, got ${kind(rawTenants)}`);
    rawTenants.forEach((t, j) => {
      if (typeof t !== 'string') throw new ConfigError(`${at}.tenants[${j}]: expected a string, got ${kind(t)}`);
      tenants.push(t);
    });
  }

  const matcher = optionalString(h['tenant_matcher_type'], `${at}.tenant_matcher_type`);
  if (matcher !== '' && matcher !== 'exact' && matcher !== 'glob') {
    throw new ConfigError(`${at}.tenant_matcher_type: expected "exact" or "glob", got ${JSON.stringify(matcher)}`);
  }
  const tenantMatcherType: TenantMatcherType = matcher === 'glob' ? 'glob' : 'exact';
  const tenantPatterns: GlobPattern[] = [];
  if (tenantMatcherType === 'glob') {
    tenants.forEach((t, j) => {
      try {
        tenantPatterns.push(new GlobPattern(t));
      } catch (e) {
        throw new ConfigError(`${at}.tenants[${j}]: bad glob pattern ${JSON.stringify(t)}: ${(e as Error).message}`);
      }
    });
  }

  const algorithm = optionalString(h['algorithm'], `${at}.algorithm`);
  if (algorithm !== '' && !ALGORITHMS.includes(algorithm as HashringAlgorithm)) {
    throw new ConfigError(`${at}.algorithm: expected "hashmod" or "ketama", got ${JSON.stringify(algorithm)}`);
  }

  const rawEndpoints = h['endpoints'];
  if (!Array.isArray(rawEndpoints)) throw new ConfigError(`${at}.endpoints: expected an array, got ${kind(rawEndpoints)}`);
  if (rawEndpoints.length === 0) throw new ConfigError(`${at}.endpoints: a hashring needs at least one endpoint`);
  const seen = new Map<string, number>();
  const endpoints = rawEndpoints.map((e, j) => {
    const ep = parseEndpoint(e, `${at}.endpoints[${j}]`);
    const first = seen.get(ep.address);
    if (first !== undefined) {
      throw new ConfigError(`${at}.endpoints[${j}].address: ${JSON.stringify(ep.address)} is already endpoints[${first}]`);
    }
    seen.set(ep.address, j);
    return ep;
  });

  const externalLabels: Record<string, string> = {};
  const rawLabels = h['external_labels'];
  if (rawLabels !== undefined && rawLabels !== null) {
    if (!isObject(rawLabels)) throw new ConfigError(`${at}.external_labels: expected an object of strings, got ${kind(rawLabels)}`);
    for (const [k, v] of Object.entries(rawLabels)) {
      if (k === '') throw new ConfigError(`${at}.external_labels: a label name is empty`);
      if (typeof v !== 'string') throw new ConfigError(`${at}.external_labels.${k}: expected a string, got ${kind(v)}`);
      externalLabels[k] = v;
    }
  }

  const shuffle = h['shuffle_sharding_config'];
  if (isObject(shuffle) && typeof shuffle['shard_size'] === 'number' && shuffle['shard_size'] > 0) {
    throw new ConfigError(`${at}.shuffle_sharding_config: not supported yet (it would place series unlike Thanos); remove it`);
  }

  return { hashring: name, tenants, tenantMatcherType, tenantPatterns, algorithm: algorithm as HashringAlgorithm | '', endpoints, externalLabels };
}

/** parseEndpoint accepts `"host:port"` or `{ "address": "host:port", "az": "zone" }`. */
function parseEndpoint(e: unknown, at: string): Endpoint {
  if (typeof e === 'string') {
    if (e === '') throw new ConfigError(`${at}: the address is empty`);
    return { address: e, az: '' };
  }
  if (!isObject(e)) throw new ConfigError(`${at}: expected an address string or an object with "address", got ${kind(e)}`);
  for (const k of Object.keys(e)) {
    if (!KNOWN_ENDPOINT_KEYS.has(k)) throw new ConfigError(`${at}.${k}: unknown endpoint field (known: address, az, capnproto_address)`);
  }
  const address = e['address'];
  if (typeof address !== 'string' || address === '') throw new ConfigError(`${at}.address: expected a non-empty string, got ${kind(address)}`);
  const az = optionalString(e['az'], `${at}.az`);
  optionalString(e['capnproto_address'], `${at}.capnproto_address`);
  return { address, az };
}

/** optionalString returns a string field or '' when absent; throws for another type. */
function optionalString(v: unknown, at: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new ConfigError(`${at}: expected a string, got ${kind(v)}`);
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** kind names a JSON value's type for error messages. */
function kind(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}
