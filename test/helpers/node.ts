/**
 * Test helpers: start a real receiver in-process on loopback (ports picked by the OS), and send
 * remote-write requests encoded by protobufjs and compressed by snappy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import snappy from 'snappy';
import { ReceiveNode, type NodeTuning } from '../../src/receive/node.js';
import { parseReceiveFlags, toConfig } from '../../src/receive/flags.js';
import { encodeWriteRequest, type TimeSeriesMsg, type WriteRequestMsg } from '../../src/proto/schema.js';
import { Logger } from '../../src/util/log.js';

/** TestNode is a running receiver with its base URLs. */
export interface TestNode {
  node: ReceiveNode;
  writeUrl: string;
  httpUrl: string;
  dir: string;
  stop(): Promise<void>;
}

/** startNode starts a receiver with extra flags; the caller must stop() it. */
export async function startNode(flags: string[] = [], tuning: NodeTuning = {}): Promise<TestNode> {
  // A --tsdb.path among the flags is used (and kept); otherwise a fresh temp dir (removed on stop).
  const given = flags.find((f) => f.startsWith('--tsdb.path='));
  const dir = given !== undefined ? given.slice('--tsdb.path='.length) : mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const cfg = toConfig(parseReceiveFlags([
    ...(given === undefined ? [`--tsdb.path=${dir}`] : []),
    '--remote-write.address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0',
    ...flags,
  ]));
  const node = new ReceiveNode(cfg, new Logger('error'), tuning);
  try {
    await node.start();
  } catch (e) {
    if (given === undefined) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    node, dir,
    writeUrl: `http://127.0.0.1:${node.remoteWritePort}`,
    httpUrl: `http://127.0.0.1:${node.http!.port}`,
    async stop() {
      await node.stop();
      if (given === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** encodeBody encodes and snappy-compresses a WriteRequest. */
export function encodeBody(req: WriteRequestMsg): Uint8Array {
  return snappy.compressSync(Buffer.from(encodeWriteRequest(req)));
}

/** RW_HEADERS are the headers Prometheus sends with remote-write 1.0. */
export const RW_HEADERS = {
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
};

/** post sends a body to /api/v1/receive and returns status and text. */
export async function post(base: string, body: Uint8Array | string, headers: Record<string, string> = RW_HEADERS): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(`${base}/api/v1/receive`, { method: 'POST', body, headers });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

/** write sends series as one remote-write request. */
export function write(base: string, timeseries: TimeSeriesMsg[], tenant?: string): Promise<{ status: number; text: string; headers: Headers }> {
  const headers: Record<string, string> = { ...RW_HEADERS };
  if (tenant !== undefined) headers['thanos-tenant'] = tenant;
  return post(base, encodeBody({ timeseries }), headers);
}

/** getJson fetches a read-API URL and returns status and parsed JSON. */
export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: { status: string; data?: unknown; errorType?: string; error?: string } }> {
  const r = await fetch(url, { headers });
  return { status: r.status, body: await r.json() as { status: string; data?: unknown } };
}

/** series builds a TimeSeriesMsg from a label object (sorted here) and [t, v] samples. */
export function series(labels: Record<string, string>, samples: [number, number][]): TimeSeriesMsg {
  return {
    labels: Object.keys(labels).sort().map((name) => ({ name, value: labels[name]! })),
    samples: samples.map(([timestamp, value]) => ({ timestamp, value })),
  };
}

/** Ports freePort handed out in this process: never handed out twice. */
const givenPorts = new Set<number>();

/**
 * freePort asks the kernel for a free loopback TCP port, never one it returned before in this
 * process: the kernel may offer a just-released port again, and uWebSockets.js listens with
 * SO_REUSEPORT, so two nodes given the same port would both bind it and share its connections
 * (a write sent to one node's remote-write port answered 404 by another's HTTP API).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    if (port !== 0 && !givenPorts.has(port)) {
      givenPorts.add(port);
      return port;
    }
  }
}

/**
 * waitReady polls `url` until it answers 200; fails early if `child` exits, with the end of what
 * the child wrote to stderr (when it is piped) since this call, so that the failure says why.
 */
export async function waitReady(url: string, child?: ChildProcess, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  let stderr = '';
  const keep = (c: Buffer): void => { stderr = (stderr + c.toString()).slice(-4000); };
  child?.stderr?.on('data', keep);
  try {
    while (Date.now() < until) {
      if (child && child.exitCode !== null) {
        await new Promise((r) => setTimeout(r, 50)); // the last of stderr may still be in the pipe
        throw new Error(`receiver exited with ${child.exitCode}${stderr === '' ? '' : `; stderr:\n${stderr}`}`);
      }
      try { if ((await fetch(url)).status === 200) return; } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${url} not ready within ${ms} ms${stderr === '' ? '' : `; stderr:\n${stderr}`}`);
  } finally {
    child?.stderr?.off('data', keep);
  }
}
