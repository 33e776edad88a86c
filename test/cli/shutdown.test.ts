/**
 * Graceful shutdown of a real process under load: SIGTERM turns the receiver not ready, it stops
 * accepting, finishes the requests in flight, flushes and closes the WAL and exits 0 well within
 * --http-grace-period. Every acknowledged sample is there when a new receiver replays the WAL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { request as httpRequest } from 'node:http';
import { encodeBody, series, RW_HEADERS, freePort, waitReady, startNode } from '../helpers/node.js';
import { readHeads } from '../helpers/heads.js';

const bin = fileURLToPath(new URL('../../../bin/sluice.js', import.meta.url));
const T0 = 1_700_000_000_000;
const WRITERS = 8;
const SERIES_PER_REQUEST = 50;

/**
 * slowUpload sends the headers and half the body now; `finish()` sends the rest and resolves with
 * the status. A request whose body is still uploading at SIGTERM is in flight.
 */
function slowUpload(port: number, body: Uint8Array): { finish(): Promise<number> } {
  let status: Promise<number> = Promise.resolve(0);
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/receive', headers: { ...RW_HEADERS, 'content-length': String(body.length) } });
  status = new Promise((resolve, reject) => {
    req.once('response', (res) => { res.resume(); res.once('end', () => resolve(res.statusCode ?? 0)); });
    req.once('error', reject);
  });
  const half = body.length >> 1;
  req.write(body.subarray(0, half));
  return { finish: () => { req.end(body.subarray(half)); return status; } };
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
