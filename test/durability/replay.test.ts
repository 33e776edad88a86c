/**
 * Readiness during WAL replay, on a real process: a receiver takes a few million samples into one
 * shard and is stopped (SIGTERM); a new receiver on the same data replays that WAL before it turns
 * ready. Meanwhile `/-/ready` answers 503 and remote-write answers 503 with Retry-After (the
 * gateways listen from the start); once the replay is done, `/-/ready` is 200, writes are
 * accepted, and the replay counted every sample that was written.
 *
 * The requests are encoded by hand here (one series per shard batch, many samples each): encoding
 * millions of samples through protobufjs would take most of the test's time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import snappy from 'snappy';
import { Agent, request } from 'undici';
import { encodeBody, series, RW_HEADERS, freePort, waitReady } from '../helpers/node.js';
import { spawnReceiver } from '../helpers/receiverProcess.js';

const T0 = 1_700_000_000_000;
/** Series of the load, samples per series per request, requests: 4M samples. */
const SERIES = 2000;
const PER_SERIES = 50;
const REQUESTS = 40;
const SAMPLES = SERIES * PER_SERIES * REQUESTS;

/** putVarint writes `v` (< 2^53) as a protobuf varint at `pos`; returns the next position. */
function putVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}

/**
 * encodeLoad encodes request `r` of the load as a snappy-compressed remote-write 1.0 body: series
 * `replay{s="<s>"}` with PER_SERIES samples each, at T0 + (r·PER_SERIES + j) s, value r·PER_SERIES + j.
 */
function encodeLoad(r: number): Uint8Array {
  const buf = Buffer.alloc(SERIES * (64 + PER_SERIES * 20));
  let p = 0;
  const sample = Buffer.alloc(32);
  for (let s = 0; s < SERIES; s++) {
    const name = 's';
    const value = String(s);
    // Labels: {__name__="replay"} and {s="<s>"}.
    const l1 = Buffer.from('\x0a\x08__name__\x12\x06replay', 'latin1');
    const l2 = Buffer.concat([Buffer.from([0x0a, name.length]), Buffer.from(name), Buffer.from([0x12, value.length]), Buffer.from(value)]);
    // Samples: field 1 double value, field 2 varint timestamp.
    const samples: Buffer[] = [];
    for (let j = 0; j < PER_SERIES; j++) {
      const k = r * PER_SERIES + j;
      sample[0] = 0x09;
      sample.writeDoubleLE(k, 1);
      sample[9] = 0x10;
      const end = putVarint(sample, 10, T0 + k * 1000);
      samples.push(Buffer.from([0x12, end]), Buffer.from(sample.subarray(0, end)));
    }
    const ts = Buffer.concat([Buffer.from([0x0a, l1.length]), l1, Buffer.from([0x0a, l2.length]), l2, ...samples]);
    buf[p++] = 0x0a;
    p = putVarint(buf, p, ts.length);
    p += ts.copy(buf, p);
  }
  return snappy.compressSync(buf.subarray(0, p));
}

function exited(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((r) => p.once('exit', (code) => r(code)));
}

test('during WAL replay /-/ready and remote-write answer 503 with Retry-After; ready and 200 once replayed', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-replay-'));
  const [rw, http] = [await freePort(), await freePort()];
  const agent = new Agent({ connections: 4 });
  let child: ChildProcess | undefined;
  try {
    // 1. A receiver logs SAMPLES samples, then stops.
    const first = spawnReceiver(dir, rw, http);
    child = first.p;
    await waitReady(`http://127.0.0.1:${http}/-/ready`, child);
    const loadStart = performance.now();
    for (let r = 0; r < REQUESTS; r++) {
      const res = await request(`http://127.0.0.1:${rw}/api/v1/receive`, { method: 'POST', body: encodeLoad(r), headers: RW_HEADERS, dispatcher: agent });
      const text = await res.body.text();
      assert.equal(res.statusCode, 200, text);
    }
    t.diagnostic(`wrote ${SAMPLES} samples in ${Math.round(performance.now() - loadStart)} ms`);
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, first.log());

    // 2. A new receiver replays them; poll readiness and writes until it is ready.
    const second = spawnReceiver(dir, rw, http);
    child = second.p;
    const probe = encodeBody({ timeseries: [series({ __name__: 'replay_probe' }, [[T0, 1]])] });
    let ready503 = 0;
    let write503 = 0;
    let writeOther = '';
    const until = Date.now() + 45_000;
    for (;;) {
      assert.ok(Date.now() < until, `not ready within 45 s\n${second.log()}`);
      assert.equal(child.exitCode, null, second.log());
      const [ready, write] = await Promise.all([
        fetch(`http://127.0.0.1:${http}/-/ready`).then((r) => r.status, () => 0),
        request(`http://127.0.0.1:${rw}/api/v1/receive`, { method: 'POST', body: probe, headers: RW_HEADERS, dispatcher: agent })
          .then(async (r) => ({ status: r.statusCode, retryAfter: r.headers['retry-after'], text: await r.body.text() }), () => undefined),
      ]);
      if (ready === 200) break;
      if (ready === 503) ready503++;
      if (write?.status === 503) {
        assert.equal(write.retryAfter, '1', 'a 503 during replay carries Retry-After');
        assert.match(write.text, /not ready/);
        write503++;
      } else if (write !== undefined) writeOther += `${write.status} `;
      await new Promise((r) => setTimeout(r, 10));
    }
    const replayed = /msg="WAL replayed" shard=0 series=(\d+) samples=(\d+) ms=(\d+)/.exec(second.log());
    assert.ok(replayed, second.log());
    t.diagnostic(`replayed ${replayed[2]} samples of ${replayed[1]} series in ${replayed[3]} ms; during it /-/ready answered 503 ${ready503} times, remote-write 503 ${write503} times`);
    assert.equal(Number(replayed[2]), SAMPLES, 'the replay counted every sample written');
    assert.equal(Number(replayed[1]), SERIES);
    assert.ok(ready503 > 0, 'a /-/ready probe during the replay answered 503');
    assert.ok(write503 > 0, 'a write during the replay answered 503');
    assert.equal(writeOther, '', 'writes during the replay answered nothing but 503');
    // Ready: writes are accepted.
    const after = await request(`http://127.0.0.1:${rw}/api/v1/receive`, { method: 'POST', body: probe, headers: RW_HEADERS, dispatcher: agent });
    assert.equal(after.statusCode, 200, await after.body.text());
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, second.log());
  } finally {
    await agent.close();
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
