import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBucket } from '../../../src/blocks/objstore/filesystem.js';
import { PrefixedBucket } from '../../../src/blocks/objstore/bucket.js';
import { bucketConformance, bytes, collect } from './conformance.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-fsbucket-'));
after(() => rmSync(root, { recursive: true, force: true }));
const bucketDir = join(root, 'bucket');
const bucket = new FilesystemBucket({ directory: bucketDir });

bucketConformance('filesystem', () => bucket, () => root);

test('filesystem: objects are plain files; no staging files are left behind', async () => {
  await bucket.upload('plain/x/y', bytes(5));
  assert.ok(existsSync(join(bucketDir, 'plain', 'x', 'y')));
  assert.deepEqual(readdirSync(join(bucketDir, '.sluice-tmp')), [], 'temp dir is empty after uploads');
  assert.ok(!(await collect(bucket.iter(''))).includes('.sluice-tmp/'), 'the staging dir is not listed');
});

test('filesystem: a file on the same filesystem is hard-linked; the object outlives the source', async () => {
  const src = join(root, 'block-file');
  const data = bytes(3 << 20);
  writeFileSync(src, data);
  await bucket.upload('linked/chunks/000001', src);
  const obj = join(bucketDir, 'linked', 'chunks', '000001');
  assert.equal(statSync(obj).ino, statSync(src).ino, 'the object is the same inode as the source');
  rmSync(src);
  assert.deepEqual(new Uint8Array(readFileSync(obj)), data, 'retention deleting the local file leaves the object whole');
});

test('filesystem: a file on another filesystem is copied whole (paced in 1 MiB steps)', { skip: existsSync('/dev/shm') ? false : 'no /dev/shm (tmpfs) to copy from' }, async () => {
  const shm = mkdtempSync('/dev/shm/sluice-fsbucket-');
  try {
    const src = join(shm, 'block-file');
    const data = bytes((5 << 20) + 123);
    writeFileSync(src, data);
    await bucket.upload('copied/chunks/000001', src);
    const obj = join(bucketDir, 'copied', 'chunks', '000001');
    assert.notEqual(statSync(obj).ino, statSync(src).ino);
    assert.deepEqual(new Uint8Array(readFileSync(obj)), data);
    assert.deepEqual(readdirSync(join(bucketDir, '.sluice-tmp')), []);
  } finally {
    rmSync(shm, { recursive: true, force: true });
  }
});

test('filesystem: names that would escape the directory are refused', async () => {
  await assert.rejects(bucket.upload('../escape', bytes(1)), /invalid object name/);
  await assert.rejects(bucket.get('/abs'), /invalid object name/);
  await assert.rejects(bucket.get('a//b'), /invalid object name/);
  assert.ok(!existsSync(join(root, 'escape')));
});

test('filesystem: a failed upload (missing source file) leaves no object and no temp file', async () => {
  await assert.rejects(bucket.upload('failed/obj', join(root, 'does-not-exist')), (e: Error) => !/not found/.test(e.message));
  assert.equal(await bucket.exists('failed/obj'), false);
  assert.deepEqual(readdirSync(join(bucketDir, '.sluice-tmp')), []);
});

test('prefixed bucket: stores under the prefix and hides it from names', async () => {
  const p = new PrefixedBucket(bucket, '/tenant-a/');
  await p.upload('blk/meta.json', bytes(4));
  assert.ok(existsSync(join(bucketDir, 'tenant-a', 'blk', 'meta.json')));
  assert.equal(await p.exists('blk/meta.json'), true);
  assert.deepEqual(await collect(p.iter('')), ['blk/']);
  assert.deepEqual(await collect(p.iter('blk', { recursive: true })), ['blk/meta.json']);
});
