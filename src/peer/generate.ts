/**
 * The hashring file of a StatefulSet, generated from its replica count (`sluice hashring generate`):
 * one ring whose endpoints are the pods' stable DNS names on the remote-write port,
 * `<statefulset>-<i>.<service>.<namespace>.svc[.<cluster domain>]:<port>`, in ordinal order, so
 * it equals what each pod passes as `--receive.local-endpoint`. deploy/overlays/* ship the output
 * of this function, and test/deploy/manifests.test.ts checks them against it byte for byte.
 * Pure: builds a string; reads and writes nothing.
 */
import { ConfigError } from '../errors.js';
import { ALGORITHMS } from './config.js';
import type { HashringAlgorithm } from './ring.js';

/** GenerateOptions describes the StatefulSet whose hashring file generateHashrings writes. */
export interface GenerateOptions {
  /** replicas is the StatefulSet's `spec.replicas`: the ring gets endpoints 0 … replicas-1. */
  readonly replicas: number;
  /** statefulSet is the StatefulSet's name (pods are `<statefulSet>-<ordinal>`). */
  readonly statefulSet: string;
  /** service is the headless Service named by the StatefulSet's `spec.serviceName`. */
  readonly service: string;
  /** namespace is where the StatefulSet runs. */
  readonly namespace: string;
  /** port is the receivers' remote-write port (19291 by default; peers forward to it). */
  readonly port: number;
  /** clusterDomain, when given, is appended after `.svc` (e.g. `cluster.local`). */
  readonly clusterDomain?: string;
  /** hashring is the ring's name (default `default`). */
  readonly hashring?: string;
  /** tenants the ring serves; absent or empty makes it the catch-all ring. */
  readonly tenants?: readonly string[];
  /** zones, when given, become each endpoint's `az`, assigned round robin by ordinal. */
  readonly zones?: readonly string[];
  /** algorithm is written into the ring so it holds whatever the flag says (default `ketama`). */
  readonly algorithm?: HashringAlgorithm;
}

/** MAX_REPLICAS bounds the ring size generateHashrings accepts. */
export const MAX_REPLICAS = 1000;

/** DNS_LABEL is an RFC 1123 label as Kubernetes requires for these names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * generateHashrings returns the Thanos hashring JSON (docs/format/hashring.md) of one ring over
 * the StatefulSet's pods, two-space indented with a final newline. Throws ConfigError for a bad
 * option (zones with hashmod, a name that is not a DNS label, a replica count out of range …).
 */
export function generateHashrings(opts: GenerateOptions): string {
  const { replicas, statefulSet, service, namespace, port } = opts;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new ConfigError(`replicas: expected an integer from 1 to ${MAX_REPLICAS}, got ${replicas}`);
  }
  dnsLabel('statefulset', statefulSet);
  dnsLabel('service', service);
  dnsLabel('namespace', namespace);
  // The pod name `<sts>-<ordinal>` must itself be a label (63 bytes at most).
  dnsLabel('statefulset', `${statefulSet}-${replicas - 1}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`port: expected 1..65535, got ${port}`);
  let suffix = 'svc';
  if (opts.clusterDomain !== undefined && opts.clusterDomain !== '') {
    const domain = opts.clusterDomain.replace(/\.$/, '');
    for (const part of domain.split('.')) dnsLabel('cluster domain', part);
    suffix += `.${domain}`;
  }
  const algorithm = opts.algorithm ?? 'ketama';
  if (!ALGORITHMS.includes(algorithm)) throw new ConfigError(`algorithm: expected hashmod or ketama, got ${JSON.stringify(algorithm)}`);
  const zones = opts.zones ?? [];
  if (zones.length > 0 && algorithm !== 'ketama') throw new ConfigError('zones: only a ketama ring spreads replicas over zones (hashmod rings may not carry az)');
  unique('zones', zones);
  const tenants = opts.tenants ?? [];
  unique('tenants', tenants);

  const endpoints: (string | { address: string; az: string })[] = [];
  for (let i = 0; i < replicas; i++) {
    const address = `${statefulSet}-${i}.${service}.${namespace}.${suffix}:${port}`;
    endpoints.push(zones.length === 0 ? address : { address, az: zones[i % zones.length]! });
  }
  const ring = { hashring: opts.hashring ?? 'default', algorithm, tenants: [...tenants], endpoints };
  return `${JSON.stringify([ring], null, 2)}\n`;
}

/** dnsLabel throws unless `v` is an RFC 1123 label. */
function dnsLabel(what: string, v: string): void {
  if (!DNS_LABEL.test(v)) throw new ConfigError(`${what}: ${JSON.stringify(v)} is not a DNS label (lowercase letters, digits and '-', at most 63)`);
}

/** unique throws for an empty or repeated entry of a list option. */
function unique(what: string, list: readonly string[]): void {
  const seen = new Set<string>();
  for (const s of list) {
    if (s === '') throw new ConfigError(`${what}: an entry is empty`);
    if (seen.has(s)) throw new ConfigError(`${what}: ${JSON.stringify(s)} is listed twice`);
    seen.add(s);
  }
}
