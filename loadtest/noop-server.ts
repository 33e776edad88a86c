/**
 * A remote-write server that does nothing: it reads each request body to the end and answers
 * 200. It measures the load generator's own ceiling (no decompression, no decoding, no storage).
 *
 *   node dist/loadtest/noop-server.js [--host 127.0.0.1] [--port 19299]
 *
 * Also answers GET /-/ready, /-/healthy and /health with 200, so compare.ts can wait for it.
 */
import { parseArgs } from 'node:util';
import uWS from 'uWebSockets.js';
import { isMainModule } from './generator.js';

/** NoopServer is a running no-op server. */
export interface NoopServer {
  port: number;
  stats(): { requests: number; bytes: number };
  close(): void;
}

/** startNoopServer listens on host:port (port 0 picks a free one). */
export function startNoopServer(host: string, port: number): Promise<NoopServer> {
  let requests = 0;
  let bytes = 0;
  const app = uWS.App();
  app.post('/*', (res) => {
    let aborted = false;
    let n = 0;
    res.onAborted(() => { aborted = true; });
    res.onData((chunk, isLast) => {
      n += chunk.byteLength;
      if (!isLast || aborted) return;
      requests++;
      bytes += n;
      res.cork(() => { res.writeStatus('200 OK').end(); });
    });
  });
  const ok = (res: uWS.HttpResponse): void => { res.writeStatus('200 OK').end('OK'); };
  app.get('/-/ready', ok);
  app.get('/-/healthy', ok);
  app.get('/health', ok);
  app.any('/*', (res) => { res.writeStatus('404 Not Found').end(); });
  return new Promise((resolve, reject) => {
    app.listen(host, port, (sock) => {
      if (!sock) { reject(new Error(`noop server: cannot listen on ${host}:${port}`)); return; }
      resolve({
        port: uWS.us_socket_local_port(sock),
        stats: () => ({ requests, bytes }),
        close: () => { uWS.us_listen_socket_close(sock); },
      });
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '19299' } },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: bad port ${values.port}`);
  const srv = await startNoopServer(values.host, port);
  console.log(`noop remote-write server listening on http://${values.host}:${srv.port} (POST any path)`);
  const stop = (): void => {
    const s = srv.stats();
    console.log(`noop server: ${s.requests} requests, ${(s.bytes / 1e6).toFixed(1)} MB received`);
    srv.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  });
}
