/**
 * Backpressure when a shard cannot keep up, on a real process: the shard's write ring is small
 * (--receive.ring-bytes=65536) and the shard is kept busy by heavy index queries (a `/api/v1/series`
 * over every series makes the shard thread read every label set, while it drains no ring), as a
 * shard falls behind in production, while bursts of concurrent writes arrive. Writes the ring has
 * no room for get 503 with Retry-After and a message naming the overloaded shard instead of a
 * growing queue; the receiver keeps answering throughout, and once the queries and bursts stop
 * every request of the steady writers (whose batches all fit in the ring at once) succeeds again.
 * Nothing acknowledged is lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { encodeBody, series, RW_HEADERS, freePort, waitReady } from '../helpers/node.js';
import { sluiceBin } from '../helpers/cluster.js';

const T0 = 1_700_000_000_000;
/** Series the heavy queries read (loaded first). */
const BULK_SERIES = 100_000;
/** Steady writers, each sending its requests one after the other: 8 × ~3 KiB fit in the ring. */
const WRITERS = 8;
const SERIES_PER_REQUEST = 40;
/** Concurrent requests of each burst: far more than the ring holds while the shard is busy. */
const BURST = 48;

function exited(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((r) => p.once('exit', (code) => r(code)));
}

test('a shard that cannot keep up: 503 with Retry-After and a clear message, the receiver keeps serving, writes succeed afterwards', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-overload-'));
  const [rw, http] = [await freePort(), await freePort()];
  const p = spawn(process.execPath, [sluiceBin(), 'receive', `--tsdb.path=${dir}`, `--remote-write.address=127.0.0.1:${rw}`,
    `--http-address=127.0.0.1:${http}`, '--grpc-address=127.0.0.1:0', '--receive.shards=1', '--receive.gateways=1',
    '--query.workers=0', '--tsdb.wal.fsync=off', '--receive.ring-bytes=65536', '--http-grace-period=5s'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const agent = new Agent({ connections: WRITERS + 4 });
  const writeUrl = `http://127.0.0.1:${rw}/api/v1/receive`;
  const httpUrl = `http://127.0.0.1:${http}`;
  try {
    await waitReady(`${httpUrl}/-/ready`, p);
    // In requests whose batch fits the small ring (a bigger one could never be taken).
    for (let b = 0; b < BULK_SERIES; b += 500) {
      const body = encodeBody({ timeseries: Array.from({ length: 500 }, (_, i) => series({ __name__: 'bulk', i: String(b + i) }, [[T0, i]])) });
      const r = await request(writeUrl, { method: 'POST', body, headers: RW_HEADERS, dispatcher: agent });
      assert.equal(r.statusCode, 200, await r.body.text());
    }

    /** acked[w] = requests of writer w answered 200 (each writer sends its requests in order). */
    const acked = new Array<number>(WRITERS).fill(0);
    const refusals: { text: string; retryAfter: string | undefined }[] = [];
    const other: string[] = [];
    /** Statuses of the burst requests. */
    const burstStatus: number[] = [];
    let phase: 'overload' | 'after' | 'done' = 'overload';
    /** 200s seen since the phase turned 'after'. */
    let okAfter = 0;
    const writer = async (w: number): Promise<void> => {
      for (let k = 0; phase !== 'done'; k++) {
        const seq = acked[w]!;
        const body = encodeBody({ timeseries: Array.from({ length: SERIES_PER_REQUEST }, (_, s) => series({ __name__: 'ovl', w: String(w), s: String(s) }, [[T0 + seq * 1000, seq]])) });
        const r = await request(writeUrl, { method: 'POST', body, headers: RW_HEADERS, dispatcher: agent });
        const text = await r.body.text();
        if (r.statusCode === 200) {
          acked[w] = seq + 1;
          if (phase === 'after') okAfter++;
        } else if (r.statusCode === 503) {
          refusals.push({ text, retryAfter: r.headers['retry-after'] as string | undefined });
          if (phase === 'after') other.push(`503 after the overload: ${text}`);
          await new Promise((res) => setTimeout(res, 5));
        } else other.push(`${r.statusCode} ${text}`);
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));

    // Heavy index queries keep the shard busy until writers are refused.
    const until = Date.now() + 20_000;
    let queries = 0;
    let probes = 0;
    const burstBody = (b: number, i: number): Uint8Array => encodeBody({
      timeseries: Array.from({ length: 100 }, (_, s) => series({ __name__: 'burst', b: String(b), i: String(i), s: String(s) }, [[T0, s]])),
    });
    while (refusals.length === 0 && Date.now() < until) {
      const q = request(`${httpUrl}/api/v1/series?match[]=${encodeURIComponent('{__name__="bulk"}')}`, { dispatcher: agent }).then(async (r) => { await r.body.dump(); });
      const bodies = Array.from({ length: BURST }, (_, i) => burstBody(queries, i));
      const burst = Promise.all(bodies.map(async (body) => {
        const r = await request(writeUrl, { method: 'POST', body, headers: RW_HEADERS });
        const text = await r.body.text();
        burstStatus.push(r.statusCode);
        if (r.statusCode === 503) refusals.push({ text, retryAfter: r.headers['retry-after'] as string | undefined });
        else if (r.statusCode !== 200) other.push(`${r.statusCode} ${text}`);
      }));
      // The receiver keeps answering while the shard is behind.
      const ready = await request(`${httpUrl}/-/ready`, { dispatcher: agent });
      await ready.body.dump();
      assert.equal(ready.statusCode, 200, 'still ready');
      probes++;
      await Promise.all([q, burst]);
      queries++;
    }
    t.diagnostic(`${refusals.length} writes refused with 503 in ${queries} rounds of a heavy query and a burst of ${BURST} writes (${burstStatus.filter((x) => x === 200).length} burst writes taken); steady writes acknowledged: ${acked.reduce((a, b) => a + b, 0)}`);
    assert.ok(refusals.length > 0, `no write was refused within 20 s of heavy queries\n${stderr.slice(-2000)}`);
    for (const r of refusals) {
      assert.equal(r.retryAfter, '1', 'a 503 carries Retry-After');
      assert.match(r.text, /^shard 0 is overloaded: (write ring full \(65536 bytes\)|\d+ batches waiting)\n$/);
    }
    assert.ok(probes > 0);

    // Without the queries the shard keeps up again: every request succeeds.
    await new Promise((r) => setTimeout(r, 200));
    phase = 'after';
    const okUntil = Date.now() + 10_000;
    while (okAfter < WRITERS * 10 && Date.now() < okUntil) await new Promise((r) => setTimeout(r, 20));
    phase = 'done';
    await Promise.all(writers);
    assert.deepEqual(other, [], 'nothing but 200 and 503, and only 200 once the shard kept up');
    assert.ok(okAfter >= WRITERS * 10, `only ${okAfter} writes succeeded after the overload`);

    // Every acknowledged sample is there.
    for (let w = 0; w < WRITERS; w++) {
      const r = await request(`${httpUrl}/api/v1/query?query=${encodeURIComponent(`count_over_time(ovl{w="${w}"}[1d])`)}&time=${(T0 + 86_000_000) / 1000}`, { dispatcher: agent });
      const body = await r.body.json() as { data: { result: { value: [number, string] }[] } };
      assert.equal(body.data.result.length, SERIES_PER_REQUEST, `writer ${w}: every series`);
      for (const s of body.data.result) assert.equal(Number(s.value[1]), acked[w], `writer ${w}: one sample per acknowledged request`);
    }
    p.kill('SIGTERM');
    assert.equal(await exited(p), 0, stderr.slice(-2000));
  } finally {
    await agent.close();
    if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
