/**
 * Test helper: a real S3-protocol server (s3rver) on loopback, storing objects in a temp dir,
 * with a log of the requests it received. It can be stopped and started again on the same port
 * with the same data, to simulate an object-storage outage, and can answer chosen requests with
 * an error (fault injection). s3rver's own handler is mounted in a node:http server of ours
 * (its documented getMiddleware()). Credentials: S3RVER / S3RVER.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** S3rverInstance is the slice of s3rver's API used here (the package ships no types). */
interface S3rverInstance {
  configureBuckets(): Promise<unknown>;
  /** getMiddleware is s3rver's request handler, for mounting in one's own HTTP server. */
  getMiddleware(): (req: IncomingMessage, res: ServerResponse) => void;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;

/** Fault makes the server answer matching requests with an error instead of serving them. */
export interface Fault {
  method: string;
  /** url is matched against the request URL (path-style, with query). */
  url: RegExp;
  /** status is the HTTP status to answer (e.g. 500 or 503). */
  status: number;
  /** times is how many matching requests fail; the fault is dropped after that. */
  times: number;
}

/** RecordedRequest is one request the server saw (path-style URL, query included). */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** TestS3Server is a running (or stopped) s3rver. */
export interface TestS3Server {
  /** endpoint is `127.0.0.1:<port>`, as a Thanos S3 config wants it. */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** requests lists every request received since start (across restarts). */
  readonly requests: RecordedRequest[];
  /** running tells whether the server listens now. */
  readonly running: boolean;
  /** stop closes the listener and drops open connections; data stays. */
  stop(): Promise<void>;
  /** start listens again on the same port with the same data. */
  start(): Promise<void>;
  /** close stops the server and deletes its data. */
  close(): Promise<void>;
  /** yaml returns a Thanos objstore config for this server (path-style, http). */
  yaml(extra?: Record<string, string | number | boolean>): string;
  /** count counts recorded requests with `method` whose path (without query) is `/bucket/key`. */
  count(method: string, key: string): number;
  /** matching lists recorded requests with `method` whose path (without query) is `/bucket/key`. */
  matching(method: string, key: string): RecordedRequest[];
  /** inject adds a fault (recorded requests include failed ones). */
  inject(fault: Fault): void;
}

/** startS3Server starts s3rver on a free loopback port with one empty bucket. */
export async function startS3Server(bucket = 'sluice-test'): Promise<TestS3Server> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-s3rver-'));
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  let http: Server | null = null;
  let port = 0;

  // One s3rver app (its store is the directory) served by a fresh listener after each restart.
  const s3 = new S3rver({ silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
  await s3.configureBuckets();
  const serve = s3.getMiddleware();
  const listen = async (): Promise<void> => {
    const srv = createServer((req, res) => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      const i = faults.findIndex((f) => f.method === req.method && f.url.test(req.url ?? ''));
      if (i < 0) { serve(req, res); return; }
      const f = faults[i]!;
      if (--f.times <= 0) faults.splice(i, 1);
      req.resume();
      req.on('end', () => {
        res.writeHead(f.status, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>injected fault</Message></Error>');
      });
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => { srv.off('error', reject); resolve(); });
    });
    port = (srv.address() as { port: number }).port;
    http = srv;
  };
  await listen();

  const server: TestS3Server = {
    get endpoint() { return `127.0.0.1:${port}`; },
    get port() { return port; },
    bucket,
    requests,
    get running() { return http !== null; },
    async stop() {
      const srv = http;
      if (srv === null) return;
      http = null;
      const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
      srv.closeAllConnections();
      await closed;
    },
    async start() {
      if (http !== null) return;
      await listen();
    },
    inject(fault) {
      faults.push({ ...fault });
    },
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    yaml(extra = {}) {
      const lines = [
        'type: S3', 'config:', `  bucket: ${bucket}`, `  endpoint: ${server.endpoint}`, '  insecure: true',
        '  access_key: S3RVER', '  secret_key: S3RVER', '  region: us-east-1',
      ];
      for (const [k, v] of Object.entries(extra)) lines.push(`  ${k}: ${String(v)}`);
      return `${lines.join('\n')}\n`;
    },
    count(method, key) {
      return server.matching(method, key).length;
    },
    matching(method, key) {
      const path = `/${bucket}/${key}`;
      return requests.filter((r) => r.method === method && r.url.split('?')[0] === path);
    },
  };
  return server;
}
