/**
 * Hashring file lint (`sluice hashring lint`): finds the layouts that load but hurt, and the ones
 * Sluice refuses, and says which hashring is at fault. The case it was written for is a catch-all
 * ("default") ring smaller than a tenant's ring, or of one endpoint: every tenant nobody listed,
 * usually most of the traffic, then lands on a receiver or two while the others idle.
 *
 * Unlike parseHashringsConfig (config.ts), which stops at the first error, lint reads the file
 * leniently and reports every finding it can, each as an error or a warning. Pure: takes text or
 * parsed rings, returns findings; reads no files and prints nothing (hashringCli.ts does).
 */
import { isSluiceError } from '../errors.js';
import { parseHashringsConfig, type TenantMatcherType } from './config.js';
import { GlobPattern } from './glob.js';
import { writeQuorum } from './quorum.js';
import type { Endpoint, HashringAlgorithm } from './ring.js';

/** Severity of a finding: an `error` makes `sluice hashring lint` exit 1; a `warning` does not. */
export type Severity = 'error' | 'warning';

/** LintCode names each kind of finding (stable: tests and scripts match on it). */
export const LintCode = {
  /** The file is not JSON, not an array, or an entry is not an object. */
  Parse: 'parse',
  /** The file is JSON only once `//` or block comments are removed (Thanos and Sluice refuse it). */
  Comments: 'comments',
  /** parseHashringsConfig refuses the file (a bad field; the message names it). */
  Invalid: 'invalid',
  /** The catch-all ring has fewer endpoints than a ring serving listed tenants. */
  DefaultSmaller: 'default-smaller',
  /** The catch-all ring has one endpoint while the file names more receivers. */
  DefaultSingle: 'default-single',
  /** The catch-all ring leaves out receivers that other rings use. */
  DefaultMissing: 'default-missing',
  /** No ring is a catch-all: unlisted tenants fail their writes. */
  NoDefault: 'no-default',
  /** A ring comes after the catch-all, so no tenant ever reaches it. */
  Unreachable: 'unreachable',
  /** A ring has fewer distinct endpoints than the replication factor. */
  BelowReplicationFactor: 'below-rf',
  /** The same address twice in one ring. */
  DuplicateEndpoint: 'duplicate-endpoint',
  /** An address in more than one ring. */
  SharedEndpoint: 'shared-endpoint',
  /** A tenant served by more than one ring (the first in file order wins). */
  SharedTenant: 'shared-tenant',
  /** Ketama cannot spread RF replicas evenly over the ring's zones. */
  ZoneSpread: 'zone-spread',
  /** Losing the zone that holds the most replicas of a series leaves it below quorum. */
  ZoneQuorum: 'zone-quorum',
  /** Some endpoints of a ring carry `az` and others do not. */
  ZoneMissing: 'zone-missing',
  /** A hashmod ring whose endpoints carry `az` (refused at load). */
  HashmodZones: 'hashmod-az',
  /** An endpoint on Thanos' gRPC port 10901; Sluice forwards over remote-write (19291). */
  GrpcPort: 'grpc-port',
} as const;
export type LintCode = (typeof LintCode)[keyof typeof LintCode];

/** Finding is one problem lint found. */
export interface Finding {
  readonly severity: Severity;
  readonly code: LintCode;
  /** where names the hashring (`hashrings[1] ("default")`), or '' for findings about the whole file. */
  readonly where: string;
  /** message says what is wrong and what it does, in one sentence or two. */
  readonly message: string;
}

/** LintOptions are the receiver flags that decide what is wrong. */
export interface LintOptions {
  /** `--receive.replication-factor`. */
  readonly replicationFactor: number;
  /** `--receive.hashrings-algorithm`: the algorithm of rings without their own. */
  readonly algorithm: HashringAlgorithm;
}

/** LintRing is what lint needs of one hashring; a parsed HashringConfig is one. */
export interface LintRing {
  readonly hashring: string;
  readonly tenants: readonly string[];
  readonly tenantMatcherType: TenantMatcherType;
  /** '' = the `--receive.hashrings-algorithm` flag. */
  readonly algorithm: HashringAlgorithm | '';
  /** endpoints as written, duplicates kept. */
  readonly endpoints: readonly Endpoint[];
}

/** THANOS_GRPC_PORT is the port Thanos hashring files usually list (`--grpc-address`). */
const THANOS_GRPC_PORT = '10901';

/**
 * lintHashringsText lints the text of a hashring file: JSON and field errors first (as the
 * receiver would refuse them), then every layout finding of lintHashrings on what could be read.
 */
export function lintHashringsText(text: string, opts: LintOptions): Finding[] {
  const out: Finding[] = [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const stripped = stripComments(text);
    try {
      raw = stripped === text ? undefined : JSON.parse(stripped);
    } catch {
      raw = undefined;
    }
    if (raw === undefined) {
      out.push(finding('error', LintCode.Parse, '', `not valid JSON: ${e instanceof Error ? e.message : String(e)}`));
      return out;
    }
    out.push(finding('error', LintCode.Comments, '', 'the file has comments, which JSON does not allow: Sluice and Thanos refuse it as it is (the rest is linted without them)'));
  }
  if (!Array.isArray(raw)) {
    out.push(finding('error', LintCode.Parse, '', 'expected a JSON array of hashrings'));
    return out;
  }
  if (raw.length === 0) {
    out.push(finding('error', LintCode.Parse, '', 'the file has no hashrings'));
    return out;
  }

  const rings: LintRing[] = [];
  raw.forEach((h, i) => {
    const r = readRing(h);
    if (r === null) out.push(finding('error', LintCode.Parse, `hashrings[${i}]`, 'expected an object'));
    else rings.push(r);
  });

  // What the receiver's parser would refuse, duplicates aside (reported below, all of them).
  try {
    parseHashringsConfig(JSON.stringify(withoutDuplicates(raw)), 'file');
  } catch (e) {
    if (!isSluiceError(e)) throw e;
    out.push(finding('error', LintCode.Invalid, '', `${e.message.replace(/^file: /, '')} (the receiver refuses the file)`));
  }
  if (rings.length === raw.length) out.push(...lintHashrings(rings, opts));
  return out;
}

/** lintHashrings checks the layout of parsed rings (see LintCode for the list). */
export function lintHashrings(rings: readonly LintRing[], opts: LintOptions): Finding[] {
  const out: Finding[] = [];
  const rf = opts.replicationFactor;
  const names = rings.map((r, i) => ringLabel(r, i));
  const distinct = rings.map((r) => distinctAddresses(r.endpoints));
  const allAddresses = new Set<string>();
  for (const d of distinct) for (const a of d) allAddresses.add(a);

  // The catch-all: the first ring that matches every tenant. Rings after it never match.
  const def = rings.findIndex(isCatchAll);
  if (def < 0) {
    out.push(finding('warning', LintCode.NoDefault, '', 'no hashring is a catch-all (no "tenants"): writes of any tenant not listed fail with "no matching hashring to handle tenant" (HTTP 500)'));
  } else {
    for (let i = def + 1; i < rings.length; i++) {
      out.push(finding('warning', LintCode.Unreachable, names[i]!, `comes after the catch-all ${names[def]}, which matches every tenant first: this hashring never serves a write`));
    }
    const dn = distinct[def]!.size;
    for (let i = 0; i < def; i++) {
      const tn = distinct[i]!.size;
      if (tn > dn) {
        out.push(finding('error', LintCode.DefaultSmaller, names[def]!, `the catch-all hashring has ${plural(dn, 'endpoint')}, fewer than ${names[i]} (${tn}): every tenant not listed, usually most of the series, lands on fewer receivers than one listed tenant does`));
      }
    }
    if (dn === 1 && allAddresses.size > 1) {
      const [only] = distinct[def]!;
      out.push(finding('error', LintCode.DefaultSingle, names[def]!, `the catch-all hashring has a single endpoint (${only}) while the file names ${allAddresses.size} receivers: all series of every unlisted tenant go to that one receiver`));
    }
    const missing = [...allAddresses].filter((a) => !distinct[def]!.has(a));
    if (missing.length > 0) {
      out.push(finding('warning', LintCode.DefaultMissing, names[def]!, `the catch-all hashring leaves out ${listOf(missing)}, which other hashrings use: they take none of the unlisted tenants' series`));
    }
  }

  for (let i = 0; i < rings.length; i++) {
    const r = rings[i]!;
    const where = names[i]!;
    const n = distinct[i]!.size;
    const algorithm = r.algorithm === '' ? opts.algorithm : r.algorithm;
    const seen = new Set<string>();
    const reported = new Set<string>();
    for (const e of r.endpoints) {
      if (seen.has(e.address) && !reported.has(e.address)) {
        reported.add(e.address);
        out.push(finding('error', LintCode.DuplicateEndpoint, where, `lists ${e.address} more than once (the receiver refuses the file)`));
      }
      seen.add(e.address);
    }
    if (n < rf) {
      out.push(finding('error', LintCode.BelowReplicationFactor, where, `has ${plural(n, 'endpoint')}, fewer than the replication factor ${rf}: the receiver refuses to build it (Thanos' hashmod builds it and then fails every write)`));
    }
    const zoned = r.endpoints.filter((e) => e.az !== '').length;
    if (zoned > 0 && algorithm === 'hashmod') {
      out.push(finding('error', LintCode.HashmodZones, where, 'endpoints carry "az" but the hashring uses hashmod, which has no zone awareness: the receiver refuses it (use "algorithm": "ketama" or drop "az")'));
    }
    if (zoned > 0 && zoned < r.endpoints.length) {
      const bare = r.endpoints.filter((e) => e.az === '').map((e) => e.address);
      out.push(finding('warning', LintCode.ZoneMissing, where, `${listOf(bare)} ${bare.length === 1 ? 'has' : 'have'} no "az" while other endpoints do: they form a zone of their own named ""`));
    }
    if (algorithm === 'ketama') out.push(...zoneFindings(r.endpoints, rf, where));
  }

  const grpc = [...allAddresses].filter((a) => portOf(a) === THANOS_GRPC_PORT);
  if (grpc.length > 0) {
    out.push(finding('warning', LintCode.GrpcPort, '', `${listOf(grpc)} ${grpc.length === 1 ? 'is' : 'are'} on port ${THANOS_GRPC_PORT}, Thanos' gRPC port: Sluice forwards replicas over remote-write, so list each receiver's --remote-write.address (port 19291 by default)`));
  }

  // Endpoints in more than one ring.
  const ringsOf = new Map<string, number[]>();
  distinct.forEach((d, i) => {
    for (const a of d) {
      const l = ringsOf.get(a);
      if (l === undefined) ringsOf.set(a, [i]);
      else l.push(i);
    }
  });
  for (const [a, idx] of ringsOf) {
    if (idx.length > 1) {
      out.push(finding('warning', LintCode.SharedEndpoint, '', `${a} is in ${idx.map((i) => names[i]).join(', ')}: it holds the series of all of them, so size it for their sum`));
    }
  }

  out.push(...sharedTenantFindings(rings, names));
  return out;
}

/** hasErrors tells whether any finding is an error (lint's exit status 1). */
export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}

/** formatFinding renders one finding as a line: `error   hashrings[1] ("default"): …`. */
export function formatFinding(f: Finding): string {
  return `${f.severity.padEnd(7)} ${f.where === '' ? '' : `${f.where}: `}${f.message} [${f.code}]`;
}

/**
 * maxEvenReplicas returns how many replicas ketama can place on distinct endpoints while keeping
 * zones even, given the endpoint count of each zone. Ketama only adds a replica to a zone that
 * holds the fewest so far, so it fills level by level; once the smallest zone (m endpoints) is
 * exhausted, each larger zone can still take one more, and then the walk is stuck.
 */
export function maxEvenReplicas(zoneSizes: readonly number[]): number {
  if (zoneSizes.length === 0) return 0;
  if (zoneSizes.length === 1) return zoneSizes[0]!;
  const m = Math.min(...zoneSizes);
  return zoneSizes.length * m + zoneSizes.filter((s) => s > m).length;
}

/** zoneFindings checks a ketama ring's zone layout against the replication factor. */
function zoneFindings(endpoints: readonly Endpoint[], rf: number, where: string): Finding[] {
  const zones = new Map<string, Set<string>>();
  for (const e of endpoints) {
    let s = zones.get(e.az);
    if (s === undefined) zones.set(e.az, (s = new Set()));
    s.add(e.address);
  }
  if (zones.size < 2) return [];
  const sizes = [...zones.values()].map((s) => s.size);
  const layout = [...zones].map(([z, s]) => `${JSON.stringify(z)}: ${s.size}`).join(', ');
  const distinctCount = distinctAddresses(endpoints).size;
  if (rf <= distinctCount && rf > maxEvenReplicas(sizes)) {
    return [finding('error', LintCode.ZoneSpread, where, `ketama cannot spread ${rf} replicas evenly over its zones (${layout}): the receiver refuses it; add endpoints to the smaller zones or lower the replication factor`)];
  }
  if (rf < 2) return [];
  // A series' replicas are spread evenly: a zone holds at most ceil(RF / zones) of them.
  const worst = Math.ceil(rf / zones.size);
  const q = writeQuorum(rf);
  if (rf - worst < q) {
    return [finding('warning', LintCode.ZoneQuorum, where, `with ${rf} replicas over ${zones.size} zones a zone holds up to ${worst} replicas of a series: losing that zone leaves ${rf - worst}, below the write quorum ${q}, so writes fail until it returns`)];
  }
  return [];
}

/** sharedTenantFindings reports tenants that more than one ring serves (first in file order wins). */
function sharedTenantFindings(rings: readonly LintRing[], names: readonly string[]): Finding[] {
  const out: Finding[] = [];
  const firstExact = new Map<string, number>();
  const globs: { ring: number; pattern: GlobPattern }[] = [];
  rings.forEach((r, i) => {
    if (r.tenantMatcherType === 'glob') {
      for (const t of r.tenants) {
        try {
          globs.push({ ring: i, pattern: new GlobPattern(t) });
        } catch {
          // A malformed glob is reported by the parser (LintCode.Invalid).
        }
      }
      return;
    }
    for (const t of new Set(r.tenants)) {
      // Rings are visited in file order, so every glob seen so far belongs to an earlier ring.
      const byGlob = globs.find((g) => g.pattern.matches(t))?.ring;
      const byExact = firstExact.get(t);
      const winner = byGlob === undefined ? byExact : byExact === undefined ? byGlob : Math.min(byGlob, byExact);
      if (winner !== undefined && winner !== i) {
        out.push(finding('warning', LintCode.SharedTenant, names[i]!, `tenant ${JSON.stringify(t)} is also served by ${names[winner]}, which comes first and wins: this entry has no effect`));
      } else if (!firstExact.has(t)) {
        firstExact.set(t, i);
      }
    }
  });
  return out;
}

/** isCatchAll tells whether a ring matches every tenant: no tenants, or a glob of only `*`. */
function isCatchAll(r: LintRing): boolean {
  if (r.tenants.length === 0) return true;
  return r.tenantMatcherType === 'glob' && r.tenants.some((t) => /^\*+$/.test(t));
}

/** readRing reads one entry leniently: whatever has the right type is kept, the rest dropped. */
function readRing(h: unknown): LintRing | null {
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return null;
  const o = h as Record<string, unknown>;
  const tenants = Array.isArray(o['tenants']) ? o['tenants'].filter((t): t is string => typeof t === 'string') : [];
  const endpoints: Endpoint[] = [];
  if (Array.isArray(o['endpoints'])) {
    for (const e of o['endpoints']) {
      if (typeof e === 'string' && e !== '') endpoints.push({ address: e, az: '' });
      else if (typeof e === 'object' && e !== null && typeof (e as Record<string, unknown>)['address'] === 'string') {
        const az = (e as Record<string, unknown>)['az'];
        endpoints.push({ address: (e as Record<string, unknown>)['address'] as string, az: typeof az === 'string' ? az : '' });
      }
    }
  }
  const alg = o['algorithm'];
  return {
    hashring: typeof o['hashring'] === 'string' ? o['hashring'] : '',
    tenants,
    tenantMatcherType: o['tenant_matcher_type'] === 'glob' ? 'glob' : 'exact',
    algorithm: alg === 'ketama' || alg === 'hashmod' ? alg : '',
    endpoints,
  };
}

/**
 * withoutDuplicates copies the raw file with each repeated address (within a ring) replaced by a
 * unique placeholder, so the parser reports the next problem instead of the duplicate, and the
 * paths it names still point at the right endpoints.
 */
function withoutDuplicates(raw: unknown[]): unknown[] {
  return raw.map((h) => {
    if (typeof h !== 'object' || h === null || Array.isArray(h)) return h;
    const o = h as Record<string, unknown>;
    if (!Array.isArray(o['endpoints'])) return h;
    const seen = new Set<string>();
    const endpoints = o['endpoints'].map((e, j) => {
      const a = typeof e === 'string' ? e : (typeof e === 'object' && e !== null ? (e as Record<string, unknown>)['address'] : undefined);
      if (typeof a !== 'string' || a === '') return e;
      if (seen.has(a)) return `duplicate-${j}.invalid:1`;
      seen.add(a);
      return e;
    });
    return { ...o, endpoints };
  });
}

/**
 * stripComments removes `//` line comments and block comments outside JSON strings (hashring
 * files pasted from docs often carry them).
 */
export function stripComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** ringLabel names a ring in messages: `hashrings[1] ("default")` or `hashrings[1]`. */
export function ringLabel(r: { readonly hashring: string }, i: number): string {
  return r.hashring === '' ? `hashrings[${i}]` : `hashrings[${i}] (${JSON.stringify(r.hashring)})`;
}

function distinctAddresses(endpoints: readonly Endpoint[]): Set<string> {
  return new Set(endpoints.map((e) => e.address));
}

/** portOf returns the port of `host:port` or `[v6]:port`, or '' when there is none. */
function portOf(address: string): string {
  const m = /:(\d+)$/.exec(address);
  return m === null ? '' : m[1]!;
}

function finding(severity: Severity, code: LintCode, where: string, message: string): Finding {
  return { severity, code, where, message };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** listOf joins addresses for a message, eliding after five. */
function listOf(items: readonly string[]): string {
  return items.length <= 5 ? items.join(', ') : `${items.slice(0, 5).join(', ')} and ${items.length - 5} more`;
}
