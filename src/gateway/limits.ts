/**
 * Enforcement of the limits config (src/receive/limits.ts) on a gateway thread: the per-tenant
 * bounds a request is checked against, the refusal errors (each names the limit and the value),
 * the head-series refusal set pushed by the main thread, and the write gate of max_concurrency.
 *
 *   admission (handler)   head series (429) → body size (413) → gate (waits; 503 when full)
 *   ingest                decompressed size (413) → series, samples (413) → labels in route (400)
 *
 * Owned by one gateway thread; nothing here is shared with other threads. Touches no socket and
 * no shard: the handler calls it and maps the errors to statuses (src/gateway/status.ts).
 */
import { ErrorCode, SluiceError } from '../errors.js';
import { limitsFor, type LimitsConfig, type TenantLimits } from '../receive/limits.js';
import type { RouteLimits } from './route.js';

/**
 * LimitError is a refusal by a configured or built-in limit. `limit` is the metric label of the
 * limit (Thanos' `body_size`, `series`, `samples`, or Sluice's label limits); `over` is how far
 * beyond it the request was (Thanos' `thanos_receive_write_limits_hit` observes that).
 */
export class LimitError extends SluiceError {
  readonly limit: string;
  readonly over: number;
  constructor(code: ErrorCode, limit: string, over: number, message: string) {
    super(code, message);
    this.limit = limit;
    this.over = over;
    this.name = 'LimitError';
  }
}

/** Limit names the `limit` label values of refusals (bounded set: keeps metric cardinality low). */
export const Limit = {
  BODY_SIZE: 'body_size',
  SERIES: 'series',
  SAMPLES: 'samples',
  LABEL_COUNT: 'label_limit',
  LABEL_NAME_LENGTH: 'label_name_length_limit',
  LABEL_VALUE_LENGTH: 'label_value_length_limit',
} as const;

/** refusal builds the message `<what> limit exceeded: <value> > <key> <limit> (tenant "<t>")`. */
export function refusal(what: string, value: string, key: string, limit: number, tenant: string): string {
  return `${what} limit exceeded: ${value} > ${key} ${limit} (tenant ${JSON.stringify(tenant)})`;
}

/**
 * Built-in bounds that hold with or without a limits config (the body sizes are checked by the
 * HTTP route and the ingest pipeline themselves).
 */
export interface BuiltinBounds {
  /** Label bounds of the router (src/gateway/route.ts DEFAULT_ROUTE_LIMITS). */
  route: RouteLimits;
}

/**
 * TenantBounds are one tenant's limits as the gateway checks them: 0 = unlimited, label bounds
 * merged with the built-in ones (the smaller wins, and its name is the one refusals give).
 * Immutable; built once per listed tenant and once for the default.
 */
export class TenantBounds {
  readonly sizeBytes: number;
  readonly series: number;
  readonly samples: number;
  readonly headSeries: number;
  readonly route: RouteLimits;

  constructor(t: TenantLimits, builtin: RouteLimits) {
    const r = t.request;
    this.sizeBytes = r.sizeBytesLimit;
    this.series = r.seriesLimit;
    this.samples = r.samplesLimit;
    this.headSeries = t.headSeriesLimit;
    const tighter = (configured: number, builtinMax: number): boolean => configured > 0 && configured <= builtinMax;
    const name = tighter(r.labelNameLengthLimit, builtin.maxLabelNameLength);
    const value = tighter(r.labelValueLengthLimit, builtin.maxLabelValueLength);
    const count = tighter(r.labelLimit, builtin.maxLabelNamesPerSeries);
    this.route = {
      maxLabelNameLength: name ? r.labelNameLengthLimit : builtin.maxLabelNameLength,
      maxLabelValueLength: value ? r.labelValueLengthLimit : builtin.maxLabelValueLength,
      maxLabelNamesPerSeries: count ? r.labelLimit : builtin.maxLabelNamesPerSeries,
      labelNameLengthKey: name ? 'label_name_length_limit' : builtin.labelNameLengthKey,
      labelValueLengthKey: value ? 'label_value_length_limit' : builtin.labelValueLengthKey,
      labelCountKey: count ? 'label_limit' : builtin.labelCountKey,
    };
  }

  /** checkBody refuses a compressed body (its Content-Length) over size_bytes_limit: 413. */
  checkBody(bytes: number, tenant: string): void {
    if (this.sizeBytes > 0 && bytes > this.sizeBytes) {
      throw new LimitError(ErrorCode.TooLarge, Limit.BODY_SIZE, bytes - this.sizeBytes,
        refusal('request size', `${bytes} bytes`, 'size_bytes_limit', this.sizeBytes, tenant));
    }
  }

  /** checkDecompressed refuses a decompressed body over size_bytes_limit: 413 (as Thanos). */
  checkDecompressed(bytes: number, tenant: string): void {
    if (this.sizeBytes > 0 && bytes > this.sizeBytes) {
      throw new LimitError(ErrorCode.TooLarge, Limit.BODY_SIZE, bytes - this.sizeBytes,
        refusal('request size', `decompressed body of ${bytes} bytes`, 'size_bytes_limit', this.sizeBytes, tenant));
    }
  }

  /** checkCounts refuses a request over series_limit or samples_limit: 413. */
  checkCounts(series: number, samples: number, tenant: string): void {
    if (this.series > 0 && series > this.series) {
      throw new LimitError(ErrorCode.TooLarge, Limit.SERIES, series - this.series,
        refusal('request series', `${series} series`, 'series_limit', this.series, tenant));
    }
    if (this.samples > 0 && samples > this.samples) {
      throw new LimitError(ErrorCode.TooLarge, Limit.SAMPLES, samples - this.samples,
        refusal('request samples', `${samples} samples`, 'samples_limit', this.samples, tenant));
    }
  }
}

/** GATE_MAX_WAIT_MS bounds a wait at the write gate (Prometheus' remote_timeout defaults to 30 s). */
export const GATE_MAX_WAIT_MS = 30_000;

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
  next: Waiter | undefined;
  prev: Waiter | undefined;
}

/**
 * ConcurrencyGate lets `slots` requests run at once; the next `queue` wait in arrival order (a
 * linked list, so a timed-out waiter leaves in O(1)); beyond that, or after `maxWaitMs` of
 * waiting, enter() fails with 503 (Unavailable, Retry-After) instead of queueing without bound.
 */
export class ConcurrencyGate {
  readonly slots: number;
  readonly queue: number;
  readonly maxWaitMs: number;
  /** Requests holding a slot. */
  running = 0;
  /** Requests waiting for a slot. */
  waiting = 0;
  private head: Waiter | undefined;
  private tail: Waiter | undefined;

  constructor(slots: number, queue: number, maxWaitMs = GATE_MAX_WAIT_MS) {
    this.slots = Math.max(1, slots);
    this.queue = Math.max(0, queue);
    this.maxWaitMs = maxWaitMs;
  }

  /**
   * enter takes a slot. Hot path: returns undefined when one is free (no promise, no await);
   * otherwise a promise that resolves once a slot is handed over, or rejects with 503. A caller
   * whose enter() did not throw or reject must call leave() exactly once.
   */
  enter(): Promise<void> | undefined {
    if (this.running < this.slots && this.waiting === 0) {
      this.running++;
      return undefined;
    }
    if (this.waiting >= this.queue) {
      return Promise.reject(new SluiceError(ErrorCode.Unavailable,
        `write gate full: ${this.waiting} requests waiting for ${this.slots} slots >= max_concurrency_queue ${this.queue} (per gateway thread); retry later`));
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined, next: undefined, prev: this.tail };
      if (this.tail) this.tail.next = w; else this.head = w;
      this.tail = w;
      this.waiting++;
      w.timer = setTimeout(() => {
        this.unlink(w);
        reject(new SluiceError(ErrorCode.Unavailable,
          `write gate: waited ${this.maxWaitMs} ms for one of ${this.slots} slots (max_concurrency per gateway thread); retry later`));
      }, this.maxWaitMs);
    });
  }

  /** leave frees a slot, handing it straight to the oldest waiter if there is one. */
  leave(): void {
    const w = this.head;
    if (w === undefined) {
      this.running--;
      return;
    }
    // The slot passes on: `running` stays the same.
    this.unlink(w);
    clearTimeout(w.timer);
    w.resolve();
  }

  private unlink(w: Waiter): void {
    if (w.prev) w.prev.next = w.next; else this.head = w.next;
    if (w.next) w.next.prev = w.prev; else this.tail = w.prev;
    w.next = w.prev = undefined;
    this.waiting--;
  }
}

/** HeadSeriesOverMessage tells a gateway thread which tenants are at their head-series limit. */
export interface HeadSeriesOverMessage {
  type: 'head-series-over';
  id: number;
  /** [tenant, active series across the node] of every tenant at or over its limit. */
  tenants: [string, number][];
}

/** HeadSeriesOverAck answers a HeadSeriesOverMessage once the gateway applies it. */
export interface HeadSeriesOverAck {
  type: 'head-series-over-ack';
  id: number;
}

/**
 * GatewayLimits holds one gateway thread's view of the limits: the bounds per tenant, the write
 * gate (its share of max_concurrency: ceil(max / gateways)) and the tenants over their head-series
 * limit as last reported by the main thread.
 */
export class GatewayLimits {
  readonly config: LimitsConfig | undefined;
  /** The write gate, if max_concurrency is set. */
  readonly gate: ConcurrencyGate | undefined;
  private readonly byTenant = new Map<string, TenantBounds>();
  private readonly defaults: TenantBounds | undefined;
  /** tenant → active series, for tenants at or over head_series_limit; replaced wholesale. */
  private over = new Map<string, number>();

  constructor(config: LimitsConfig | undefined, gateways: number, builtin: BuiltinBounds) {
    this.config = config;
    if (config === undefined) {
      this.gate = undefined;
      this.defaults = undefined;
      return;
    }
    const g = Math.max(1, gateways);
    this.gate = config.maxConcurrency > 0
      ? new ConcurrencyGate(Math.ceil(config.maxConcurrency / g), Math.ceil(config.maxConcurrencyQueue / g))
      : undefined;
    this.defaults = new TenantBounds(config.default, builtin.route);
    for (const [t, l] of config.tenants) this.byTenant.set(t, new TenantBounds(l, builtin.route));
  }

  /** forTenant returns the bounds of `tenant`; undefined when no limits config is loaded. */
  forTenant(tenant: string): TenantBounds | undefined {
    return this.byTenant.get(tenant) ?? this.defaults;
  }

  /**
   * largestBody is the largest compressed body any tenant may send (0 = some tenant is
   * unlimited): the HTTP route refuses bodies above it before reading them.
   */
  largestBody(): number {
    if (this.defaults === undefined) return 0;
    let max = this.defaults.sizeBytes;
    if (max === 0) return 0;
    for (const b of this.byTenant.values()) {
      if (b.sizeBytes === 0) return 0;
      if (b.sizeBytes > max) max = b.sizeBytes;
    }
    return max;
  }

  /** setHeadSeriesOver replaces the set of tenants at or over their head-series limit. */
  setHeadSeriesOver(tenants: [string, number][]): void {
    this.over = new Map(tenants);
  }

  /**
   * checkHeadSeries refuses a tenant at or over head_series_limit: 429 for the whole request, as
   * Thanos does (the gateway cannot tell new series from known ones; see README "Limits").
   */
  checkHeadSeries(tenant: string, b: TenantBounds): void {
    if (this.over.size === 0 || b.headSeries === 0) return;
    const n = this.over.get(tenant);
    if (n !== undefined && n >= b.headSeries) {
      throw new LimitError(ErrorCode.TooManyRequests, 'head_series', n - b.headSeries,
        `head series limit exceeded: ${n} active series >= head_series_limit ${b.headSeries} (tenant ${JSON.stringify(tenant)}); writes are refused until the tenant is below it`);
    }
  }
}

/**
 * overHeadSeriesLimit lists the tenants whose active series (summed over shards) reached their
 * head_series_limit. Pure; used by the main thread between polls.
 */
export function overHeadSeriesLimit(cfg: LimitsConfig, counts: Map<string, number>): [string, number][] {
  const out: [string, number][] = [];
  for (const [tenant, n] of counts) {
    const limit = limitsFor(cfg, tenant).headSeriesLimit;
    if (limit > 0 && n >= limit) out.push([tenant, n]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
