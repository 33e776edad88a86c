import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import client from 'prom-client';
import { FilesystemBucket } from '../../../src/blocks/objstore/filesystem.js';
import { Shipper, backoffDelay, type ShipperOptions } from '../../../src/blocks/shipper.js';
import { SHIPPER_STATE_FILE, writeShipperState } from '../../../src/blocks/shipperState.js';
import { Logger } from '../../../src/util/log.js';
import { RecordingBucket, metricValue, ulid, waitFor, writeFakeBlock } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-shipper-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const quiet = new Logger('error');
const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

/** setup makes a fresh blocks dir and a recording FILESYSTEM bucket. */
function setup(): { dir: string; bucket: RecordingBucket; registry: client.Registry; make: (o?: Partial<ShipperOptions>) => Shipper } {
  const base = join(root, `case${n++}`);
  const dir = join(base, 'tsdb');
  mkdirSync(dir, { recursive: true });
  const bucket = new RecordingBucket(new FilesystemBucket({ directory: join(base, 'bucket') }));
  const registry = new client.Registry();
  const make = (o: Partial<ShipperOptions> = {}): Shipper => new Shipper({ dir, bucket, registry, logger: quiet, ...o });
  return { dir, bucket, registry, make };
}

const readState = (dir: string): unknown => JSON.parse(readFileSync(join(dir, SHIPPER_STATE_FILE), 'utf8'));

test('blocks go up oldest first, each as chunks/*, index, then meta.json; state and callbacks follow', async () => {
  const { dir, bucket, registry, make } = setup();
  const ids = [2, 0, 1].map((i) => writeFakeBlock(dir, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR, chunkSizes: [300, 200] }));
  const sorted = [...ids].sort();
  const s = make({ tenant: 'team-a' });
  const heard: string[] = [];
  s.onUploaded((id, meta) => { assert.equal(meta.ulid, id); heard.push(id); });

  const res = await s.sync();
  assert.deepEqual(res.uploaded, sorted);
  assert.deepEqual(bucket.uploads, sorted.flatMap((id) => [`${id}/chunks/000001`, `${id}/chunks/000002`, `${id}/index`, `${id}/meta.json`]));
  assert.deepEqual(heard, sorted);
  assert.deepEqual(readState(dir), { version: 1, uploaded: sorted });
  assert.match(readFileSync(join(dir, SHIPPER_STATE_FILE), 'utf8'), /^{\n\t"version": 1,\n\t"uploaded": \[\n\t\t"/, 'Thanos encoding');
  for (const id of sorted) assert.equal(s.isUploaded(id), true);

  const meta = JSON.parse(Buffer.from(await bucket.inner.get(`${sorted[0]}/meta.json`)).toString());
  assert.deepEqual(meta.thanos.files, [
    { rel_path: 'chunks/000001', size_bytes: 300 }, { rel_path: 'chunks/000002', size_bytes: 200 },
    { rel_path: 'index', size_bytes: 500 }, { rel_path: 'meta.json' },
  ]);
  assert.equal(meta.thanos.source, 'receive');
  assert.deepEqual(meta.thanos.labels, { receive_replica: '0', tenant_id: 'default-tenant' }, 'block fields kept');
  assert.equal(await metricValue(registry, 'thanos_shipper_uploads_total'), 3);
  assert.equal(await metricValue(registry, 'thanos_shipper_dir_syncs_total'), 1);
  assert.equal(await metricValue(registry, 'sluice_shipper_queue_blocks'), 0);
  assert.equal(await metricValue(registry, 'sluice_shipper_queue_bytes'), 0);
  assert.ok(await metricValue(registry, 'thanos_shipper_last_successful_upload_time') > 1e9);
  assert.match(await registry.metrics(), /thanos_shipper_uploads_total\{tenant="team-a"\} 3/);
});

test('an uploaded block is never uploaded again: same shipper, or a new one reading the state file', async () => {
  const { dir, bucket, make } = setup();
  const a = writeFakeBlock(dir, { minTime: T0, maxTime: T0 + 2 * HOUR });
  await make().sync();
  const first = bucket.uploads.length;
  const s1 = make();
  assert.equal(s1.isUploaded(a), true, 'known from the state file before any pass');
  assert.deepEqual((await s1.sync()).uploaded, []);
  assert.deepEqual((await s1.sync()).uploaded, []);
  assert.equal(bucket.uploads.length, first);
});

test('non-block dirs, *.tmp dirs and blocks still being written are left alone until complete', async () => {
  const { dir, bucket, make } = setup();
  mkdirSync(join(dir, 'wal'));
  mkdirSync(join(dir, `${ulid(T0, 1)}.tmp-for-creation`));
  const inProgress = ulid(T0, 2);
  mkdirSync(join(dir, inProgress, 'chunks'), { recursive: true });
  writeFileSync(join(dir, inProgress, 'index'), 'x');
  const s = make();
  assert.deepEqual((await s.sync()).uploaded, []);
  assert.deepEqual(bucket.uploads, []);
  writeFakeBlock(dir, { minTime: T0, maxTime: T0 + 2 * HOUR, id: inProgress });
  assert.deepEqual((await s.sync()).uploaded, [inProgress], 'uploaded once meta.json exists');
});

test('crash after meta.json went up but before the state was written: found in the bucket, not re-sent', async () => {
  const { dir, bucket, make } = setup();
  const a = writeFakeBlock(dir, { minTime: T0, maxTime: T0 + 2 * HOUR });
  const b = writeFakeBlock(dir, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR });
  await make().sync();
  await writeShipperState(dir, [a]); // the state write for b "did not happen"
  const before = bucket.uploads.length;
  const s = make();
  const heard: string[] = [];
  s.onUploaded((id) => heard.push(id));
  const res = await s.sync();
  assert.deepEqual(res.found, [b]);
  assert.deepEqual(res.uploaded, []);
  assert.equal(bucket.uploads.length, before, 'nothing uploaded again');
  assert.deepEqual(heard, [b], 'WAL truncation still hears about it');
  assert.deepEqual(readState(dir), { version: 1, uploaded: [a, b] });
});

test('a failure mid-block stops the pass in order; the retry sends the whole block and meta.json once', async () => {
  const { dir, bucket, registry, make } = setup();
  const a = writeFakeBlock(dir, { minTime: T0, maxTime: T0 + 2 * HOUR, chunkSizes: [10, 10, 10] });
  const b = writeFakeBlock(dir, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR });
  const s = make();
  bucket.failAfter = 2; // chunks 1 and 2 of block a succeed, chunk 3 fails
  await assert.rejects(s.sync(), (e: { code?: string }) => e.code === 'E_UNAVAILABLE');
  assert.equal(s.isUploaded(a), false);
  assert.ok(!bucket.uploads.some((u) => u.startsWith(b)), 'later block not started');
  assert.ok(!bucket.uploads.includes(`${a}/meta.json`));
  assert.equal(await metricValue(registry, 'thanos_shipper_upload_failures_total'), 1);
  assert.equal(await metricValue(registry, 'thanos_shipper_dir_sync_failures_total'), 1);
  assert.equal(await metricValue(registry, 'sluice_shipper_queue_blocks'), 2);
  assert.equal(await metricValue(registry, 'sluice_shipper_queue_bytes'), 30 + 500 + 1000 + 500, 'chunks + index of both');

  bucket.failAfter = -1;
  assert.deepEqual((await s.sync()).uploaded, [a, b]);
  assert.equal(bucket.uploads.filter((u) => u === `${a}/meta.json`).length, 1);
  assert.equal(bucket.uploads.filter((u) => u === `${a}/chunks/000003`).length, 1);
  assert.equal(await metricValue(registry, 'sluice_shipper_queue_blocks'), 0);
});

test('a corrupted block stops uploads, or is skipped with skipCorruptedBlocks', async () => {
  const { dir, bucket, registry, make } = setup();
  const bad = ulid(T0, 5);
  mkdirSync(join(dir, bad, 'chunks'), { recursive: true });
  writeFileSync(join(dir, bad, 'meta.json'), '{not json');
  const good = writeFakeBlock(dir, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR });
  await assert.rejects(make().sync(), /corrupted/);
  assert.deepEqual(bucket.uploads, []);
  assert.equal(await metricValue(registry, 'thanos_shipper_corrupted_blocks_total'), 1);
  const res = await make({ skipCorruptedBlocks: true }).sync();
  assert.deepEqual(res.skipped, [bad]);
  assert.deepEqual(res.uploaded, [good]);
});

test('an unreadable state file starts empty, and the bucket check prevents double uploads', async () => {
  const { dir, bucket, make } = setup();
  const a = writeFakeBlock(dir, { minTime: T0, maxTime: T0 + 2 * HOUR });
  await make().sync();
  writeFileSync(join(dir, SHIPPER_STATE_FILE), '{"version": 2, "uploaded": []}');
  const before = bucket.uploads.length;
  const s = make();
  assert.equal(s.isUploaded(a), false);
  assert.deepEqual((await s.sync()).found, [a]);
  assert.equal(bucket.uploads.length, before);
  assert.deepEqual(readState(dir), { version: 1, uploaded: [a] });
});

test('the state forgets blocks deleted locally; empty blocks are not shipped', async () => {
  const { dir, bucket, make } = setup();
  const a = writeFakeBlock(dir, { minTime: T0, maxTime: T0 + 2 * HOUR });
  const empty = writeFakeBlock(dir, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR, numSamples: 0 });
  const s = make();
  await s.sync();
  assert.deepEqual(readState(dir), { version: 1, uploaded: [a] });
  assert.ok(!bucket.uploads.some((u) => u.startsWith(empty)));
  rmSync(join(dir, a), { recursive: true });
  await s.sync();
  assert.deepEqual(readState(dir), { version: 1, uploaded: [] });
  assert.equal(s.isUploaded(a), false);
});

test('concurrent sync() calls share passes and never upload a block twice', async () => {
  const { dir, bucket, make } = setup();
  for (let i = 0; i < 4; i++) writeFakeBlock(dir, { minTime: T0 + i * 2 * HOUR, maxTime: T0 + (i + 1) * 2 * HOUR });
  const s = make();
  const first = s.sync();
  await new Promise((r) => setImmediate(r)); // let the first pass start, so the next calls queue a second one
  const results = await Promise.all([first, s.sync(), s.sync(), s.sync()]);
  const passes = [...new Set(results)];
  assert.equal(passes.length, 2, 'calls made while a pass runs share one follow-up pass');
  assert.equal(passes.flatMap((r) => r.uploaded).length, 4);
  assert.equal(bucket.uploads.filter((u) => u.endsWith('/meta.json')).length, 4);
});

test('backoff doubles from the initial delay up to the cap', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 100].map((f) => backoffDelay(f, 1000, 30_000)), [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
});

test('the background loop backs off while the store fails, uploads when it recovers, reacts to notify()', async () => {
  const { dir, bucket, registry, make } = setup();
  const a = writeFakeBlock(dir, { minTime: T0, maxTime: T0 + 2 * HOUR });
  bucket.failing = true;
  const s = make({ intervalMs: 60_000, backoffInitialMs: 20, backoffMaxMs: 160 });
  s.start();
  try {
    const t0 = Date.now();
    await waitFor(() => s.consecutiveFailures >= 5, 'five failed passes');
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 20 + 40 + 80 + 160 - 20, `waits grow (took ${elapsed} ms)`);
    assert.equal(s.isUploaded(a), false);
    assert.equal(await metricValue(registry, 'sluice_shipper_queue_blocks'), 1);
    bucket.failing = false;
    await waitFor(() => s.isUploaded(a), 'upload after recovery');
    await waitFor(() => s.consecutiveFailures === 0, 'the failure count reset after the successful pass', 2000);
    // The loop now sleeps for intervalMs (60 s); notify() must start a pass at once.
    const b = writeFakeBlock(dir, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR });
    s.notify();
    await waitFor(() => s.isUploaded(b), 'upload after notify', 3000);
  } finally {
    await s.stop();
  }
  assert.ok(await metricValue(registry, 'thanos_shipper_dir_sync_failures_total') >= 5);
});
