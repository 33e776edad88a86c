/**
 * Watches the hashring file (`--receive.hashrings-file`) and hands every new valid version to a
 * callback as built Hashrings. The file is re-read at `--receive.hashrings-file-refresh-interval`
 * and, sooner, when its directory reports a change (Kubernetes swaps ConfigMap files by renaming a
 * symlink, which a watch on the file itself would miss). A version is new when its bytes differ
 * from the last one loaded. An unreadable or invalid version is reported to `onError` and counted;
 * the rings in use stay as they are. Touches only the file it watches (reads).
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname } from 'node:path';
import { parseHashringsConfig } from './config.js';
import { Hashrings, type HashringsOptions } from './hashrings.js';
import type { HashringMetrics } from './metrics.js';

/** HashringWatcherOptions configure a HashringWatcher. */
export interface HashringWatcherOptions extends HashringsOptions {
  /** path of the hashring file. */
  path: string;
  /** intervalMs between re-reads (DEFAULT_REFRESH_INTERVAL_MS in config.ts is Thanos' 5m). */
  intervalMs: number;
  /** onChange receives each new valid version; it is not called for the initial load(). */
  onChange: (rings: Hashrings) => void;
  /** onError receives every failed reload (the old rings stay in use). */
  onError?: (err: Error) => void;
  metrics?: HashringMetrics;
}

/** HashringWatcher reloads a hashring file. Call load() once, then start(); stop() at shutdown. */
export class HashringWatcher {
  private readonly opts: HashringWatcherOptions;
  private lastText: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private fsWatcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;

  constructor(opts: HashringWatcherOptions) {
    this.opts = opts;
  }

  /**
   * load reads, parses and builds the file now and returns the rings; it throws ConfigError (or the
   * read error) if that fails, so a receiver does not start on a bad file.
   */
  load(): Hashrings {
    const text = readFileSync(this.opts.path, 'utf8');
    const rings = this.build(text);
    this.accept(text, rings);
    return rings;
  }

  /** start begins polling (and watching the file's directory). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.refresh(), this.opts.intervalMs);
    this.timer.unref();
    try {
      const name = basename(this.opts.path);
      this.fsWatcher = watch(dirname(this.opts.path), { persistent: false }, (_event, file) => {
        // ConfigMap updates touch ..data and timestamped dirs rather than the file itself.
        if (file !== null && file !== name && !file.startsWith('..')) return;
        if (this.debounce !== undefined) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => { this.debounce = undefined; this.refresh(); }, 100);
        this.debounce.unref();
      });
      this.fsWatcher.on('error', () => { /* polling still covers the file */ });
    } catch {
      // Directory watching is an optimisation; polling alone is correct.
    }
  }

  /** stop ends polling and watching. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.debounce !== undefined) clearTimeout(this.debounce);
    this.fsWatcher?.close();
    this.timer = undefined;
    this.debounce = undefined;
    this.fsWatcher = undefined;
  }

  /**
   * refresh re-reads the file; if its content changed and is valid, calls onChange. Returns true
   * when a new version was handed over.
   */
  refresh(): boolean {
    const m = this.opts.metrics;
    m?.fileRefreshes.inc();
    let text: string;
    let rings: Hashrings;
    try {
      text = readFileSync(this.opts.path, 'utf8');
      if (text === this.lastText) return false;
      rings = this.build(text);
    } catch (e) {
      m?.fileErrors.inc();
      m?.lastReloadSuccessful.set(0);
      this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
      return false;
    }
    this.accept(text, rings);
    m?.fileChanges.inc();
    this.opts.onChange(rings);
    return true;
  }

  private build(text: string): Hashrings {
    return new Hashrings(parseHashringsConfig(text, this.opts.path), this.opts);
  }

  /** accept records a loaded version and publishes its gauges. */
  private accept(text: string, rings: Hashrings): void {
    this.lastText = text;
    const m = this.opts.metrics;
    if (m === undefined) return;
    m.configHash.set(hashAsMetricValue(text));
    m.lastReloadSuccessful.set(1);
    m.lastReloadSuccessTimestamp.set(Date.now() / 1000);
    m.nodes.reset();
    m.tenants.reset();
    for (const c of rings.configs) {
      m.nodes.set({ name: c.hashring }, c.endpoints.length);
      m.tenants.set({ name: c.hashring }, c.tenants.length);
    }
  }
}

/** hashAsMetricValue turns the file's md5 into a gauge value (48 bits, like Thanos). */
function hashAsMetricValue(text: string): number {
  const sum = createHash('md5').update(text).digest();
  return sum.readUIntLE(0, 6);
}
