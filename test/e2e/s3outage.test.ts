/**
 * S3 outage under load, one real `sluice receive` process (issue 4): blocks are cut every 2 s
 * (--tsdb.block-duration=2s) and shipped to s3rver on loopback while a Prometheus-like client
 * writes the whole time. s3rver is stopped while blocks are being cut: writes keep getting 2xx,
 * /metrics shows upload failures rising and a non-empty upload queue; s3rver comes back on the
 * same port and data, the queue drains to 0 and uploads rise. At the end the head is flushed and
 * the bucket is copied back and read block by block with the real promtool: every acknowledged
 * sample is there exactly once, with its value, inside its block's time range, and nothing that
 * was never sent is there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadBook, LoadWriter, is2xx } from '../helpers/cluster.js';
import { labelKey } from '../helpers/heads.js';
import { ReceiverProcess, metricSum, waitUntil } from '../helpers/receiverProcess.js';
import { downloadBlocks, dumpBlock, hasPromtool, readBlockMeta, PROMTOOL } from '../helpers/blockDump.js';
import { startS3Server } from '../helpers/s3server.js';
import { newBucket, parseObjstoreConfig } from '../../src/blocks/objstore/config.js';
import { readShipperState, ULID_RE } from '../../src/blocks/shipperState.js';

const TENANT = 'team-s3';
const LANES = 3;
/** Series each lane repeats with increasing timestamps, and new series per request. */
const LANE_SERIES = 8;
const NEW_SERIES = 1;
const UPLOADS = 'thanos_shipper_uploads_total';
const FAILURES = 'thanos_shipper_upload_failures_total';
const QUEUE_BLOCKS = 'sluice_shipper_queue_blocks';
const QUEUE_BYTES = 'sluice_shipper_queue_bytes';

const skip = hasPromtool() ? false : `${PROMTOOL} not installed`;

test('S3 outage under load: writes stay 2xx, failures and queue show, backlog drains, every acked sample in the bucket once', { skip, timeout: 90_000 }, async (t) => {
  const s3 = await startS3Server();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-s3outage-'));
  const copy = mkdtempSync(join(tmpdir(), 'sluice-e2e-s3copy-'));
  const reader = newBucket(parseObjstoreConfig(s3.yaml()));
  const book = new LoadBook('s3o', LANE_SERIES, NEW_SERIES);
  let rx: ReceiverProcess | undefined;
  let writer: LoadWriter | undefined;
  /** metaPuts counts the PUTs of `ulid`/meta.json among the requests s3rver got in [from, to). */
  const metaPuts = (ulid: string, from = 0, to = Infinity): number =>
    s3.requests.slice(from, to).filter((q) => q.method === 'PUT' && q.url.split('?')[0] === `/${s3.bucket}/${ulid}/meta.json`).length;
  try {
    rx = await ReceiverProcess.start(dir, [`--objstore.config=${s3.yaml()}`, '--tsdb.block-duration=2s']);
    const r = rx;
    const logTail = (): string => r.log.slice(-3000);
    writer = new LoadWriter({ targets: [r.writeUrl], lanes: LANES, tenant: TENANT, build: book.build, onAck: book.ack, pauseMs: 10 });
    writer.start();

    // 1. S3 up: blocks are cut and shipped as the head grows.
    await waitUntil(async () => {
      const m = await r.metrics();
      return metricSum(m, UPLOADS) >= 1 && metricSum(m, QUEUE_BLOCKS) === 0;
    }, 'a first block uploaded and an empty queue', 20_000, logTail);
    // The outage starts right after an upload ends, so that no upload is cut off in the middle
    // (the next cut is about 2 s away).
    const first = await r.metric(UPLOADS);
    let before = '';
    await waitUntil(async () => {
      before = await r.metrics();
      return metricSum(before, UPLOADS) > first && metricSum(before, QUEUE_BLOCKS) === 0;
    }, 'the next block uploaded', 20_000, logTail);
    const uploads0 = metricSum(before, UPLOADS);
    const failures0 = metricSum(before, FAILURES);
    const acks0 = writer.acked;
    const shippedBefore = readShipperState(join(dir, 'blocks')).uploaded;

    // 2. S3 down while blocks keep being cut: the queue grows, failures are counted.
    const atStop = s3.requests.length;
    await s3.stop();
    let queued = 0;
    let queuedBytes = 0;
    await waitUntil(async () => {
      const m = await r.metrics();
      queued = metricSum(m, QUEUE_BLOCKS);
      queuedBytes = metricSum(m, QUEUE_BYTES);
      return queued >= 2 && metricSum(m, FAILURES) >= failures0 + 2;
    }, 'two blocks queued and two failed passes during the outage', 20_000, logTail);
    assert.ok(queuedBytes > 0, `queue bytes ${queuedBytes}`);
    assert.equal(metricSum(await r.metrics(), UPLOADS), uploads0, 'nothing uploaded while S3 is down');
    const ackedDuringOutage = writer.acked - acks0;
    assert.ok(ackedDuringOutage >= 10, `writes acknowledged during the outage: ${ackedDuringOutage}`);
    // The queued blocks are on disk and not in the shipper's state.
    const state = new Set(readShipperState(join(dir, 'blocks')).uploaded);
    const waiting = readdirSync(join(dir, 'blocks')).filter((n) => ULID_RE.test(n) && !state.has(n));
    assert.ok(waiting.length >= 2, `blocks waiting on disk: ${waiting.join(',')}`);

    // 3. S3 back on the same port and data: the backlog goes up, the queue drains to 0.
    await s3.start();
    const atStart = s3.requests.length;
    await waitUntil(async () => {
      const m = await r.metrics();
      return metricSum(m, QUEUE_BLOCKS) === 0 && metricSum(m, UPLOADS) >= uploads0 + waiting.length;
    }, 'the backlog uploaded', 20_000, logTail);
    for (const u of waiting) assert.equal(metaPuts(u, atStart), 1, `meta.json of queued block ${u} PUT once after the outage`);

    // 4. Load stops (every request in flight retried to an answer); the head is flushed and shipped.
    await writer.stop(5_000);
    const bad = writer.attempts.filter((a) => !is2xx(a));
    assert.deepEqual(bad, [], 'every write was answered 2xx, through cuts and the outage');
    const flushed = await r.flush();
    assert.equal(flushed.status, 200, JSON.stringify(flushed.body));
    assert.ok((flushed.body.data?.ulids.length ?? 0) >= 1, 'the flush cut the rest of the head');
    assert.equal(await r.metric(QUEUE_BLOCKS), 0);
    assert.ok(book.acked.length > 0);

    // Local blocks (non-empty), the state file and the bucket agree.
    const local = readdirSync(join(dir, 'blocks')).filter((n) => ULID_RE.test(n) && readBlockMeta(join(dir, 'blocks', n)).stats.numSamples > 0).sort();
    assert.deepEqual(readShipperState(join(dir, 'blocks')).uploaded, local, 'thanos.shipper.json lists every local block');
    const ulids = await downloadBlocks(reader, copy);
    assert.deepEqual(ulids, local, 'the bucket holds exactly the local blocks');
    for (const u of flushed.body.data!.ulids) assert.ok(ulids.includes(u), `flushed block ${u} is in the bucket`);
    // Each meta.json is PUT once, except that a PUT cut off by the stop may be sent once more.
    for (const u of ulids) {
      const [total, cutOff, after] = [metaPuts(u), metaPuts(u, 0, atStop), metaPuts(u, atStart)];
      assert.ok(total >= 1 && total - cutOff <= 1 && cutOff <= 1, `meta.json of ${u} PUT ${total} times (${cutOff} before the stop)`);
      if (shippedBefore.includes(u)) assert.equal(after, 0, `${u}, shipped before the outage, is not sent again`);
    }

    // 5. promtool, block by block: each acked sample exactly once, nothing never sent.
    const seen = new Map<string, Map<number, number>>();
    for (const u of ulids) {
      const meta = readBlockMeta(join(copy, u));
      assert.equal(meta.thanos?.labels['tenant_id'], TENANT);
      const lines = await dumpBlock(join(copy, u));
      assert.equal(lines.length, meta.stats.numSamples, `${u}: samples dumped = meta.json's numSamples`);
      for (const d of lines) {
        const key = labelKey(d.labels);
        assert.ok(d.t >= meta.minTime && d.t < meta.maxTime, `${u}: ${key}@${d.t} outside [${meta.minTime}, ${meta.maxTime})`);
        const sent = book.sent.get(key)?.get(d.t);
        assert.ok(sent !== undefined, `${u}: ${key}@${d.t} was never sent`);
        assert.equal(d.value, sent, `${u}: ${key}@${d.t} has another value`);
        let m = seen.get(key);
        if (m === undefined) seen.set(key, m = new Map());
        m.set(d.t, (m.get(d.t) ?? 0) + 1);
      }
    }
    let missing = 0;
    for (const [key, t] of book.acked) {
      const n = seen.get(key)?.get(t) ?? 0;
      if (n === 0) missing++;
      else assert.equal(n, 1, `${key}@${t} is in the bucket ${n} times`);
    }
    assert.equal(missing, 0, `${missing} of ${book.acked.length} acknowledged samples are not in the bucket`);
    for (const [key, m] of seen) for (const [t, n] of m) assert.equal(n, 1, `${key}@${t} is in the bucket ${n} times`);
    assert.ok(ulids.length >= 4, `blocks shipped: ${ulids.length}`);
    t.diagnostic(`${book.acked.length} acked samples in ${writer.acked} requests (${ackedDuringOutage} during the outage), ${ulids.length} blocks, ${waiting.length} queued during the outage`);
  } finally {
    await writer?.stop();
    await rx?.stop();
    await reader.close();
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(copy, { recursive: true, force: true });
  }
});
