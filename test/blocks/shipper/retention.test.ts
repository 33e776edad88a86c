import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyRetention } from '../../../src/blocks/retention.js';
import { FilesystemBucket } from '../../../src/blocks/objstore/filesystem.js';
import { Shipper } from '../../../src/blocks/shipper.js';
import { Logger } from '../../../src/util/log.js';
import { RecordingBucket, ulid, writeFakeBlock } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-retention-'));
after(() => rmSync(root, { recursive: true, force: true }));
const quiet = new Logger('error');
const HOUR = 3_600_000;
const NOW = 1_700_000_000_000;
const RETENTION = 24 * HOUR;
let n = 0;

/** fourBlocks writes old/new × uploaded/not blocks and returns their ULIDs. */
function fourBlocks(): { dir: string; oldUp: string; oldNot: string; newUp: string; newNot: string } {
  const dir = join(root, `case${n++}`);
  mkdirSync(dir, { recursive: true });
  const old = NOW - 30 * HOUR;
  const recent = NOW - 4 * HOUR;
  return {
    dir,
    oldUp: writeFakeBlock(dir, { minTime: old - 2 * HOUR, maxTime: old, id: ulid(old, 1) }),
    oldNot: writeFakeBlock(dir, { minTime: old - 2 * HOUR, maxTime: old, id: ulid(old, 2) }),
    newUp: writeFakeBlock(dir, { minTime: recent - 2 * HOUR, maxTime: recent, id: ulid(recent, 1) }),
    newNot: writeFakeBlock(dir, { minTime: recent - 2 * HOUR, maxTime: recent, id: ulid(recent, 2) }),
  };
}

const blocksIn = (dir: string): string[] => readdirSync(dir).filter((x) => /^[0-9A-Z]{26}$/.test(x)).sort();

test('with an object store, only blocks both past retention and uploaded are deleted', async () => {
  const { dir, oldUp, oldNot, newUp, newNot } = fourBlocks();
  const uploaded = new Set([oldUp, newUp]);
  const deleted = await applyRetention(dir, RETENTION, { isUploaded: (u) => uploaded.has(u) }, NOW, quiet);
  assert.deepEqual(deleted, [oldUp]);
  assert.deepEqual(blocksIn(dir), [oldNot, newUp, newNot].sort());
  assert.ok(!readdirSync(dir).some((x) => x.includes('tmp-for-deletion')), 'no leftovers');
});

test('without an object store, age alone decides', async () => {
  const { dir, oldUp, oldNot, newUp, newNot } = fourBlocks();
  const deleted = await applyRetention(dir, RETENTION, null, NOW, quiet);
  assert.deepEqual(deleted.sort(), [oldUp, oldNot].sort());
  assert.deepEqual(blocksIn(dir), [newUp, newNot].sort());
});

test('retention 0 deletes nothing; unreadable metas and blocks being written are kept', async () => {
  const { dir } = fourBlocks();
  assert.deepEqual(await applyRetention(dir, 0, null, NOW, quiet), []);
  assert.equal(blocksIn(dir).length, 4);
  const broken = ulid(NOW - 100 * HOUR, 9);
  mkdirSync(join(dir, broken));
  writeFileSync(join(dir, broken, 'meta.json'), 'garbage');
  const unfinished = ulid(NOW - 100 * HOUR, 8);
  mkdirSync(join(dir, unfinished));
  await applyRetention(dir, RETENTION, null, NOW, quiet);
  assert.ok(existsSync(join(dir, broken)) && existsSync(join(dir, unfinished)));
});

test('old empty blocks (never shipped) are deleted even with an object store; half-deleted dirs are cleaned', async () => {
  const dir = join(root, `case${n++}`);
  mkdirSync(dir, { recursive: true });
  const empty = writeFakeBlock(dir, { minTime: NOW - 50 * HOUR, maxTime: NOW - 48 * HOUR, numSamples: 0 });
  mkdirSync(join(dir, `${ulid(NOW - 60 * HOUR, 3)}.tmp-for-deletion`, 'chunks'), { recursive: true });
  const deleted = await applyRetention(dir, RETENTION, { isUploaded: () => false }, NOW, quiet);
  assert.deepEqual(deleted, [empty]);
  assert.deepEqual(readdirSync(dir), []);
});

test('with a real shipper: a block is kept until its upload succeeds, then deleted', async () => {
  const { dir, oldUp, oldNot } = fourBlocks();
  const bucket = new RecordingBucket(new FilesystemBucket({ directory: join(dir, '..', `bucket${n}`) }));
  const shipper = new Shipper({ dir, bucket, logger: quiet });
  bucket.failing = true;
  await assert.rejects(shipper.sync());
  assert.deepEqual(await applyRetention(dir, RETENTION, shipper, NOW, quiet), [], 'nothing uploaded, nothing deleted');
  bucket.failing = false;
  await shipper.sync();
  assert.deepEqual((await applyRetention(dir, RETENTION, shipper, NOW, quiet)).sort(), [oldUp, oldNot].sort());
  assert.equal(await bucket.exists(`${oldUp}/meta.json`), true, 'what was deleted locally is in the bucket');
  await shipper.sync();
  assert.equal(shipper.isUploaded(oldUp), false, 'the state forgets deleted blocks');
});
