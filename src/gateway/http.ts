/**
 * A minimal HTTP layer with two engines: uWebSockets.js (the default, fastest) and node:http
 * (used when the native module cannot load on this platform, or with SLUICE_HTTP_ENGINE=node).
 * Handlers see a plain request (method, path, query, headers) and the whole body, and return a
 * reply; engine details stay in this file. Memory: a body is buffered only once its request is
 * admitted and, for routes with a BodyBudget, once the listener's budget of buffered body bytes
 * has room for it; refused bodies are read and dropped, never kept.
 */
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Logger } from '../util/log.js';

/** HttpRequest is what a handler sees of a request. Header names are lower case. */
export interface HttpRequest {
  method: string;
  path: string;
  query: string;
  headers: Map<string, string>;
  /**
   * abortSignal returns a signal that aborts when the client goes away before the reply (made on
   * the first call, so requests that never ask pay nothing).
   */
  abortSignal?: () => AbortSignal;
}

/** HttpReply is what a handler answers. */
export interface HttpReply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** Handler serves one route. Thrown errors become 500s; map coded errors yourself. */
export type Handler = (req: HttpRequest, body: Uint8Array) => HttpReply | Promise<HttpReply>;

/** Route binds a handler to a method and a path (a trailing '*' matches any suffix). */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'ANY';
  path: string;
  handler: Handler;
  /** Larger bodies are answered 413 without calling the handler. */
  maxBodyBytes: number;
  /**
   * admit, when set, decides when the headers arrive (before the body): a reply refuses the
   * request with it (the body is still read), undefined lets it through to the handler. A
   * request admitted here is answered by the handler even if admit would refuse it later.
   */
  admit?: (req: HttpRequest) => HttpReply | undefined;
  /**
   * budget, when set, bounds the body bytes the listener holds at once for the routes sharing it
   * (from buffering until the reply is sent): a request it has no room for is answered with
   * `budget.refusal` as soon as its headers (or the chunk crossing the budget) arrive, and its
   * body is dropped unread. Checked after `admit`.
   */
  budget?: BodyBudget;
  /**
   * closeGraceMs, when set, bounds shutdown: requests still in flight this long after the
   * listener's close() are cut off (every connection is closed, as by closeAll), so that
   * drained() resolves in time. The listener takes the smallest value among its routes. The
   * thread that owns the listener must close its connections itself: a worker thread ended with
   * connections open aborts the whole process (uWebSockets.js leaves its handles on the loop).
   */
  closeGraceMs?: number;
}

/**
 * BodyBudget is the byte budget of a listener's buffered request bodies (implemented by the
 * route's owner, which also chooses the refusal's status). One per listener thread; not shared
 * across threads.
 */
export interface BodyBudget {
  /**
   * tryTake reserves `bytes` and says whether it could. It must grant a request when nothing is
   * reserved, so that a body within the route's maxBodyBytes is never refused forever.
   */
  tryTake(bytes: number): boolean;
  /** release returns bytes taken with tryTake. */
  release(bytes: number): void;
  /** refusal answers a request refused for want of `bytes` (it holds `held` already). */
  refusal(bytes: number, held: number): HttpReply;
}

/** CHUNKED_FIRST_BYTES is the first buffer (and reservation) of a body without Content-Length. */
const CHUNKED_FIRST_BYTES = 16 * 1024;

/** Listener is a started server. */
export interface Listener {
  engine: 'uws' | 'node';
  port: number;
  /**
   * close stops accepting connections; open ones finish their requests (cut off after the
   * routes' closeGraceMs, if any).
   */
  close(): void;
  /** closeAll closes every connection too, in flight or not; safe to call more than once. */
  closeAll(): void;
  /** drained resolves once no request is between its headers and its reply. */
  drained(): Promise<void>;
}

/** InFlight counts requests from their headers to their reply. */
class InFlight {
  private n = 0;
  private waiters: (() => void)[] = [];
  /** begin counts a request and returns the function that ends it (once). */
  begin(): () => void {
    this.n++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.n === 0) for (const w of this.waiters.splice(0)) w();
    };
  }
  drained(): Promise<void> {
    return this.n === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}

/**
 * closeWithCutOff returns the listener's close(): `close` now and, when a route sets
 * closeGraceMs, `closeAll` once the smallest of them has passed with requests still in flight.
 */
function closeWithCutOff(routes: Route[], inFlight: InFlight, close: () => void, closeAll: () => void): () => void {
  let grace = Infinity;
  for (const r of routes) if (r.closeGraceMs !== undefined) grace = Math.min(grace, r.closeGraceMs);
  let closed = false;
  return () => {
    close();
    if (closed || grace === Infinity) return;
    closed = true;
    const timer = setTimeout(closeAll, Math.max(0, grace));
    timer.unref();
    void inFlight.drained().then(() => clearTimeout(timer));
  };
}

/** EngineName selects the HTTP engine. */
export type EngineName = 'uws' | 'node';

type UwsModule = typeof import('uWebSockets.js');
let uws: UwsModule | undefined;
let uwsError = '';

/**
 * loadUws loads the native uWebSockets.js binary once. The package would silently fall back to a
 * slow JS imitation when its binary cannot load; we load the binary ourselves instead and, on
 * failure, record one line that names the platform and use node:http.
 */
function loadUws(): UwsModule | undefined {
  if (uws || uwsError) return uws;
  const platform = `${process.platform}_${process.arch}_${process.versions.modules}`;
  try {
    const require = createRequire(import.meta.url);
    uws = require(`uWebSockets.js/binaries/uws_${platform}.node`) as UwsModule;
  } catch (e) {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    const glibc = report?.header?.glibcVersionRuntime;
    uwsError = `uWebSockets.js cannot load on ${process.platform}-${process.arch} (node ${process.versions.node}, ` +
      `ABI ${process.versions.modules}, ${glibc ? 'glibc ' + glibc : 'no glibc'}): ${(e as Error).message.split('\n')[0]}; ` +
      'serving with the node:http engine';
  }
  return uws;
}

/** chooseEngine returns the engine to use and, if uWS was wanted but cannot load, why. */
export function chooseEngine(): { engine: EngineName; warning: string } {
  if (process.env['SLUICE_HTTP_ENGINE'] === 'node') return { engine: 'node', warning: '' };
  return loadUws() ? { engine: 'uws', warning: '' } : { engine: 'node', warning: uwsError };
}

/** clientGone returns the controller's signal, aborted first when the client is gone already. */
function clientGone(c: AbortController, goneAlready: boolean): AbortSignal {
  if (goneAlready && !c.signal.aborted) c.abort();
  return c.signal;
}

function statusLine(code: number): string {
  return `${code} ${STATUS_CODES[code] ?? 'Unknown'}`;
}

function matchRoute(routes: Route[], method: string, path: string): Route | undefined {
  for (const r of routes) {
    if (r.method !== 'ANY' && r.method !== method) continue;
    if (r.path.endsWith('*') ? path.startsWith(r.path.slice(0, -1)) : r.path === path) return r;
  }
  return undefined;
}

const NOT_FOUND: HttpReply = { status: 404, body: '404 page not found\n' };

const EMPTY = new Uint8Array(0);

async function run(route: Route, req: HttpRequest, body: Uint8Array, log: Logger): Promise<HttpReply> {
  try {
    return await route.handler(req, body);
  } catch (e) {
    log.error('handler failed', { path: req.path, err: e instanceof Error ? e.message : String(e) });
    return { status: 500, body: 'internal error\n' };
  }
}

/**
 * listen starts a server for `routes` on host:port (port 0 picks a free one). uWebSockets.js
 * listens with SO_REUSEPORT, which lets the gateway threads share the remote-write port but also
 * lets a second process bind a port already in use and silently take part of its connections:
 * `exclusive` (for a port one listener owns) makes that fail with "address already in use".
 */
export async function listen(engine: EngineName, host: string, port: number, routes: Route[], log: Logger, exclusive = false): Promise<Listener> {
  return engine === 'uws' ? listenUws(host, port, routes, log, exclusive) : listenNode(host, port, routes, log);
}

/** LIBUS_LISTEN_EXCLUSIVE_PORT: uWebSockets.js listens without SO_REUSEPORT. */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

function listenUws(host: string, port: number, routes: Route[], log: Logger, exclusive: boolean): Promise<Listener> {
  const u = loadUws()!;
  const app = u.App();
  const maxBody = Math.max(...routes.map((r) => r.maxBodyBytes), 0);
  const inFlight = new InFlight();
  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const path = req.getUrl();
    const query = req.getQuery() ?? '';
    const headers = new Map<string, string>();
    req.forEach((k, v) => headers.set(k, v));
    const route = matchRoute(routes, method, path);
    const limit = route ? route.maxBodyBytes : maxBody;
    const budget = route?.budget;
    let aborted = false;
    /** Budget bytes this request holds (returned when it ends, however it ends). */
    let held = 0;
    const endInFlight = inFlight.begin();
    const end = (): void => {
      endInFlight();
      if (held > 0) { budget!.release(held); held = 0; }
    };
    let gone: AbortController | undefined;
    res.onAborted(() => { aborted = true; gone?.abort(); end(); });
    const hreq: HttpRequest = { method, path, query, headers, abortSignal: () => clientGone((gone ??= new AbortController()), aborted) };
    const refused = route?.admit?.(hreq);
    const respond = (r: HttpReply): void => {
      end();
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(r.status));
        if (r.headers) for (const k in r.headers) res.writeHeader(k, r.headers[k]!);
        res.end(r.body ?? '');
      });
    };
    const cl = Number(headers.get('content-length') ?? '0');
    if (cl > limit) {
      respond({ status: 413, body: `request body of ${cl} bytes is over the limit of ${limit} bytes\n` });
      return;
    }
    if (route === undefined || refused !== undefined) {
      // Answered from the headers: the body is read (the answer comes after it, as senders
      // expect) but nothing of it is kept.
      const early = refused ?? NOT_FOUND;
      res.onData((_chunk, isLast) => { if (isLast) respond(early); });
      return;
    }
    const first = cl > 0 ? cl : CHUNKED_FIRST_BYTES;
    if (budget !== undefined) {
      if (!budget.tryTake(first)) { respond(budget.refusal(first, 0)); return; }
      held = first;
    }
    // Hot path: one buffer sized from Content-Length; grows only for chunked bodies.
    let buf = new Uint8Array(first);
    let len = 0;
    /** Set once the body went over the route's limit: the rest is dropped, 413 at its end. */
    let tooLarge = false;
    /** Set once the budget refused to let a chunked body grow: answered already. */
    let dropped = false;
    res.onData((chunk, isLast) => {
      if (!tooLarge && !dropped) {
        const c = new Uint8Array(chunk);
        if (len + c.length > limit) {
          tooLarge = true;
          buf = EMPTY;
        } else {
          if (len + c.length > buf.length) {
            const size = Math.max(buf.length * 2, len + c.length);
            if (budget !== undefined && !budget.tryTake(size - held)) {
              dropped = true;
              buf = EMPTY;
              respond(budget.refusal(size - held, held));
              return;
            }
            if (budget !== undefined) held = size;
            const next = new Uint8Array(size);
            next.set(buf.subarray(0, len));
            buf = next;
          }
          buf.set(c, len);
          len += c.length;
        }
      }
      if (!isLast || dropped) return;
      if (tooLarge) { respond({ status: 413, body: `request body is over the limit of ${limit} bytes\n` }); return; }
      void run(route, hreq, buf.subarray(0, len), log).then(respond);
    });
  });
  return new Promise((resolve, reject) => {
    // The package's typings lack the (host, port, options, cb) form the native module has.
    type ListenWith = (host: string, port: number, options: number, cb: (token: import('uWebSockets.js').us_listen_socket | false) => void) => void;
    (app.listen as unknown as ListenWith).call(app, host, port, exclusive ? LIBUS_LISTEN_EXCLUSIVE_PORT : 0, (token) => {
      if (!token) { reject(new Error(`listen tcp ${host}:${port}: cannot bind (address already in use, or not permitted)`)); return; }
      // Closing a listen socket twice frees it twice (a crash in the native code): once only.
      let open = true;
      const closeListen = (): void => { if (open) { open = false; u.us_listen_socket_close(token); } };
      let appOpen = true;
      const closeAll = (): void => {
        closeListen();
        // The native App has close() (all sockets), missing from the package's typings.
        if (appOpen) { appOpen = false; (app as unknown as { close(): void }).close(); }
      };
      resolve({
        engine: 'uws',
        port: u.us_socket_local_port(token),
        close: closeWithCutOff(routes, inFlight, closeListen, closeAll),
        closeAll,
        drained: () => inFlight.drained(),
      });
    });
  });
}

function listenNode(host: string, port: number, routes: Route[], log: Logger): Promise<Listener> {
  const inFlight = new InFlight();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    const headers = new Map<string, string>();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const method = (req.method ?? 'GET').toUpperCase();
    const route = matchRoute(routes, method, path);
    const limit = route ? route.maxBodyBytes : 0;
    const budget = route?.budget;
    let answered = false;
    let gone: AbortController | undefined;
    const hreq: HttpRequest = { method, path, query, headers, abortSignal: () => clientGone((gone ??= new AbortController()), res.closed && !answered) };
    /** Budget bytes this request holds (returned when it ends, however it ends). */
    let held = 0;
    const endInFlight = inFlight.begin();
    const end = (): void => {
      endInFlight();
      if (held > 0) { budget!.release(held); held = 0; }
    };
    const send = (r: HttpReply): void => {
      if (answered) return;
      answered = true;
      end();
      res.writeHead(r.status, r.headers);
      res.end(r.body ?? '');
    };
    res.once('close', () => {
      if (!answered) gone?.abort();
      end();
    });
    const early = route === undefined ? NOT_FOUND : route.admit?.(hreq);
    const chunks: Buffer[] = [];
    let len = 0;
    /** 413 (over the route's limit, answered at the end) or dropped by the budget (answered now). */
    let tooLarge = false;
    let dropped = false;
    const cl = Number(headers.get('content-length') ?? '0');
    if (cl > limit) tooLarge = true;
    else if (early === undefined && budget !== undefined) {
      const first = cl > 0 ? cl : CHUNKED_FIRST_BYTES;
      if (budget.tryTake(first)) held = first;
      else { dropped = true; send(budget.refusal(first, 0)); }
    }
    req.on('data', (c: Buffer) => {
      if (tooLarge || dropped || early !== undefined) return;
      len += c.length;
      if (len > limit) { tooLarge = true; chunks.length = 0; return; }
      if (budget !== undefined && len > held) {
        const size = Math.max(held * 2, len);
        if (!budget.tryTake(size - held)) {
          dropped = true;
          chunks.length = 0;
          send(budget.refusal(size - held, held));
          return;
        }
        held = size;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (early !== undefined) { send(early); return; }
      if (dropped) return;
      if (tooLarge) { send({ status: 413, body: `request body is over the limit of ${limit} bytes\n` }); return; }
      void run(route!, hreq, new Uint8Array(Buffer.concat(chunks)), log).then(send);
    });
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({
        engine: 'node',
        port: typeof addr === 'object' && addr ? addr.port : port,
        close: closeWithCutOff(routes, inFlight, () => { server.close(); server.closeIdleConnections(); }, () => { server.close(); server.closeAllConnections(); }),
        closeAll: () => { server.close(); server.closeAllConnections(); },
        drained: () => inFlight.drained(),
      });
    });
  });
}
