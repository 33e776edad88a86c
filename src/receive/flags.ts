/**
 * Flags of `sluice receive`. Names and defaults follow `thanos receive`, so a Thanos Receive
 * StatefulSet runs unchanged. A Thanos flag Sluice does not implement yet is refused at start with
 * `not supported yet: <flag>`; it is never silently ignored.
 */
import { ConfigError } from '../errors.js';
import { availableCpus } from '../util/cpus.js';
import { parseDuration } from '../util/duration.js';
import { loadObjstoreConfig, type ObjstoreConfig } from '../blocks/objstore/config.js';
import { DEFAULT_POSTINGS_CACHE_BYTES } from '../blocks/index/postingsCache.js';
import { join } from 'node:path';
import { loadLimitsConfig, parseLimitsConfig, type LimitsConfig } from './limits.js';
import { readFileSync } from 'node:fs';
import { ALGORITHMS, parseHashringsConfig } from '../peer/config.js';
import { Hashrings } from '../peer/hashrings.js';
import type { HashringAlgorithm } from '../peer/ring.js';
import type { CpuPriority } from '../util/thread.js';

/** FlagSpec describes one flag. */
interface FlagSpec {
  name: string;
  help: string;
  default?: string;
  repeatable?: boolean;
  boolean?: boolean;
  /** Checks a value; returns an error message or ''. */
  check?: (v: string) => string;
}

const hostPort = (v: string): string => (/^[^\s]*:\d{1,5}$/.test(v) ? '' : `expected host:port, got ${JSON.stringify(v)}`);
const duration = (v: string): string => (parseDuration(v) === undefined ? `expected a duration like 2h or 30s, got ${JSON.stringify(v)}` : '');

/** FLAGS lists every flag Sluice implements. */
export const FLAGS: FlagSpec[] = [
  { name: 'remote-write.address', default: '0.0.0.0:19291', check: hostPort, help: 'Address to listen on for remote-write requests (POST /api/v1/receive and /api/v1/write).' },
  { name: 'http-address', default: '0.0.0.0:10902', check: hostPort, help: 'Address for /metrics, /-/healthy, /-/ready and the HTTP read API.' },
  { name: 'grpc-address', default: '0.0.0.0:10901', check: hostPort, help: 'Address of the Thanos StoreAPI (gRPC: thanos.Store Series/LabelNames/LabelValues, thanos.info.Info) for Thanos Query and peers.' },
  { name: 'http-grace-period', default: '2m', check: duration, help: 'Time to wait for in-flight requests after SIGTERM before exiting.' },
  { name: 'tsdb.path', default: './data', help: 'Data directory.' },
  { name: 'tsdb.wal.fsync', default: 'batch', check: (v) => (['off', 'batch', 'always'].includes(v) ? '' : `expected off, batch or always, got ${JSON.stringify(v)}`), help: 'When the WAL is fsynced before a write is acknowledged: off (the OS decides; survives a process kill), batch (one fsync for all writes waiting, survives power loss), always (one per shard round).' },
  { name: 'tsdb.block-duration', default: '2h', check: duration, help: 'Block length; head chunks never cross a multiple of it.' },
  {
    name: 'tsdb.cut-cpu-priority', default: 'idle',
    check: (v) => (['idle', 'low', 'normal'].includes(v) ? '' : `expected idle, low or normal, got ${JSON.stringify(v)}`),
    help: 'CPU priority of the threads that write cut blocks and checkpoint the WAL: idle (Linux SCHED_IDLE: only CPU time ingestion leaves; falls back to low), low (nice 10) or normal.',
  },
  {
    name: 'v8.helper-cpu-priority', default: 'normal',
    check: (v) => (['idle', 'low', 'normal'].includes(v) ? '' : `expected idle, low or normal, got ${JSON.stringify(v)}`),
    help: 'CPU priority of V8\'s background threads, which under --single-threaded-gc only compile JavaScript (for every thread, the cut and query threads\' code included): normal, low (nice 10) or idle (Linux SCHED_IDLE; falls back to low). Lowered, cuts disturb writes less, but on CPUs that ingestion saturates nothing is compiled at all, the gateways\' and shards\' own code included (docs/benchmarks.md). Left normal when node runs without --single-threaded-gc (they then also collect garbage).',
  },
  { name: 'query.lookback-delta', default: '5m', check: duration, help: 'How far back a PromQL instant selector looks for a sample.' },
  { name: 'query.max-samples', default: '50000000', help: 'Most samples a single PromQL query may hold in memory.' },
  { name: 'query.timeout', default: '2m', check: duration, help: 'Longest time a PromQL query may run, waiting for the peers\' answers included.' },
  { name: 'query.replica-label', repeatable: true, help: 'Label whose values tell replicas of a series apart (repeatable): dropped before a multi-node query merges the replicas.', check: (v) => (/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(v) ? '' : `expected a label name, got ${JSON.stringify(v)}`) },
  {
    name: 'query.cpu-priority', default: 'idle',
    check: (v) => (['idle', 'low', 'normal'].includes(v) ? '' : `expected idle, low or normal, got ${JSON.stringify(v)}`),
    help: 'CPU priority of the query threads against ingestion: idle (Linux SCHED_IDLE: only CPU time ingestion leaves; falls back to low), low (nice 10) or normal.',
  },
  {
    name: 'query.postings-cache-size', default: String(DEFAULT_POSTINGS_CACHE_BYTES),
    check: (v) => (/^\d{1,15}$/.test(v) ? '' : `expected a byte count, got ${JSON.stringify(v)}`),
    help: 'Bytes of decoded block postings lists kept in memory between queries (shared by all blocks, least recently used out first). 0: none.',
  },
  { name: 'query.workers', default: '', help: 'Worker threads that evaluate PromQL queries (started on demand); default: the CPUs this process may use. 0 evaluates on the main thread.' },
  {
    name: 'query.warm-up', default: 'true', boolean: true,
    check: (v) => (v === 'true' || v === 'false' ? '' : `expected true or false, got ${JSON.stringify(v)}`),
    help: 'Each query thread, when it starts, first runs a few dashboard-shaped queries over synthetic series (under a second of idle CPU), so that the first queries users send do not run uncompiled. --query.warm-up=false: start cold.',
  },
  { name: 'query.split-threads', default: '', help: 'Most query threads one large series-local range query is split over; 1 never splits. Default: the CPUs this process may use, less one (the main thread merges the parts).' },
  { name: 'tsdb.retention', default: '15d', check: duration, help: 'How long local blocks are kept; a block is deleted only once it is older and uploaded.' },
  { name: 'objstore.config-file', help: 'Path to a Thanos object store YAML (type: FILESYSTEM or S3). Without it and --objstore.config, blocks go to a FILESYSTEM bucket in <tsdb.path>/bucket.' },
  { name: 'objstore.config', help: 'Alternative to --objstore.config-file: the object store YAML itself.' },
  { name: 'label', repeatable: true, help: 'External label key="value" of this receiver (repeatable).', check: (v) => (parseLabelFlag(v) ? '' : `expected key="value", got ${JSON.stringify(v)}`) },
  { name: 'receive.tenant-header', default: 'THANOS-TENANT', help: 'HTTP header that names the tenant of a write or read request.' },
  { name: 'receive.default-tenant-id', default: 'default-tenant', help: 'Tenant of requests without a tenant header.' },
  { name: 'receive.tenant-label-name', default: 'tenant_id', help: 'External label that carries the tenant in blocks and query results.' },
  { name: 'receive.replication-factor', default: '1', check: (v) => (/^[1-9][0-9]{0,2}$/.test(v) ? '' : `expected a positive integer, got ${JSON.stringify(v)}`), help: 'Copies of each series (above 1 needs a hashring); a write succeeds when every series reached its quorum.' },
  { name: 'receive.hashrings-file', help: 'Path to a Thanos hashring JSON file; re-read when it changes. With --receive.local-endpoint this node routes and stores; without, it only routes.' },
  { name: 'receive.hashrings', help: 'Alternative to --receive.hashrings-file: the hashring JSON itself.' },
  { name: 'receive.hashrings-algorithm', default: 'hashmod', check: (v) => (ALGORITHMS.includes(v as HashringAlgorithm) ? '' : `expected hashmod or ketama, got ${JSON.stringify(v)}`), help: 'Placement of series on a hashring\'s endpoints (hashmod or ketama); a hashring\'s own "algorithm" wins.' },
  { name: 'receive.hashrings-file-refresh-interval', default: '5m', check: duration, help: 'How often the hashring file is re-read (changes to its directory trigger a read sooner).' },
  { name: 'receive.local-endpoint', help: 'This node\'s address as the hashring lists it (host:port of its remote-write listener).' },
  { name: 'receive.replica-header', default: 'THANOS-REPLICA', help: 'HTTP header with the 1-based replica number of a write forwarded by a peer.' },
  { name: 'receive-forward-timeout', default: '5s', check: duration, help: 'Time a write forwarded to a peer may take (queueing, connecting, answer).' },
  { name: 'receive-forward-max-backoff', default: '5s', check: duration, help: 'Longest backoff of a peer that failed (doubling from 100ms, with jitter).' },
  { name: 'receive.forward.async-workers', default: '5', check: (v) => (/^[1-9][0-9]{0,3}$/.test(v) ? '' : `expected a positive integer, got ${JSON.stringify(v)}`), help: 'Connections per peer and gateway thread for forwarded writes.' },
  { name: 'receive.shards', default: '', help: 'Shard (worker thread) count; default: the CPUs this process may use (cgroup quota aware).' },
  { name: 'receive.gateways', default: '', help: 'Gateway threads that accept remote-write on the same port (SO_REUSEPORT); default: the CPUs this process may use.' },
  { name: 'receive.limits-config-file', help: 'Path to a Thanos limits YAML (request size/series/samples, label limits, head_series_limit per tenant, max_concurrency); see README "Limits".' },
  { name: 'receive.limits-config', help: 'Alternative to --receive.limits-config-file: the limits YAML itself.' },
  { name: 'receive.ring-bytes', default: '8388608', help: 'Bytes of each shard\'s write ring (power of two).' },
  {
    name: 'receive.max-inflight-body-bytes', default: '268435456',
    check: (v) => (/^\d{1,15}$/.test(v) ? '' : `expected a byte count, got ${JSON.stringify(v)}`),
    help: 'Most bytes of remote-write request bodies buffered at once, shared by the gateway threads; a request with no room gets 503 with Retry-After before its body is read. 0: no bound.',
  },
  { name: 'log.level', default: 'info', help: 'debug, info, warn or error.', check: (v) => (['debug', 'info', 'warn', 'error'].includes(v) ? '' : `unknown log level ${v}`) },
  { name: 'log.format', default: 'logfmt', help: 'logfmt or json.', check: (v) => (['logfmt', 'json'].includes(v) ? '' : `unknown log format ${v}`) },
];

/** NOT_YET lists Thanos Receive flags that are refused until the feature exists. */
export const NOT_YET = [
  'receive.split-tenant-label-name', 'receive.tenant-certificate-field',
  'receive.replication-protocol', 'receive.capnproto-address', 'receive.grpc-compression',
  'receive.grpc-service-config', 'receive.relabel-config', 'receive.relabel-config-file', 'receive.otlp-enable-target-info', 'receive.otlp-promote-resource-attributes',
  'shipper.upload-concurrency', 'tsdb.too-far-in-future.time-window',
  'tsdb.out-of-order.time-window', 'tsdb.out-of-order.cap-max', 'tsdb.max-retention-bytes', 'tsdb.wal-compression', 'tsdb.no-lockfile',
  'tsdb.max-exemplars', 'tsdb.enable-native-histograms', 'tsdb.allow-overlapping-blocks', 'tsdb.head.expanded-postings-cache-size',
  'tsdb.block.expanded-postings-cache-size', 'tsdb.memory-snapshot-on-shutdown', 'tracing.config', 'tracing.config-file',
  'http.config', 'grpc-server-tls-cert', 'grpc-server-tls-key', 'grpc-server-tls-client-ca', 'grpc-server-max-connection-age',
  'grpc-grace-period', 'remote-write.server-tls-cert', 'remote-write.server-tls-key', 'remote-write.server-tls-client-ca',
  'remote-write.client-tls-cert', 'remote-write.client-tls-key', 'remote-write.client-tls-ca', 'remote-write.client-server-name',
  'store.limits.request-series', 'store.limits.request-samples', 'enable-auto-gomemlimit', 'request.logging-config',
  'request.logging-config-file', 'hash-func', 'matcher-cache-size',
];

/** ReceiveFlags is the parsed flag set: single values and repeatables. */
export interface ReceiveFlags {
  values: Map<string, string>;
  labels: [string, string][];
  replicaLabels: string[];
}

/** parseLabelFlag parses key="value" (quotes optional); undefined if malformed. */
export function parseLabelFlag(v: string): [string, string] | undefined {
  const m = /^([a-zA-Z_][a-zA-Z0-9_]*)=(?:"((?:[^"\\]|\\.)*)"|([^"]*))$/.exec(v);
  if (!m) return undefined;
  const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  return [m[1]!, value];
}

/** parseReceiveFlags parses argv (without the subcommand) or throws ConfigError. */
export function parseReceiveFlags(argv: string[]): ReceiveFlags {
  const values = new Map<string, string>();
  const labels: [string, string][] = [];
  const replicaLabels: string[] = [];
  const specs = new Map(FLAGS.map((f) => [f.name, f]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (NOT_YET.includes(name)) throw new ConfigError(`not supported yet: --${name}`);
    const spec = specs.get(name);
    if (!spec) throw new ConfigError(`unknown flag: --${name} (see sluice receive --help)`);
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (spec.boolean) value = 'true';
    else {
      const next = argv[++i];
      if (next === undefined) throw new ConfigError(`flag --${name} needs a value`);
      value = next;
    }
    const err = spec.check?.(value) ?? '';
    if (err) throw new ConfigError(`--${name}: ${err}`);
    if (spec.repeatable) {
      if (name === 'label') labels.push(parseLabelFlag(value)!);
      else if (name === 'query.replica-label') replicaLabels.push(value);
    } else values.set(name, value);
  }
  for (const f of FLAGS) if (!values.has(f.name) && f.default !== undefined && !f.repeatable) values.set(f.name, f.default);
  const rf = values.get('receive.replication-factor')!;
  if (rf !== '1' && !values.has('receive.hashrings-file') && !values.has('receive.hashrings')) {
    throw new ConfigError(`--receive.replication-factor=${rf} needs a hashring (--receive.hashrings-file or --receive.hashrings)`);
  }
  return { values, labels, replicaLabels };
}

/** ReceiveConfig is the typed configuration derived from flags. */
export interface ReceiveConfig {
  remoteWriteAddress: { host: string; port: number };
  httpAddress: { host: string; port: number };
  grpcAddress: { host: string; port: number };
  httpGracePeriodMs: number;
  tsdbPath: string;
  walFsync: 'off' | 'batch' | 'always';
  blockDurationMs: number;
  /** --tsdb.cut-cpu-priority: of the cut and checkpoint threads. */
  cutCpuPriority: CpuPriority;
  /** --v8.helper-cpu-priority: of V8's platform threads (with --single-threaded-gc only). */
  v8HelperCpuPriority: CpuPriority;
  externalLabels: [string, string][];
  tenantHeader: string;
  defaultTenant: string;
  tenantLabelName: string;
  shards: number;
  gateways: number;
  ringBytes: number;
  /** --receive.max-inflight-body-bytes (0: no bound). */
  maxInflightBodyBytes: number;
  logLevel: string;
  logFormat: string;
  /** The limits config, when --receive.limits-config[-file] is given. */
  limits?: LimitsConfig;
  retentionMs: number;
  query: { lookbackDeltaMs: number; maxSamples: number; timeoutMs: number; workers: number; splitThreads: number; replicaLabels: string[]; cpuPriority: CpuPriority; warmUp: boolean; postingsCacheBytes: number };
  /** The object store: from --objstore.config[-file], else a FILESYSTEM bucket in <tsdb.path>/bucket. */
  objstore: ObjstoreConfig;
  replicationFactor: number;
  /** Hashring settings, when --receive.hashrings[-file] is given (else: ingestor only). */
  hashrings?: HashringFlags;
}

/** HashringFlags are the hashring and forwarding flags (Thanos modes: README "Hashrings"). */
export interface HashringFlags {
  /** --receive.hashrings-file ('' when the JSON is inline). */
  file: string;
  /** The JSON read at start (the file's content, or --receive.hashrings); validated. */
  text: string;
  algorithm: HashringAlgorithm;
  refreshIntervalMs: number;
  /** --receive.local-endpoint; '' = router only. */
  localEndpoint: string;
  replicaHeader: string;
  forwardTimeoutMs: number;
  forwardMaxBackoffMs: number;
  forwardConnections: number;
}

/** hashringFlags reads and validates the hashring flags (the file is read once here). */
function hashringFlags(f: ReceiveFlags, replicationFactor: number): HashringFlags | undefined {
  const file = f.values.get('receive.hashrings-file');
  const inline = f.values.get('receive.hashrings');
  const local = f.values.get('receive.local-endpoint') ?? '';
  if (file === undefined && inline === undefined) {
    if (local !== '') throw new ConfigError('--receive.local-endpoint needs a hashring (--receive.hashrings-file or --receive.hashrings)');
    return undefined;
  }
  if (file !== undefined && inline !== undefined) throw new ConfigError('--receive.hashrings-file and --receive.hashrings are mutually exclusive');
  let text: string;
  if (file !== undefined) {
    try { text = readFileSync(file, 'utf8'); } catch (e) { throw new ConfigError(`--receive.hashrings-file: ${(e as Error).message}`); }
  } else text = inline!;
  const algorithm = f.values.get('receive.hashrings-algorithm') as HashringAlgorithm;
  // Refuse a bad file at start (the watcher keeps the old rings for later bad versions).
  new Hashrings(parseHashringsConfig(text, file ?? '--receive.hashrings'), { algorithm, replicationFactor });
  return {
    file: file ?? '', text, algorithm,
    refreshIntervalMs: parseDuration(f.values.get('receive.hashrings-file-refresh-interval')!)!,
    localEndpoint: local,
    replicaHeader: f.values.get('receive.replica-header')!,
    forwardTimeoutMs: parseDuration(f.values.get('receive-forward-timeout')!)!,
    forwardMaxBackoffMs: parseDuration(f.values.get('receive-forward-max-backoff')!)!,
    forwardConnections: Number(f.values.get('receive.forward.async-workers')!),
  };
}

function splitHostPort(v: string): { host: string; port: number } {
  const i = v.lastIndexOf(':');
  let host = v.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? '0.0.0.0' : host, port: Number(v.slice(i + 1)) };
}

/** toConfig turns parsed flags into a ReceiveConfig. */
export function toConfig(f: ReceiveFlags): ReceiveConfig {
  const v = (k: string): string => f.values.get(k)!;
  const shardsFlag = v('receive.shards');
  const shards = shardsFlag === '' ? availableCpus() : Number(shardsFlag);
  if (!Number.isInteger(shards) || shards < 1 || shards > 256) throw new ConfigError(`--receive.shards: expected 1..256, got ${shardsFlag}`);
  const gwFlag = v('receive.gateways');
  // One gateway per CPU measured best on 2 CPUs (docs/benchmarks.md: +24% over one gateway).
  const gateways = gwFlag === '' ? availableCpus() : Number(gwFlag);
  if (!Number.isInteger(gateways) || gateways < 1 || gateways > 64) throw new ConfigError(`--receive.gateways: expected 1..64, got ${gwFlag}`);
  const qwFlag = v('query.workers');
  const queryWorkers = qwFlag === '' ? availableCpus() : Number(qwFlag);
  if (!Number.isInteger(queryWorkers) || queryWorkers < 0 || queryWorkers > 64) throw new ConfigError(`--query.workers: expected 0..64, got ${qwFlag}`);
  // Splitting a panel over both threads of a 2-CPU node measured slower than one thread
  // (docs/benchmarks.md): the parts, the main thread's merge and V8's compiler threads share 2 cores.
  const stFlag = v('query.split-threads');
  const splitThreads = stFlag === '' ? Math.max(1, availableCpus() - 1) : Number(stFlag);
  if (!Number.isInteger(splitThreads) || splitThreads < 1 || splitThreads > 64) throw new ConfigError(`--query.split-threads: expected 1..64, got ${stFlag}`);
  const ringBytes = Number(v('receive.ring-bytes'));
  if (!Number.isInteger(ringBytes) || ringBytes < 65536 || (ringBytes & (ringBytes - 1)) !== 0) {
    throw new ConfigError(`--receive.ring-bytes: expected a power of two ≥ 65536, got ${v('receive.ring-bytes')}`);
  }
  const tenant = v('receive.default-tenant-id');
  if (tenant === '' || tenant.includes('/') || tenant === '.' || tenant === '..') throw new ConfigError(`--receive.default-tenant-id: invalid tenant ${JSON.stringify(tenant)}`);
  const limitsFile = f.values.get('receive.limits-config-file');
  const limitsText = f.values.get('receive.limits-config');
  if (limitsFile !== undefined && limitsText !== undefined) throw new ConfigError('--receive.limits-config-file and --receive.limits-config are mutually exclusive');
  const limits = limitsFile !== undefined ? loadLimitsConfig(limitsFile) : limitsText !== undefined ? parseLimitsConfig(limitsText, '--receive.limits-config') : undefined;
  const replicationFactor = Number(v('receive.replication-factor'));
  const hashrings = hashringFlags(f, replicationFactor);
  return {
    remoteWriteAddress: splitHostPort(v('remote-write.address')),
    httpAddress: splitHostPort(v('http-address')),
    grpcAddress: splitHostPort(v('grpc-address')),
    httpGracePeriodMs: parseDuration(v('http-grace-period'))!,
    tsdbPath: v('tsdb.path'),
    walFsync: v('tsdb.wal.fsync') as 'off' | 'batch' | 'always',
    blockDurationMs: parseDuration(v('tsdb.block-duration'))!,
    cutCpuPriority: v('tsdb.cut-cpu-priority') as CpuPriority,
    v8HelperCpuPriority: v('v8.helper-cpu-priority') as CpuPriority,
    retentionMs: parseDuration(v('tsdb.retention'))!,
    query: {
      lookbackDeltaMs: parseDuration(v('query.lookback-delta'))!, maxSamples: Number(v('query.max-samples')), timeoutMs: parseDuration(v('query.timeout'))!,
      workers: queryWorkers, splitThreads, replicaLabels: f.replicaLabels, cpuPriority: v('query.cpu-priority') as CpuPriority, warmUp: v('query.warm-up') === 'true',
      postingsCacheBytes: Number(v('query.postings-cache-size')),
    },
    objstore: loadObjstoreConfig({ configFile: f.values.get('objstore.config-file'), config: f.values.get('objstore.config') })
      ?? { type: 'FILESYSTEM', prefix: '', filesystem: { directory: join(v('tsdb.path'), 'bucket') } },
    externalLabels: f.labels,
    tenantHeader: v('receive.tenant-header'),
    defaultTenant: tenant,
    tenantLabelName: v('receive.tenant-label-name'),
    shards,
    gateways,
    ringBytes,
    maxInflightBodyBytes: Number(v('receive.max-inflight-body-bytes')),
    logLevel: v('log.level'),
    logFormat: v('log.format'),
    ...(limits !== undefined ? { limits } : {}),
    replicationFactor,
    ...(hashrings !== undefined ? { hashrings } : {}),
  };
}

/** helpText renders `sluice receive --help`. */
export function helpText(): string {
  const lines = ['usage: sluice receive [flags]', '', 'Accepts Prometheus remote-write and keeps it in per-core shards.', '', 'Flags:'];
  for (const f of FLAGS) {
    const def = f.repeatable ? ' (repeatable)' : f.default !== undefined ? ` (default: ${JSON.stringify(f.default)})` : '';
    lines.push(`  --${f.name}${def}`, `      ${f.help}`);
  }
  lines.push('', 'Thanos Receive flags refused until implemented (start fails with "not supported yet: <flag>"):');
  for (let i = 0; i < NOT_YET.length; i += 3) lines.push('  ' + NOT_YET.slice(i, i + 3).map((n) => `--${n}`).join('  '));
  return lines.join('\n');
}
