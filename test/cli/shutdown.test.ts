/**
 * Graceful shutdown of a real process under load: SIGTERM turns the receiver not ready, it stops
 * accepting, finishes the requests in flight, flushes and closes the WAL and exits 0 well within
 * --http-grace-period. Every acknowledged sample is there when a new receiver replays the WAL.
 * With a short grace period, an upload stuck on an object store that never answers and a request
 * whose body never ends do not hold the exit past the grace period, and the stuck block is
 * uploaded after the restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { request as httpRequest } from 'node:http';
import { encodeBody, series, RW_HEADERS, freePort, waitReady, startNode } from '../helpers/node.js';
import { readHeads, labelKey } from '../helpers/heads.js';
import { sluiceBin } from '../helpers/cluster.js';

const bin = sluiceBin();
const T0 = 1_700_000_000_000;
const WRITERS = 8;
const SERIES_PER_REQUEST = 50;

/**
 * slowUpload sends the headers and half the body now; `finish()` sends the rest and resolves with
 * the status. A request whose body is still uploading at SIGTERM is in flight.
 */
function slowUpload(port: number, body: Uint8Array): { finish(): Promise<number>; abort(): void } {
  let status: Promise<number> = Promise.resolve(0);
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/receive', headers: { ...RW_HEADERS, 'content-length': String(body.length) } });
  status = new Promise((resolve, reject) => {
    req.once('response', (res) => { res.resume(); res.once('end', () => resolve(res.statusCode ?? 0)); });
    req.once('error', reject);
  });
  const half = body.length >> 1;
  req.write(body.subarray(0, half));
  status.catch(() => {});
  return { finish: () => { req.end(body.subarray(half)); return status; }, abort: () => { req.destroy(); } };
}

function exited(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((r) => p.once('exit', (code, signal) => r({ code, signal })));
}

test('SIGTERM under load: in-flight requests finish, exit 0 within the grace period, nothing acknowledged lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-term-'));
  const [rw, http] = [await freePort(), await freePort()];
  const p = spawn(process.execPath, [bin, 'receive', `--tsdb.path=${dir}`, `--remote-write.address=127.0.0.1:${rw}`,
    `--http-address=127.0.0.1:${http}`, '--grpc-address=127.0.0.1:0', '--http-grace-period=20s', '--receive.shards=2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const agent = new Agent({ connections: WRITERS });
  try {
    await waitReady(`http://127.0.0.1:${http}/-/ready`);
    /** acked[w] = highest request number of writer w answered 200 (requests are sent in order). */
    const acked = new Array<number>(WRITERS).fill(-1);
    let killedAt = 0;
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      for (let k = 0; !stop; k++) {
        const body = encodeBody({ timeseries: Array.from({ length: SERIES_PER_REQUEST }, (_, s) => series({ __name__: 'term', w: String(w), s: String(s) }, [[T0 + k * 1000, k]])) });
        try {
          const r = await request(`http://127.0.0.1:${rw}/api/v1/receive`, { method: 'POST', body, headers: RW_HEADERS, dispatcher: agent });
          await r.body.text();
          if (r.statusCode === 200) {
            acked[w] = k;
          } else if (r.statusCode !== 503) throw new Error(`unexpected status ${r.statusCode}`);
          else return; // not ready any more: shutting down
        } catch (e) {
          if (killedAt === 0) throw e;
          return; // the listener closed after SIGTERM
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await new Promise((r) => setTimeout(r, 1500));
    const slowBody = encodeBody({ timeseries: [series({ __name__: 'term_slow' }, [[T0, 42]])] });
    const slow = slowUpload(rw, slowBody);
    await new Promise((r) => setTimeout(r, 100));
    const done = exited(p);
    killedAt = performance.now();
    p.kill('SIGTERM');
    // The rest of the slow body arrives after shutdown began: it is still answered in full.
    await new Promise((r) => setTimeout(r, 300));
    const slowStatus = await slow.finish();
    const e = await done;
    const tookMs = performance.now() - killedAt;
    stop = true;
    await Promise.all(writers);
    assert.equal(e.code, 0, `signal=${e.signal}\n${stderr}`);
    assert.ok(tookMs < 20_000, `exited after ${Math.round(tookMs)} ms, within --http-grace-period=20s`);
    assert.match(stderr, /msg=stopped/);
    assert.ok(acked.every((k) => k >= 0), 'every writer got acknowledgements');
    assert.equal(slowStatus, 200, 'a request uploading its body at SIGTERM is finished, not cut off');

    // A new receiver replays the WAL: every acknowledged sample is there.
    const n = await startNode([`--tsdb.path=${dir}`, '--receive.shards=2']);
    try {
      const got = await readHeads(n.node.pool, 'default-tenant', [{ type: '=', name: '__name__', value: 'term' }]);
      for (let w = 0; w < WRITERS; w++) {
        for (let s = 0; s < SERIES_PER_REQUEST; s++) {
          const samples = new Map(got.get(`{__name__="term",s="${s}",w="${w}"}`) ?? []);
          for (let k = 0; k <= acked[w]!; k++) assert.equal(samples.get(T0 + k * 1000), k, `writer ${w} series ${s} request ${k}`);
        }
      }
      const slowGot = await readHeads(n.node.pool, 'default-tenant', [{ type: '=', name: '__name__', value: 'term_slow' }]);
      assert.deepEqual([...slowGot.values()], [[[T0, 42]]], 'the slow request acknowledged at shutdown was logged');
    } finally {
      await n.stop();
    }
  } finally {
    await agent.close();
    if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** silentServer accepts TCP connections and never answers: an object store that hangs. */
async function silentServer(): Promise<{ port: number; accepted(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let n = 0;
  const srv = createServer((s) => { n++; sockets.add(s); s.on('error', () => {}); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const a = srv.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    accepted: () => n,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

/** rangeSamples reads every sample of `metric` in the 24 h before `atMs` through PromQL: labelKey → [t, v][]. */
async function rangeSamples(httpUrl: string, metric: string, atMs: number): Promise<Map<string, [number, number][]>> {
  const r = await fetch(`${httpUrl}/api/v1/query?query=${encodeURIComponent(`${metric}[1d]`)}&time=${atMs / 1000}`);
  const body = await r.json() as { status: string; data: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
  assert.equal(body.status, 'success', JSON.stringify(body));
  const out = new Map<string, [number, number][]>();
  for (const s of body.data.result) {
    const ls = Object.entries(s.metric).filter(([n]) => n !== 'tenant_id').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    out.set(labelKey(ls), s.values.map(([t, v]) => [Math.round(t * 1000), Number(v)]));
  }
  return out;
}

test('SIGTERM with a short grace period: a stuck block upload and an unfinished request do not delay the exit; nothing acknowledged is lost', async (t) => {
  const GRACE_MS = 2000;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-grace-'));
  const s3 = await silentServer();
  const [rw, http] = [await freePort(), await freePort()];
  const objstore = `type: S3\nconfig:\n  bucket: blocks\n  endpoint: 127.0.0.1:${s3.port}\n  insecure: true\n  access_key: a\n  secret_key: b\n`;
  const p = spawn(process.execPath, [bin, 'receive', `--tsdb.path=${dir}`, `--remote-write.address=127.0.0.1:${rw}`,
    `--http-address=127.0.0.1:${http}`, '--grpc-address=127.0.0.1:0', `--http-grace-period=${GRACE_MS / 1000}s`, '--receive.shards=2',
    '--receive.gateways=1', '--query.workers=0', `--objstore.config=${objstore}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const T0 = Date.now() - 600_000;
  /** Acknowledged samples: labelKey → t → v. */
  const acked = new Map<string, Map<number, number>>();
  const send = async (name: string, k: number): Promise<void> => {
    const ts = Array.from({ length: 20 }, (_, s) => series({ __name__: name, s: String(s) }, [[T0 + k * 1000, k + s]]));
    const r = await request(`http://127.0.0.1:${rw}/api/v1/receive`, { method: 'POST', body: encodeBody({ timeseries: ts }), headers: RW_HEADERS });
    const text = await r.body.text();
    assert.equal(r.statusCode, 200, text);
    for (let s = 0; s < 20; s++) {
      const key = labelKey([['__name__', name], ['s', String(s)]]);
      let m = acked.get(key);
      if (m === undefined) acked.set(key, m = new Map());
      m.set(T0 + k * 1000, k + s);
    }
  };
  let restarted: Awaited<ReturnType<typeof startNode>> | undefined;
  let stalled: ReturnType<typeof slowUpload> | undefined;
  try {
    await waitReady(`http://127.0.0.1:${http}/-/ready`, p);
    for (let k = 0; k < 10; k++) await send('grace_blocked', k);
    // Cut the head into a block; its upload hangs on the silent object store.
    const flush = fetch(`http://127.0.0.1:${http}/api/v1/admin/tsdb/flush`, { method: 'POST' }).then((r) => r.status, () => 0);
    const until = Date.now() + 10_000;
    while (!/head cut into blocks/.test(stderr) || s3.accepted() === 0) {
      assert.ok(Date.now() < until, `no block cut and upload attempt within 10 s\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ulid = /ulids=([0-9A-Z,]+)/.exec(stderr)?.[1]?.split(',')[0];
    assert.ok(ulid !== undefined, stderr);
    // Samples after the cut stay in the head and the WAL.
    for (let k = 10; k < 20; k++) await send('grace_head', k);
    // One request uploads half its body before SIGTERM and the rest after: it is answered.
    const slow = slowUpload(rw, encodeBody({ timeseries: [series({ __name__: 'grace_slow' }, [[T0 + 30_000, 7]])] }));
    // Another never finishes its body: it is cut off at the deadline.
    stalled = slowUpload(rw, encodeBody({ timeseries: [series({ __name__: 'grace_stalled' }, [[T0 + 30_000, 8]])] }));
    await new Promise((r) => setTimeout(r, 100));
    const done = exited(p);
    const termAt = performance.now();
    p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const slowStatus = await slow.finish();
    const e = await done;
    const tookMs = performance.now() - termAt;
    t.diagnostic(`exited ${Math.round(tookMs)} ms after SIGTERM (grace period ${GRACE_MS} ms)`);
    assert.equal(e.code, 0, `signal=${e.signal}\n${stderr}`);
    assert.ok(tookMs < GRACE_MS + 1000, `exited ${Math.round(tookMs)} ms after SIGTERM; grace period ${GRACE_MS} ms`);
    assert.equal(slowStatus, 200, 'the request uploading at SIGTERM was answered');
    assert.match(stderr, /block cut or upload still running at the shutdown deadline; abandoned/);
    assert.match(stderr, /msg=stopped/);
    assert.equal(await flush, 0, 'the stuck flush was cut off with the admin server');
    acked.set(labelKey([['__name__', 'grace_slow']]), new Map([[T0 + 30_000, 7]]));

    // Restart on the same data with the default FILESYSTEM bucket: the stuck block is uploaded
    // (the shipper state never recorded it) and every acknowledged sample is readable.
    restarted = await startNode([`--tsdb.path=${dir}`, '--receive.shards=2', '--query.workers=0']);
    const metaInBucket = join(dir, 'bucket', ulid, 'meta.json');
    const upUntil = Date.now() + 10_000;
    while (!existsSync(metaInBucket)) {
      assert.ok(Date.now() < upUntil, `block ${ulid} not uploaded within 10 s of the restart`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const name of ['grace_blocked', 'grace_head', 'grace_slow']) {
      const got = await rangeSamples(restarted.httpUrl, name, Date.now());
      for (const [key, want] of acked) {
        if (!key.includes(`"${name}"`)) continue;
        assert.deepEqual(new Map(got.get(key) ?? []), want, key);
      }
    }
  } finally {
    stalled?.abort();
    await restarted?.stop();
    if (p.exitCode === null) p.kill('SIGKILL');
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
