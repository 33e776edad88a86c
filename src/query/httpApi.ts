/**
 * What every Prometheus-HTTP-API endpoint on --http-address shares: the JSON envelope
 * (`{"status":"success","data":…}` / `{"status":"error","errorType":…,"error":…}`), request
 * parameters from the query string or a form POST (as Grafana sends them), and Prometheus' time
 * and duration parameter formats. Statuses of coded errors come from src/gateway/status.ts.
 */
import { ErrorCode, SluiceError, isSluiceError } from '../errors.js';
import { statusOf } from '../gateway/status.js';
import { parseDuration } from '../util/duration.js';
import type { HttpReply, HttpRequest } from '../gateway/http.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** errorType names Prometheus' error classes by status. */
export function errorType(status: number): string {
  return status === 400 ? 'bad_data' : status === 422 ? 'execution' : status === 503 ? 'unavailable' : 'internal';
}

/** jsonReply serializes `body` with the JSON content type. */
export function jsonReply(status: number, body: unknown): HttpReply {
  return { status, headers: JSON_HEADERS, body: JSON.stringify(body) };
}

/** success wraps `data` in Prometheus' success envelope. */
export function success(data: unknown): HttpReply {
  return jsonReply(200, { status: 'success', data });
}

/** QueryFailure is an error with its HTTP status and Prometheus errorType decided. */
export interface QueryFailure { status: number; errorType: string; message: string }

/**
 * queryFailure classifies an error of a query: coded errors by their code, the engine's
 * timeout as 503 `timeout`, a query its client left as 499 `canceled`, any other evaluation error as 422 `execution` (Prometheus' classes).
 */
export function queryFailure(e: unknown): QueryFailure {
  const message = isSluiceError(e) || e instanceof Error ? e.message : String(e);
  if (isSluiceError(e)) {
    const status = statusOf(e);
    return { status, errorType: errorType(status), message };
  }
  if (/timed out/.test(message)) return { status: 503, errorType: 'timeout', message };
  // Prometheus answers a query canceled by its client's leaving 499 (nginx' "client closed request").
  if (/^query was canceled/.test(message)) return { status: 499, errorType: 'canceled', message };
  return { status: 422, errorType: 'execution', message };
}

/** failureReply renders a QueryFailure in Prometheus' error envelope. */
export function failureReply(f: QueryFailure): HttpReply {
  return jsonReply(f.status, { status: 'error', errorType: f.errorType, error: f.message });
}

/** failure answers an error in Prometheus' error envelope, its status chosen by its code. */
export function failure(e: unknown): HttpReply {
  const status = statusOf(e);
  const msg = isSluiceError(e) || e instanceof Error ? e.message : String(e);
  return jsonReply(status, { status: 'error', errorType: errorType(status), error: msg });
}

/** formParams merges the query string and, for form POSTs, the body. */
export function formParams(req: HttpRequest, body: Uint8Array): URLSearchParams {
  const p = new URLSearchParams(req.query);
  if (req.method === 'POST' && body.length > 0) {
    const ct = req.headers.get('content-type') ?? '';
    if (!ct.startsWith('application/x-www-form-urlencoded')) {
      throw new SluiceError(ErrorCode.BadRequest, `unsupported Content-Type ${JSON.stringify(ct)} for a form POST`);
    }
    for (const [k, v] of new URLSearchParams(new TextDecoder().decode(body))) p.append(k, v);
  }
  return p;
}

/** parseTime reads Prometheus' time formats (unix seconds with fraction, or RFC 3339) into ms. */
export function parseTime(s: string | null, dflt: number, name: string): number {
  if (s === null || s === '') return dflt;
  if (/^[+-]?\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new SluiceError(ErrorCode.BadRequest, `invalid parameter "${name}": cannot parse "${s}" to a valid timestamp`);
  return t;
}

/** parseStep reads a step or timeout parameter: seconds (with fraction) or a duration like 15s. */
export function parseStep(s: string | null, name: string): number {
  const v = s === null ? '' : s;
  const ms = /^[+-]?\d+(\.\d+)?$/.test(v) ? Math.round(Number(v) * 1000) : parseDuration(v);
  if (ms === undefined) throw new SluiceError(ErrorCode.BadRequest, `invalid parameter "${name}": cannot parse "${v}" to a valid duration`);
  return ms;
}
