/**
 * Crash loop: a real `sluice receive` under load is SIGKILLed at random moments, 20 times. After
 * each kill, this process replays the node's WAL with the shards' own code (a ShardPool on the same
 * directory, exactly what a restarted receiver does) and checks that every acknowledged sample is
 * there, bit for bit, and that nothing that was never sent appears. The next receiver then starts
 * on the same directory (cutting any torn tail) and takes more load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { encodeBody, series, RW_HEADERS, freePort, waitReady } from '../helpers/node.js';
import { mulberry32 } from '../helpers/prng.js';
import { ShardPool } from '../../src/shards/pool.js';
import { XorIterator } from '../../src/chunkenc/xor.js';

const bin = fileURLToPath(new URL('../../../bin/sluice.js', import.meta.url));
const KILLS = 20;
const SERIES = 40;
const SHARDS = 2;
const T0 = 1_700_000_000_000;



/** key identifies a sample: series index and timestamp. */
const key = (s: number, t: number): string => `${s}@${t}`;

/** readAll replays the WAL in this process and returns every sample, keyed, with its value. */
async function readAll(walDir: string): Promise<Map<string, number>> {
  const pool = new ShardPool({ shards: SHARDS, gateways: 1, ringBytes: 1 << 16, blockDurationMs: 7_200_000, walDir, walFsync: 'off' });
  await pool.ready();
  const out = new Map<string, number>();
  const it = new XorIterator();
  try {
    for (const sh of pool.shards) {
      const refs = await sh.query<number[]>({ type: 'query', op: 'refs', q: { tenant: 'default-tenant', matcherSets: [[{ type: '=', name: '__name__', value: 'crash' }]], mint: -Infinity, maxt: Infinity } });
      for (const ref of refs) {
        const labels = sh.view.labels(ref);
        const s = Number(labels.find(([n]) => n === 'i')![1]);
        for (const c of sh.view.chunks(ref)) {
          it.reset(c.data, 0, c.data.length);
          while (it.next()) {
            assert.ok(!out.has(key(s, it.t)), `sample ${key(s, it.t)} read twice`);
            out.set(key(s, it.t), it.v);
          }
        }
      }
    }
  } finally {
    await pool.stop();
  }
  return out;
}

test(`every acknowledged sample survives ${KILLS} SIGKILLs under load`, { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
  const rnd = mulberry32(7);
  const acked = new Map<string, number>();
  const sent = new Map<string, number>();
  let round = 0;
  const agent = new Agent({ connections: 4, pipelining: 1 });
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      const [rw, http] = [await freePort(), await freePort()];
      const child = spawn(process.execPath, [bin, 'receive', `--tsdb.path=${dir}`, `--remote-write.address=127.0.0.1:${rw}`,
        `--http-address=127.0.0.1:${http}`, '--grpc-address=127.0.0.1:0', `--receive.shards=${SHARDS}`, '--receive.gateways=1',
        '--tsdb.wal.fsync=off'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      await waitReady(`http://127.0.0.1:${http}/-/ready`, child);
      // Load: 4 writers, each sending rounds of all series with increasing timestamps, until killed.
      let killed = false;
      const writer = async (): Promise<void> => {
        while (!killed) {
          const r = round++;
          const t = T0 + r * 1000;
          const values = Array.from({ length: SERIES }, () => Math.floor(rnd() * 1e6) / 8);
          values.forEach((v, s) => sent.set(key(s, t), v));
          const body = encodeBody({ timeseries: values.map((v, s) => series({ __name__: 'crash', i: String(s) }, [[t, v]])) });
          try {
            const res = await request(`http://127.0.0.1:${rw}/api/v1/receive`, { method: 'POST', headers: RW_HEADERS, body, dispatcher: agent });
            await res.body.text();
            if (res.statusCode === 200) values.forEach((v, s) => acked.set(key(s, t), v));
          } catch { /* killed mid-request: not acknowledged */ }
        }
      };
      const writers = [writer(), writer(), writer(), writer()];
      await new Promise((r) => setTimeout(r, 50 + Math.floor(rnd() * 400)));
      child.kill('SIGKILL');
      killed = true;
      await exited;
      await Promise.all(writers);
      assert.equal(child.signalCode, 'SIGKILL', stderr);
      // What a restarted receiver would have: replay and compare.
      const got = await readAll(join(dir, 'wal'));
      for (const [k, v] of acked) {
        assert.ok(got.has(k), `after kill ${kill + 1}: acknowledged sample ${k} is missing`);
        assert.equal(got.get(k), v, `after kill ${kill + 1}: sample ${k} has another value`);
      }
      for (const [k, v] of got) assert.equal(sent.get(k), v, `after kill ${kill + 1}: sample ${k} was never sent`);
    }
    assert.ok(acked.size > KILLS * SERIES, `load was acknowledged (${acked.size} samples)`);
  } finally {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
