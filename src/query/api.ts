/**
 * The metadata part of the Prometheus HTTP API over the shards' heads: /api/v1/series,
 * /api/v1/labels and /api/v1/label/<name>/values, GET or POST (form), in Prometheus' JSON shape,
 * limited to the tenant named by the tenant header. Series carry the receiver's external labels
 * and the tenant label, as Thanos Receive's StoreAPI presents them.
 */
import { ErrorCode, SluiceError } from '../errors.js';
import { parseSelector } from '../model/selector.js';
import { compileMatcher, type Matcher } from '../model/matchers.js';
import { compareLabels, labelsToObject, tenantExternalLabels, withLabels, type Labels } from '../model/labels.js';
import { resolveTenant } from '../gateway/tenant.js';
import { failure, formParams, parseTime, success } from './httpApi.js';
import type { HttpReply, HttpRequest, Route } from '../gateway/http.js';
import type { ShardPool } from '../shards/pool.js';
import type { SelectQuery } from '../shards/headRead.js';

/** ApiOptions configures the read API. */
export interface ApiOptions {
  tenantHeader: string;
  defaultTenant: string;
  tenantLabelName: string;
  externalLabels: [string, string][];
}

/** MetadataApi serves the metadata endpoints. */
export class MetadataApi {
  private readonly pool: ShardPool;
  private readonly opts: ApiOptions;

  constructor(pool: ShardPool, opts: ApiOptions) {
    this.pool = pool;
    this.opts = opts;
  }

  /** routes returns the HTTP routes of this API. */
  routes(): Route[] {
    const maxBodyBytes = 8 << 20;
    const wrap = (f: (req: HttpRequest, p: URLSearchParams) => Promise<unknown>) => async (req: HttpRequest, body: Uint8Array): Promise<HttpReply> => {
      try {
        return success(await f(req, formParams(req, body)));
      } catch (e) {
        return failure(e);
      }
    };
    const series = wrap((req, p) => this.series(req, p));
    const labels = wrap((req, p) => this.labelNames(req, p));
    const values = wrap((req, p) => this.labelValues(req, p));
    return [
      { method: 'GET', path: '/api/v1/series', handler: series, maxBodyBytes },
      { method: 'POST', path: '/api/v1/series', handler: series, maxBodyBytes },
      { method: 'GET', path: '/api/v1/labels', handler: labels, maxBodyBytes },
      { method: 'POST', path: '/api/v1/labels', handler: labels, maxBodyBytes },
      { method: 'GET', path: '/api/v1/label/*', handler: values, maxBodyBytes },
    ];
  }

  /**
   * query builds the shard query. Matchers on external labels are decided here: a set whose
   * external-label matchers fail selects nothing; the rest go to the shards.
   */
  private query(req: HttpRequest, p: URLSearchParams, requireMatch: boolean): { q: SelectQuery; ext: Labels; limit: number; none: boolean } {
    const tenant = resolveTenant(req.headers, this.opts.tenantHeader, this.opts.defaultTenant);
    const ext = tenantExternalLabels(this.opts.externalLabels, this.opts.tenantLabelName, tenant);
    const extMap = new Map(ext);
    const raw = p.getAll('match[]');
    if (requireMatch && raw.length === 0) throw new SluiceError(ErrorCode.BadRequest, 'no match[] parameter provided');
    const matcherSets: Matcher[][] = [];
    for (const sel of raw) {
      const ms = parseSelector(sel);
      const rest: Matcher[] = [];
      let possible = true;
      for (const m of ms) {
        const v = extMap.get(m.name);
        if (v === undefined) rest.push(m);
        else if (!compileMatcher(m).matches(v)) possible = false;
      }
      if (possible) matcherSets.push(rest);
    }
    const mint = parseTime(p.get('start'), -Infinity, 'start');
    const maxt = parseTime(p.get('end'), Infinity, 'end');
    if (mint > maxt) throw new SluiceError(ErrorCode.BadRequest, 'invalid parameter "end": end timestamp must not be before start time');
    const limitStr = p.get('limit');
    const limit = limitStr === null || limitStr === '' ? 0 : Number(limitStr);
    if (!Number.isInteger(limit) || limit < 0) throw new SluiceError(ErrorCode.BadRequest, `invalid parameter "limit": ${limitStr}`);
    // Every match[] set ruled out by external labels: select nothing (no sets would mean all).
    const none = raw.length > 0 && matcherSets.length === 0;
    return { q: { tenant, matcherSets, mint, maxt }, ext, limit, none };
  }

  private async series(req: HttpRequest, p: URLSearchParams): Promise<Record<string, string>[]> {
    const { q, ext, limit, none } = this.query(req, p, true);
    if (none) return [];
    const found = await this.pool.series(q);
    const merged = found.map((ls) => withLabels(ls, ext));
    merged.sort(compareLabels);
    const out = limit > 0 ? merged.slice(0, limit) : merged;
    return out.map(labelsToObject);
  }

  private async labelNames(req: HttpRequest, p: URLSearchParams): Promise<string[]> {
    const { q, ext, limit, none } = this.query(req, p, false);
    if (none) return [];
    const names = await this.pool.labelNames(q);
    const all = [...new Set([...names, ...(names.length > 0 ? ext.map(([k]) => k) : [])])].sort();
    return limit > 0 ? all.slice(0, limit) : all;
  }

  private async labelValues(req: HttpRequest, p: URLSearchParams): Promise<string[]> {
    const m = /^\/api\/v1\/label\/([^/]+)\/values$/.exec(req.path);
    if (!m) throw new SluiceError(ErrorCode.BadRequest, `invalid path ${req.path}`);
    const name = decodeURIComponent(m[1]!);
    const { q, ext, limit, none } = this.query(req, p, false);
    if (none) return [];
    const extValue = new Map(ext).get(name);
    let values: string[];
    if (extValue !== undefined) {
      const any = await this.pool.labelNames(q);
      values = any.length > 0 ? [extValue] : [];
    } else values = await this.pool.labelValues(name, q);
    return limit > 0 ? values.slice(0, limit) : values;
  }
}
