/**
 * Strict reading of one YAML mapping of the objstore config: typed getters with defaults, and
 * an error naming any key nobody asked for (Thanos parses these files with yaml.UnmarshalStrict).
 * Pure: touches no file and no global state.
 */
import { ConfigError } from '../../errors.js';
import { parseDuration } from '../../util/duration.js';

/** Fields reads the keys of one mapping; call done() after the last getter. */
export class Fields {
  private readonly obj: Record<string, unknown>;
  private readonly path: string;
  private readonly used = new Set<string>();

  /**
   * `value` is the parsed mapping (null/undefined read as empty); `path` names it in errors,
   * e.g. `config` or `config.http_config`.
   */
  constructor(value: unknown, path: string) {
    this.path = path;
    if (value === null || value === undefined) this.obj = {};
    else if (typeof value === 'object' && !Array.isArray(value)) this.obj = value as Record<string, unknown>;
    else throw fail(`${path} must be a mapping, got ${describe(value)}`);
  }

  /** str reads a string; numbers and booleans are taken as their text, as yaml.v2 does. */
  str(key: string, def = ''): string {
    const v = this.take(key);
    if (v === undefined || v === null) return def;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw fail(`${this.name(key)} must be a string, got ${describe(v)}`);
  }

  /** bool reads a boolean. */
  bool(key: string, def = false): boolean {
    const v = this.take(key);
    if (v === undefined || v === null) return def;
    if (typeof v === 'boolean') return v;
    throw fail(`${this.name(key)} must be true or false, got ${describe(v)}`);
  }

  /** int reads a non-negative integer. */
  int(key: string, def: number): number {
    const v = this.take(key);
    if (v === undefined || v === null) return def;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
    throw fail(`${this.name(key)} must be a non-negative integer, got ${describe(v)}`);
  }

  /** duration reads a Prometheus duration (`90s`, `2m`) into milliseconds. */
  duration(key: string, defMs: number): number {
    const v = this.take(key);
    if (v === undefined || v === null) return defMs;
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) throw fail(`${this.name(key)} must be a duration like 90s or 2m, got ${describe(v)}`);
    return ms;
  }

  /** stringMap reads a mapping of strings to strings. */
  stringMap(key: string): Record<string, string> {
    const sub = new Fields(this.take(key), this.name(key));
    const out: Record<string, string> = {};
    for (const k of sub.keys()) out[k] = sub.str(k);
    return out;
  }

  /** sub reads a nested mapping; the caller must call done() on it. */
  sub(key: string): Fields {
    return new Fields(this.take(key), this.name(key));
  }

  /** has tells whether `key` is present with a non-null value (does not mark it read). */
  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  /** keys lists the mapping's keys. */
  keys(): string[] {
    return Object.keys(this.obj);
  }

  /** done throws a ConfigError naming the first key no getter read. */
  done(): void {
    for (const k of Object.keys(this.obj)) {
      if (!this.used.has(k)) throw fail(`unknown field ${JSON.stringify(this.name(k))}`);
    }
  }

  /** name is the dotted path of `key`, for messages. */
  name(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  private take(key: string): unknown {
    this.used.add(key);
    return this.obj[key];
  }
}

/** fail makes the ConfigError every objstore config problem is reported with. */
export function fail(msg: string): ConfigError {
  return new ConfigError(`objstore config: ${msg}`);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object' && v !== null) return 'a mapping';
  return JSON.stringify(v) ?? String(v);
}
