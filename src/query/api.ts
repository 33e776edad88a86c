/**
 * The metadata part of the Prometheus HTTP API: /api/v1/series, /api/v1/labels and
 * /api/v1/label/<name>/values, GET or POST (form), in Prometheus' JSON shape (with `warnings` when
 * a peer could not be read), limited to the tenant named by the tenant header. The answers come
 * from where PromQL reads (src/query/metadata.ts): heads, local and bucket blocks and, with a
 * hashring, the peers. Series carry the receiver's external labels and the tenant label, as
 * Thanos Receive's StoreAPI presents them.
 */
import { ErrorCode, SluiceError } from '../errors.js';
import { parseSelector } from '../model/selector.js';
import { labelsToObject } from '../model/labels.js';
import { resolveTenant } from '../gateway/tenant.js';
import { failure, formParams, jsonReply, parseTime } from './httpApi.js';
import { TenantMetadata, type MetadataAnswer } from './metadata.js';
import type { HttpReply, HttpRequest, Route } from '../gateway/http.js';
import type { Matcher } from '../model/matchers.js';
import type { QuerierOptions } from './querier.js';

/**
 * ApiOptions configures the metadata API: where it reads (as PromQL: pool, blocks, peers, labels
 * added and replica labels dropped) and how a request names its tenant.
 */
export interface ApiOptions extends QuerierOptions {
  tenantHeader: string;
  defaultTenant: string;
}

/** MetadataQuery is a metadata request's parameters. */
interface MetadataQuery { meta: TenantMetadata; matcherSets: Matcher[][]; mint: number; maxt: number; limit: number }

/** MetadataApi serves the metadata endpoints. */
export class MetadataApi {
  private readonly opts: ApiOptions;

  constructor(opts: ApiOptions) {
    this.opts = opts;
  }

  /** routes returns the HTTP routes of this API. */
  routes(): Route[] {
    const maxBodyBytes = 8 << 20;
    const wrap = <T>(f: (req: HttpRequest, p: URLSearchParams) => Promise<MetadataAnswer<T>>) => async (req: HttpRequest, body: Uint8Array): Promise<HttpReply> => {
      try {
        const { data, warnings } = await f(req, formParams(req, body));
        return jsonReply(200, warnings.length > 0 ? { status: 'success', data, warnings } : { status: 'success', data });
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

  /** query reads the parameters the three endpoints share. */
  private query(req: HttpRequest, p: URLSearchParams, requireMatch: boolean): MetadataQuery {
    const tenant = resolveTenant(req.headers, this.opts.tenantHeader, this.opts.defaultTenant);
    const raw = p.getAll('match[]');
    if (requireMatch && raw.length === 0) throw new SluiceError(ErrorCode.BadRequest, 'no match[] parameter provided');
    const matcherSets = raw.map((sel) => parseSelector(sel));
    const mint = parseTime(p.get('start'), -Infinity, 'start');
    const maxt = parseTime(p.get('end'), Infinity, 'end');
    if (mint > maxt) throw new SluiceError(ErrorCode.BadRequest, 'invalid parameter "end": end timestamp must not be before start time');
    const limitStr = p.get('limit');
    const limit = limitStr === null || limitStr === '' ? 0 : Number(limitStr);
    if (!Number.isInteger(limit) || limit < 0) throw new SluiceError(ErrorCode.BadRequest, `invalid parameter "limit": ${limitStr}`);
    return { meta: new TenantMetadata(this.opts, tenant), matcherSets, mint, maxt, limit };
  }

  private async series(req: HttpRequest, p: URLSearchParams): Promise<MetadataAnswer<Record<string, string>>> {
    const { meta, matcherSets, mint, maxt, limit } = this.query(req, p, true);
    const { data, warnings } = await meta.series(matcherSets, mint, maxt, limit);
    return { data: data.map(labelsToObject), warnings };
  }

  private labelNames(req: HttpRequest, p: URLSearchParams): Promise<MetadataAnswer<string>> {
    const { meta, matcherSets, mint, maxt, limit } = this.query(req, p, false);
    return meta.labelNames(matcherSets, mint, maxt, limit);
  }

  private labelValues(req: HttpRequest, p: URLSearchParams): Promise<MetadataAnswer<string>> {
    const m = /^\/api\/v1\/label\/([^/]+)\/values$/.exec(req.path);
    if (!m) throw new SluiceError(ErrorCode.BadRequest, `invalid path ${req.path}`);
    const name = decodeURIComponent(m[1]!);
    const { meta, matcherSets, mint, maxt, limit } = this.query(req, p, false);
    return meta.labelValues(name, matcherSets, mint, maxt, limit);
  }
}
