/**
 * Restart with a queued block, at process level (issue 4): with s3rver down, a real `sluice
 * receive` cuts a block (admin flush), so the block waits on disk; the receiver is stopped
 * (SIGTERM, then in a second round SIGKILL), S3 comes back, the receiver starts again on the same
 * data dir, and the block is uploaded after the restart exactly once (PUTs of its meta.json
 * counted on the server), thanos.shipper.json lists it, and the bucket copy holds the samples
 * written (read back with the real promtool) and the local files byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { series, write } from '../helpers/node.js';
import { labelKey } from '../helpers/heads.js';
import { ReceiverProcess, waitUntil } from '../helpers/receiverProcess.js';
import { downloadBlocks, dumpBlock, hasPromtool, PROMTOOL } from '../helpers/blockDump.js';
import { startS3Server, type TestS3Server } from '../helpers/s3server.js';
import { newBucket, parseObjstoreConfig } from '../../src/blocks/objstore/config.js';
import { readShipperState, ULID_RE } from '../../src/blocks/shipperState.js';

const H = 3_600_000;
const SERIES = 6;
const SAMPLES = 40;
/** B is a block boundary two hours back: every round writes inside [B, B + 2h), far from the boundary. */
const B = Math.floor(Date.now() / (2 * H)) * 2 * H - 2 * H;

const skip = hasPromtool() ? false : `${PROMTOOL} not installed`;

/** Written is what one round sent: label key → timestamp → value. */
type Written = Map<string, Map<number, number>>;

/** writeRound writes SERIES series of SAMPLES samples from `t0` (15 s apart) in one request. */
async function writeRound(rx: ReceiverProcess, round: number, t0: number): Promise<Written> {
  const out: Written = new Map();
  const ts: ReturnType<typeof series>[] = [];
  for (let i = 0; i < SERIES; i++) {
    const labels = { __name__: 'restart_e2e', round: String(round), i: String(i) };
    const samples: [number, number][] = [];
    for (let k = 0; k < SAMPLES; k++) samples.push([t0 + k * 15_000, round * 1000 + i * 10 + k / 8]);
    ts.push(series(labels, samples));
    out.set(labelKey(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))), new Map(samples));
  }
  const r = await write(rx.writeUrl, ts);
  assert.equal(r.status, 200, r.text);
  return out;
}

/** localBlocks lists the ULIDs in the receiver's blocks dir. */
function localBlocks(dir: string): string[] {
  return readdirSync(join(dir, 'blocks')).filter((n) => ULID_RE.test(n)).sort();
}

/**
 * queueOneBlock writes a round and flushes while S3 is down: the cut succeeds, the upload does
 * not (the flush answers 503), and exactly one new block waits on disk. Returns its ULID.
 */
async function queueOneBlock(rx: ReceiverProcess, s3: TestS3Server, round: number, t0: number): Promise<{ ulid: string; written: Written }> {
  assert.equal(s3.running, false);
  const before = localBlocks(rx.dir);
  const written = await writeRound(rx, round, t0);
  const f = await rx.flush();
  assert.equal(f.status, 503, `flush with S3 down: ${JSON.stringify(f.body)}`);
  const added = localBlocks(rx.dir).filter((u) => !before.includes(u));
  assert.equal(added.length, 1, `new blocks after the flush: ${added.join(',')}`);
  const ulid = added[0]!;
  // The answer names the block it cut even though the upload failed.
  assert.deepEqual(f.body.data?.ulids, [ulid]);
  assert.match(f.body.error ?? '', /blocks cut but not uploaded/);
  assert.ok(!readShipperState(join(rx.dir, 'blocks')).uploaded.includes(ulid), 'the block is not recorded as uploaded');
  assert.ok(await rx.metric('thanos_shipper_upload_failures_total') >= 1);
  assert.equal(await rx.metric('sluice_shipper_queue_blocks'), 1);
  assert.ok(await rx.metric('sluice_shipper_queue_bytes') > 0);
  assert.equal(s3.count('PUT', `${ulid}/meta.json`), 0);
  return { ulid, written };
}

/** restartAndShip brings S3 back, restarts the receiver and waits until `ulid` is recorded as uploaded. */
async function restartAndShip(rx: ReceiverProcess, s3: TestS3Server, ulid: string): Promise<void> {
  await s3.start();
  await rx.restart();
  await waitUntil(() => readShipperState(join(rx.dir, 'blocks')).uploaded.includes(ulid), `${ulid} in thanos.shipper.json`, 15_000, () => rx.log.slice(-3000));
  // One more pass (an empty flush syncs the shipper) must not send it again.
  const f = await rx.flush();
  assert.equal(f.status, 200, JSON.stringify(f.body));
  assert.deepEqual(f.body.data?.ulids, [], 'nothing left in the head to cut');
  assert.equal(s3.count('PUT', `${ulid}/meta.json`), 1, `meta.json of ${ulid} PUT exactly once`);
  assert.equal(await rx.metric('thanos_shipper_uploads_total'), 1, 'this process uploaded one block');
  assert.equal(await rx.metric('sluice_shipper_queue_blocks'), 0);
}

/** checkShipped compares the bucket's copy of `ulid` with the local block and with what was written. */
async function checkShipped(rx: ReceiverProcess, s3: TestS3Server, ulid: string, written: Written): Promise<void> {
  const copy = mkdtempSync(join(tmpdir(), 'sluice-e2e-restart-copy-'));
  const bucket = newBucket(parseObjstoreConfig(s3.yaml()));
  try {
    assert.ok((await downloadBlocks(bucket, copy)).includes(ulid));
    for (const f of ['index', 'chunks/000001']) {
      assert.ok(readFileSync(join(copy, ulid, f)).equals(readFileSync(join(rx.dir, 'blocks', ulid, f))), `${ulid}/${f} equals the local file`);
    }
    const got: Written = new Map();
    for (const d of await dumpBlock(join(copy, ulid))) {
      const k = labelKey(d.labels);
      let m = got.get(k);
      if (m === undefined) got.set(k, m = new Map());
      assert.ok(!m.has(d.t), `${k}@${d.t} twice`);
      m.set(d.t, d.value);
    }
    assert.deepEqual(got, written, `${ulid} holds exactly the round written`);
  } finally {
    await bucket.close();
    rmSync(copy, { recursive: true, force: true });
  }
}

test('a block queued while S3 is down is uploaded after a SIGTERM and after a SIGKILL restart, exactly once', { skip, timeout: 60_000 }, async () => {
  const s3 = await startS3Server();
  await s3.stop();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-restart-'));
  let rx: ReceiverProcess | undefined;
  try {
    // Default 2h block duration: nothing is cut but by the flushes.
    rx = await ReceiverProcess.start(dir, [`--objstore.config=${s3.yaml()}`]);

    // Round 1: queued, then SIGTERM (a clean exit), S3 back, restart.
    const a = await queueOneBlock(rx, s3, 1, B + 10 * 60_000 + 321);
    const term = await rx.stop('SIGTERM');
    assert.deepEqual(term, { code: 0, signal: null }, rx.log.slice(-2000));
    await restartAndShip(rx, s3, a.ulid);
    await checkShipped(rx, s3, a.ulid, a.written);

    // Round 2: queued, then SIGKILL, S3 back, restart.
    await s3.stop();
    const b = await queueOneBlock(rx, s3, 2, B + 40 * 60_000 + 321);
    const kill = await rx.stop('SIGKILL');
    assert.equal(kill.signal, 'SIGKILL');
    await restartAndShip(rx, s3, b.ulid);
    await checkShipped(rx, s3, b.ulid, b.written);

    // Both blocks once each in the bucket and in the state file.
    assert.equal(s3.count('PUT', `${a.ulid}/meta.json`), 1, 'round 1 block not sent again');
    assert.deepEqual(readShipperState(join(dir, 'blocks')).uploaded, [a.ulid, b.ulid].sort());
  } finally {
    await rx?.stop();
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
