/**
 * delayProxy.ts: a TCP proxy on loopback that holds every byte a client sends for a fixed time
 * before passing it on to the upstream server, and passes the server's answers back at once. Put
 * in front of a receiver's remote-write port, it makes that receiver a *slow replica*: a forwarded
 * write reaches it `delayMs` after it was sent (the replication benchmark uses 5 s, the default
 * `--receive-forward-timeout`).
 *
 * Bytes keep their order: each chunk is due at max(arrival + delay, previous chunk's due time),
 * so changing the delay while connections are open never reorders a stream. When the client
 * closes or aborts (a sender whose forward timeout expired does), the bytes it already sent are
 * still delivered when due, and the upstream connection is kept open a while (`lingerMs`) so the
 * server can read and store the request, as it would if the network itself were slow; its answer
 * is then dropped. The delay can be changed at run time (`setDelay`).
 *
 * Run as a script it is a process of its own (so its timers and copies do not share an event
 * loop with a load generator that measures latency), controlled over HTTP:
 *
 *   node dist/loadtest/lib/delayProxy.js --listen 127.0.0.1:P --upstream 127.0.0.1:U \
 *     --control 127.0.0.1:C [--delay-ms 0]
 *   GET /-/ready → 200;  POST /delay?ms=N → 200 (new hold time);  GET /stats → DelayProxyStats JSON
 *
 * Touches: the listening sockets it is given (proxy and control), the connections it accepts and
 * the ones it opens to the upstream; nothing else. Used by loadtest/replication.ts.
 */
import { realpathSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** DelayProxyOptions configure startDelayProxy. */
export interface DelayProxyOptions {
  /** Where to listen (port 0: a free one). */
  host: string;
  port: number;
  /** The server the bytes are passed on to. */
  upstreamHost: string;
  upstreamPort: number;
  /** Initial hold time of client → server bytes, in ms. */
  delayMs: number;
  /** How long an upstream connection stays open after its client went away and its last byte was delivered (ms). */
  lingerMs?: number;
}

/** DelayProxyStats count what the proxy did since it started. */
export interface DelayProxyStats {
  /** Client connections accepted. */
  connections: number;
  /** Bytes passed on to the upstream after their hold time. */
  bytesForwarded: number;
  /** Client connections that closed or aborted while bytes of theirs were still held. */
  clientsGoneWhileHeld: number;
  /** Bytes held right now. */
  bytesHeld: number;
}

/** DelayProxy is a running proxy. */
export interface DelayProxy {
  /** port is where the proxy listens. */
  readonly port: number;
  /** setDelay changes the hold time of bytes that arrive from now on. */
  setDelay(ms: number): void;
  stats(): DelayProxyStats;
  /** close stops listening and destroys every connection at once. */
  close(): Promise<void>;
}

/** Held is one chunk waiting for its due time. */
interface Held { due: number; data: Buffer }

/** startDelayProxy listens and returns once the port is bound. */
export function startDelayProxy(opts: DelayProxyOptions): Promise<DelayProxy> {
  let delayMs = opts.delayMs;
  const lingerMs = opts.lingerMs ?? 30_000;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const st: DelayProxyStats = { connections: 0, bytesForwarded: 0, clientsGoneWhileHeld: 0, bytesHeld: 0 };

  const onConnection = (client: net.Socket): void => {
    st.connections++;
    client.setNoDelay(true);
    const upstream = net.connect({ host: opts.upstreamHost, port: opts.upstreamPort });
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const queue: Held[] = [];
    let head = 0;
    let lastDue = 0;
    let timer: NodeJS.Timeout | undefined;
    let clientGone = false;

    const finishUpstream = (): void => {
      // The client is gone and nothing is held: give the server time to read and answer, then close.
      const t = setTimeout(() => { timers.delete(t); upstream.destroy(); }, lingerMs);
      timers.add(t);
    };
    const flush = (): void => {
      timer = undefined;
      const now = performance.now();
      while (head < queue.length && (queue[head] as Held).due <= now) {
        const h = queue[head++] as Held;
        st.bytesHeld -= h.data.length;
        st.bytesForwarded += h.data.length;
        if (!upstream.destroyed) upstream.write(h.data);
      }
      if (head === queue.length) {
        queue.length = 0;
        head = 0;
        if (clientGone) finishUpstream();
        return;
      }
      arm();
    };
    const arm = (): void => {
      if (timer !== undefined) return;
      const wait = Math.max(0, (queue[head] as Held).due - performance.now());
      timer = setTimeout(() => { timers.delete(timer as NodeJS.Timeout); flush(); }, wait);
      timers.add(timer);
    };

    client.on('data', (data: Buffer) => {
      const due = Math.max(performance.now() + delayMs, lastDue);
      lastDue = due;
      queue.push({ due, data });
      st.bytesHeld += data.length;
      arm();
    });
    const onClientGone = (): void => {
      if (clientGone) return;
      clientGone = true;
      sockets.delete(client);
      if (head < queue.length) st.clientsGoneWhileHeld++;
      else finishUpstream();
    };
    client.on('end', onClientGone);
    client.on('close', onClientGone);
    client.on('error', onClientGone);
    // Answers go back at once; after the client left they are read and dropped.
    upstream.on('data', (data: Buffer) => { if (!clientGone && !client.destroyed) client.write(data); });
    const onUpstreamGone = (): void => {
      sockets.delete(upstream);
      if (timer !== undefined) { clearTimeout(timer); timers.delete(timer); timer = undefined; }
      st.bytesHeld -= queue.slice(head).reduce((a, h) => a + h.data.length, 0);
      queue.length = 0;
      head = 0;
      client.destroy();
    };
    upstream.on('close', onUpstreamGone);
    upstream.on('error', () => { /* 'close' follows */ });
  };

  const server = net.createServer(onConnection);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      resolve({
        port,
        setDelay(ms: number): void { delayMs = ms; },
        stats: () => ({ ...st }),
        close(): Promise<void> {
          for (const t of timers) clearTimeout(t);
          timers.clear();
          for (const s of sockets) s.destroy();
          sockets.clear();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// CLI: the proxy as its own process, with an HTTP control port

/** hostPort splits "host:port". */
function hostPort(s: string, flag: string): [string, number] {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag}: want host:port, got ${JSON.stringify(s)}`);
  return [s.slice(0, i), port];
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { listen: { type: 'string' }, upstream: { type: 'string' }, control: { type: 'string' }, 'delay-ms': { type: 'string', default: '0' } },
    strict: true,
  });
  if (!values.listen || !values.upstream || !values.control) throw new Error('usage: delayProxy.js --listen H:P --upstream H:P --control H:P [--delay-ms N]');
  const [host, port] = hostPort(values.listen, '--listen');
  const [upstreamHost, upstreamPort] = hostPort(values.upstream, '--upstream');
  const [ctlHost, ctlPort] = hostPort(values.control, '--control');
  const proxy = await startDelayProxy({ host, port, upstreamHost, upstreamPort, delayMs: Number(values['delay-ms']) });
  const ctl = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const answer = (code: number, body: string): void => { res.writeHead(code, { 'content-type': 'text/plain' }); res.end(body); };
    req.resume();
    if (u.pathname === '/-/ready') return answer(200, 'ready\n');
    if (u.pathname === '/stats') return answer(200, JSON.stringify(proxy.stats()));
    if (u.pathname === '/delay' && req.method === 'POST') {
      const ms = Number(u.searchParams.get('ms'));
      if (!(ms >= 0)) return answer(400, 'ms must be a number >= 0\n');
      proxy.setDelay(ms);
      console.log(`delay ${ms} ms`);
      return answer(200, `delay ${ms} ms\n`);
    }
    return answer(404, 'not found\n');
  });
  ctl.listen(ctlPort, ctlHost);
  console.log(`delay proxy ${host}:${proxy.port} -> ${upstreamHost}:${upstreamPort}, control ${ctlHost}:${ctlPort}`);
  const stop = (): void => { ctl.close(); void proxy.close().then(() => process.exit(0)); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

const isMain = ((): boolean => {
  try { return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url)); } catch { return false; }
})();
if (isMain) {
  main(process.argv.slice(2)).catch((e: unknown) => { console.error(e instanceof Error ? e.message : String(e)); process.exitCode = 2; });
}
