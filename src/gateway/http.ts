/**
 * A minimal HTTP layer with two engines: uWebSockets.js (the default, fastest) and node:http
 * (used when the native module cannot load on this platform, or with SLUICE_HTTP_ENGINE=node).
 * Handlers see a plain request (method, path, query, headers) and the whole body, and return a
 * reply; engine details stay in this file.
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
}

/** Listener is a started server. */
export interface Listener {
  engine: 'uws' | 'node';
  port: number;
  /** close stops accepting connections; open ones finish their requests. */
  close(): void;
  /** closeAll closes every connection too (after in-flight requests are answered). */
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

async function run(route: Route | undefined, req: HttpRequest, body: Uint8Array, log: Logger, refused: HttpReply | undefined): Promise<HttpReply> {
  if (!route) return NOT_FOUND;
  if (refused) return refused;
  try {
    return await route.handler(req, body);
  } catch (e) {
    log.error('handler failed', { path: req.path, err: e instanceof Error ? e.message : String(e) });
    return { status: 500, body: 'internal error\n' };
  }
}

/** listen starts a server for `routes` on host:port (port 0 picks a free one). */
export async function listen(engine: EngineName, host: string, port: number, routes: Route[], log: Logger): Promise<Listener> {
  return engine === 'uws' ? listenUws(host, port, routes, log) : listenNode(host, port, routes, log);
}

function listenUws(host: string, port: number, routes: Route[], log: Logger): Promise<Listener> {
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
    let aborted = false;
    const end = inFlight.begin();
    res.onAborted(() => { aborted = true; end(); });
    const hreq: HttpRequest = { method, path, query, headers };
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
    // Hot path: one buffer sized from Content-Length; grows only for chunked bodies.
    let buf = new Uint8Array(cl > 0 ? cl : 16 * 1024);
    let len = 0;
    let tooLarge = false;
    res.onData((chunk, isLast) => {
      if (!tooLarge) {
        const c = new Uint8Array(chunk);
        if (len + c.length > limit) tooLarge = true;
        else {
          if (len + c.length > buf.length) {
            const next = new Uint8Array(Math.max(buf.length * 2, len + c.length));
            next.set(buf.subarray(0, len));
            buf = next;
          }
          buf.set(c, len);
          len += c.length;
        }
      }
      if (!isLast) return;
      if (tooLarge) { respond({ status: 413, body: `request body is over the limit of ${limit} bytes\n` }); return; }
      void run(route, hreq, buf.subarray(0, len), log, refused).then(respond);
    });
  });
  return new Promise((resolve, reject) => {
    app.listen(host, port, (token) => {
      if (!token) { reject(new Error(`cannot listen on ${host}:${port}`)); return; }
      // Closing a listen socket twice frees it twice (a crash in the native code): once only.
      let open = true;
      const closeListen = (): void => { if (open) { open = false; u.us_listen_socket_close(token); } };
      resolve({
        engine: 'uws',
        port: u.us_socket_local_port(token),
        close: closeListen,
        // The native App has close() (all sockets), missing from the package's typings.
        closeAll: () => { closeListen(); (app as unknown as { close(): void }).close(); },
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
    const hreq: HttpRequest = { method, path, query, headers };
    const end = inFlight.begin();
    res.once('close', end);
    const refused = route?.admit?.(hreq);
    const chunks: Buffer[] = [];
    let len = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      len += c.length;
      if (len > limit) tooLarge = true; else chunks.push(c);
    });
    req.on('end', () => {
      const send = (r: HttpReply): void => {
        end();
        res.writeHead(r.status, r.headers);
        res.end(r.body ?? '');
      };
      if (tooLarge) { send({ status: 413, body: `request body is over the limit of ${limit} bytes\n` }); return; }
      void run(route, hreq, new Uint8Array(Buffer.concat(chunks)), log, refused).then(send);
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
        close: () => { server.close(); server.closeIdleConnections(); },
        closeAll: () => { server.close(); server.closeAllConnections(); },
        drained: () => inFlight.drained(),
      });
    });
  });
}
