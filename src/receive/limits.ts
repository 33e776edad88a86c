/**
 * The limits configuration of `--receive.limits-config-file` / `--receive.limits-config`: Thanos
 * Receive's limits YAML (pkg/receive/limiter_config.go), parsed strictly and resolved per tenant.
 *
 *   write:
 *     global:   max_concurrency, meta_monitoring_* (accepted, unused), max_concurrency_queue (Sluice)
 *     default:  request: {size_bytes_limit, series_limit, samples_limit,
 *                         label_limit, label_name_length_limit, label_value_length_limit (Sluice)}
 *               head_series_limit
 *     tenants:  <id>: same as default; a key missing in a tenant inherits the default's
 *
 * 0 means unlimited. Negative request limits are unlimited too (Thanos treats `<= 0` so).
 * Unknown keys, wrong types and bad URLs are ConfigErrors naming the key path. This module only
 * parses and resolves; enforcement is src/gateway/limits.ts, head-series polling src/receive/node.ts.
 * Touches nothing but the text (or file) it is given.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';

/** RequestLimits are the per-request limits of one tenant, resolved; 0 = unlimited. */
export interface RequestLimits {
  /** Compressed body (Content-Length) and decompressed body, bytes (413). */
  sizeBytesLimit: number;
  /** Series in one request (413). */
  seriesLimit: number;
  /** Float samples in one request (413). */
  samplesLimit: number;
  /** Labels of one series (400; Sluice extension). */
  labelLimit: number;
  /** Bytes of one label name (400; Sluice extension). */
  labelNameLengthLimit: number;
  /** Bytes of one label value (400; Sluice extension). */
  labelValueLengthLimit: number;
}

/** TenantLimits are every limit of one tenant, resolved. */
export interface TenantLimits {
  request: RequestLimits;
  /** Active (head) series of the tenant across the node (429 while reached); 0 = unlimited. */
  headSeriesLimit: number;
}

/**
 * LimitsConfig is a parsed limits file. Plain data (a Map and objects) so it can be sent to the
 * gateway threads in workerData. Immutable after parsing.
 */
export interface LimitsConfig {
  /** Write requests processed at once on the node; excess wait (0 = no gate). */
  maxConcurrency: number;
  /** Requests allowed to wait at the gate before 503 (Sluice extension; default 4 × max_concurrency). */
  maxConcurrencyQueue: number;
  /** Limits of tenants not listed. */
  default: TenantLimits;
  /** Limits of listed tenants, with the default's values filled in. */
  tenants: Map<string, TenantLimits>;
  /** Keys accepted for compatibility but without effect here (meta-monitoring), as paths. */
  ignored: string[];
}

/** REQUEST_KEYS maps the YAML keys of `request` to RequestLimits fields. */
const REQUEST_KEYS = {
  size_bytes_limit: 'sizeBytesLimit',
  series_limit: 'seriesLimit',
  samples_limit: 'samplesLimit',
  label_limit: 'labelLimit',
  label_name_length_limit: 'labelNameLengthLimit',
  label_value_length_limit: 'labelValueLengthLimit',
} as const satisfies Record<string, keyof RequestLimits>;

/** Request keys that are Sluice extensions: negative values are refused, not "unlimited". */
const EXTENSION_KEYS = new Set(['label_limit', 'label_name_length_limit', 'label_value_length_limit']);

const UNLIMITED: RequestLimits = {
  sizeBytesLimit: 0, seriesLimit: 0, samplesLimit: 0, labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 0,
};

type Obj = Record<string, unknown>;

function fail(path: string, msg: string): never {
  throw new ConfigError(`${path === '' ? 'top level' : path}: ${msg}`);
}

/** mapping checks that `v` is a mapping (null or absent = empty). */
function mapping(v: unknown, path: string): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(path, `expected a mapping, got ${describe(v)}`);
  return v as Obj;
}

/** section checks that `v` is a mapping with only `allowed` keys. */
function section(v: unknown, path: string, allowed: readonly string[]): Obj {
  const o = mapping(v, path);
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) fail(path === '' ? k : `${path}.${k}`, `unknown key (expected one of ${allowed.join(', ')})`);
  }
  return o;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

/** int reads a whole number; `min` bounds it (negatives of Thanos request keys pass through). */
function int(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(path, `expected an integer, got ${describe(v)}`);
  if (v < min) fail(path, `expected an integer ≥ ${min}, got ${v}`);
  return v;
}

/** requestLimits parses a `request` mapping over `base` (the inherited values). */
function requestLimits(v: unknown, path: string, base: RequestLimits): RequestLimits {
  const o = section(v, path, Object.keys(REQUEST_KEYS));
  const out: RequestLimits = { ...base };
  for (const [key, field] of Object.entries(REQUEST_KEYS)) {
    if (!(key in o)) continue;
    const n = int(o[key], `${path}.${key}`, EXTENSION_KEYS.has(key) ? 0 : Number.MIN_SAFE_INTEGER);
    out[field] = n < 0 ? 0 : n;
  }
  return out;
}

/** checkUrl accepts an absolute URL with a scheme and a host, as Thanos does for meta-monitoring. */
function checkUrl(v: unknown, path: string): void {
  if (typeof v !== 'string') fail(path, `expected a URL string, got ${describe(v)}`);
  if (v === '') return;
  let u: URL;
  try { u = new URL(v); } catch { fail(path, `${JSON.stringify(v)} is not a valid URL`); }
  if (u.host === '') fail(path, `${JSON.stringify(v)} is not a valid meta-monitoring URL (it needs a scheme and a host)`);
}

/**
 * parseLimitsConfig parses the YAML text of a limits file; `source` names it in errors. An empty
 * document sets no limits. Throws ConfigError.
 */
export function parseLimitsConfig(text: string, source = 'limits config'): LimitsConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${source}: invalid YAML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  try {
    return fromDocument(doc);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${source}: ${e.message}`);
    throw e;
  }
}

function fromDocument(doc: unknown): LimitsConfig {
  const root = section(doc, '', ['write']);
  const write = section(root['write'], 'write', ['global', 'default', 'tenants']);
  const ignored: string[] = [];
  const global = section(write['global'], 'write.global', [
    'max_concurrency', 'max_concurrency_queue', 'meta_monitoring_url', 'meta_monitoring_limit_query', 'meta_monitoring_http_client',
  ]);
  const maxConcurrency = 'max_concurrency' in global ? Math.max(0, int(global['max_concurrency'], 'write.global.max_concurrency', Number.MIN_SAFE_INTEGER)) : 0;
  const maxConcurrencyQueue = 'max_concurrency_queue' in global
    ? int(global['max_concurrency_queue'], 'write.global.max_concurrency_queue', 0)
    : 4 * maxConcurrency;
  if ('meta_monitoring_url' in global) checkUrl(global['meta_monitoring_url'], 'write.global.meta_monitoring_url');
  if ('meta_monitoring_limit_query' in global && typeof global['meta_monitoring_limit_query'] !== 'string') {
    fail('write.global.meta_monitoring_limit_query', `expected a string, got ${describe(global['meta_monitoring_limit_query'])}`);
  }
  // The HTTP client block is Thanos' own schema (TLS, auth); only its shape is checked here.
  if ('meta_monitoring_http_client' in global) mapping(global['meta_monitoring_http_client'], 'write.global.meta_monitoring_http_client');
  for (const k of Object.keys(global)) if (k.startsWith('meta_monitoring_')) ignored.push(`write.global.${k}`);

  const def = section(write['default'], 'write.default', ['request', 'head_series_limit']);
  const defaults: TenantLimits = {
    request: requestLimits(def['request'], 'write.default.request', UNLIMITED),
    headSeriesLimit: 'head_series_limit' in def ? int(def['head_series_limit'], 'write.default.head_series_limit', 0) : 0,
  };

  const tenants = new Map<string, TenantLimits>();
  for (const [name, v] of Object.entries(mapping(write['tenants'], 'write.tenants'))) {
    const path = `write.tenants.${name}`;
    const o = section(v, path, ['request', 'head_series_limit']);
    tenants.set(name, {
      request: requestLimits(o['request'], `${path}.request`, defaults.request),
      headSeriesLimit: 'head_series_limit' in o ? int(o['head_series_limit'], `${path}.head_series_limit`, 0) : defaults.headSeriesLimit,
    });
  }
  return { maxConcurrency, maxConcurrencyQueue, default: defaults, tenants, ignored };
}

/** loadLimitsConfig reads and parses a limits file. Throws ConfigError naming the file. */
export function loadLimitsConfig(path: string): LimitsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`--receive.limits-config-file: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseLimitsConfig(text, `--receive.limits-config-file ${path}`);
}

/** limitsFor returns the resolved limits of `tenant` (the default's for unlisted tenants). */
export function limitsFor(cfg: LimitsConfig, tenant: string): TenantLimits {
  return cfg.tenants.get(tenant) ?? cfg.default;
}

/** hasHeadSeriesLimits tells whether any tenant has a head-series limit (polling is needed). */
export function hasHeadSeriesLimits(cfg: LimitsConfig): boolean {
  if (cfg.default.headSeriesLimit > 0) return true;
  for (const t of cfg.tenants.values()) if (t.headSeriesLimit > 0) return true;
  return false;
}
