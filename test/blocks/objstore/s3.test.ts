import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bucket } from '../../../src/blocks/objstore/bucket.js';
import { newBucket, parseObjstoreConfig } from '../../../src/blocks/objstore/config.js';
import { useVirtualHost } from '../../../src/blocks/objstore/s3.js';
import { startS3Server, type TestS3Server } from '../../helpers/s3server.js';
import { bucketConformance, bytes } from './conformance.js';

const MiB = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'sluice-s3bucket-'));
let server: TestS3Server;
let bucket: Bucket;
let v1: Bucket;

before(async () => {
  server = await startS3Server();
  bucket = newBucket(parseObjstoreConfig(server.yaml({ part_size: 5 * MiB, put_user_metadata: '{team: infra}' })));
  v1 = newBucket(parseObjstoreConfig(server.yaml({ list_objects_version: 'v1' })));
});
after(async () => {
  await bucket.close();
  await v1.close();
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

bucketConformance('s3', () => bucket, () => root);
bucketConformance('s3 (ListObjects v1)', () => v1, () => root);

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('base64');

test('s3: a file over part_size goes up in parts, streamed, with Content-MD5 per part', async () => {
  const data = bytes(12 * MiB + 12345, 7);
  const file = join(root, 'big');
  writeFileSync(file, data);
  await bucket.upload('mp/big', file);

  const parts = server.matching('PUT', 'mp/big').filter((r) => /partNumber=/.test(r.url));
  assert.equal(parts.length, 3, '12 MiB in 5 MiB parts');
  assert.deepEqual(parts.map((p) => Number(p.headers['content-length'])), [5 * MiB, 5 * MiB, 2 * MiB + 12345]);
  assert.deepEqual(parts.map((p) => p.headers['content-md5']), [
    md5(data.subarray(0, 5 * MiB)), md5(data.subarray(5 * MiB, 10 * MiB)), md5(data.subarray(10 * MiB)),
  ]);
  assert.equal(server.matching('POST', 'mp/big').length, 2, 'create + complete');

  assert.equal((await bucket.attributes('mp/big')).size, data.length);
  const got = await bucket.get('mp/big');
  assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'));
  const across = await bucket.getRange('mp/big', 5 * MiB - 10, 20);
  assert.ok(Buffer.from(across).equals(Buffer.from(data.subarray(5 * MiB - 10, 5 * MiB + 10))), 'range across a part boundary');
});

test('s3: bytes over part_size also go up in parts; small ones in one PUT with MD5 and user metadata', async () => {
  const data = bytes(6 * MiB, 9);
  await bucket.upload('mp/bytes', data);
  assert.equal(server.matching('PUT', 'mp/bytes').filter((r) => /partNumber=/.test(r.url)).length, 2);
  assert.ok(Buffer.from(await bucket.get('mp/bytes')).equals(Buffer.from(data)));

  const small = bytes(1000, 3);
  await bucket.upload('single/obj', small);
  const puts = server.matching('PUT', 'single/obj');
  assert.equal(puts.length, 1);
  assert.ok(!/partNumber=/.test(puts[0]!.url));
  assert.equal(puts[0]!.headers['content-md5'], md5(small));
  assert.equal(puts[0]!.headers['x-amz-meta-team'], 'infra');
  assert.equal(puts[0]!.headers['content-encoding'], undefined, 'no aws-chunked framing');
});

test('s3: disable_multipart sends one PUT whatever the size', async () => {
  const b = newBucket(parseObjstoreConfig(server.yaml({ part_size: 5 * MiB, disable_multipart: true })));
  try {
    await b.upload('nomp/obj', bytes(6 * MiB, 4));
    assert.equal(server.matching('PUT', 'nomp/obj').length, 1);
    assert.equal((await b.attributes('nomp/obj')).size, 6 * MiB);
  } finally {
    await b.close();
  }
});

test('s3: a stopped server is Unavailable, and the same client works after a restart', async () => {
  const b = newBucket(parseObjstoreConfig(server.yaml()), { s3: { partAttempts: 2, retryDelayMs: 10, maxAttempts: 1 } });
  try {
    await b.upload('outage/before', bytes(10));
    await server.stop();
    await assert.rejects(b.upload('outage/during', bytes(10)), (e: { code?: string }) => e.code === 'E_UNAVAILABLE');
    await assert.rejects(b.exists('outage/before'), (e: { code?: string }) => e.code === 'E_UNAVAILABLE');
    await server.start();
    assert.equal(await b.exists('outage/before'), true, 'data survived the restart');
    await b.upload('outage/after', bytes(10));
    assert.equal(await b.exists('outage/after'), true);
  } finally {
    if (!server.running) await server.start();
    await b.close();
  }
});

test('s3: a missing bucket is an error, not "object not found"', async () => {
  const b = newBucket(parseObjstoreConfig(server.yaml().replace(`bucket: ${server.bucket}`, 'bucket: no-such-bucket')));
  try {
    await assert.rejects(b.get('x'), /bucket does not exist/);
  } finally {
    await b.close();
  }
});

test('s3: bucket addressing follows minio-go: virtual hosts only for AWS/Google, path for the rest', () => {
  const c = (endpoint: string, bucketLookupType: 'auto' | 'path' | 'virtual-hosted' = 'auto', b = 'blocks', insecure = false) =>
    useVirtualHost({ endpoint, bucketLookupType, bucket: b, insecure });
  assert.equal(c('s3.eu-west-1.amazonaws.com'), true);
  assert.equal(c('s3.eu-west-1.amazonaws.com', 'path'), false);
  assert.equal(c('s3.eu-west-1.amazonaws.com', 'auto', 'my.dotted.bucket'), false, 'dotted bucket over TLS');
  assert.equal(c('127.0.0.1:9000'), false);
  assert.equal(c('localhost:9000'), false);
  assert.equal(c('minio.storage.svc:9000'), false);
  assert.equal(c('minio.storage.svc:9000', 'virtual-hosted'), true);
});

test('s3: a part answered 500 is sent again; the upload completes', async () => {
  const b = newBucket(parseObjstoreConfig(server.yaml({ part_size: 5 * MiB })), { s3: { partAttempts: 3, retryDelayMs: 10 } });
  try {
    const data = bytes(11 * MiB, 11);
    const file = join(root, 'retry-part');
    writeFileSync(file, data);
    server.inject({ method: 'PUT', url: /\/retry\/obj\?.*partNumber=2/, status: 500, times: 1 });
    await b.upload('retry/obj', file);
    const parts = server.matching('PUT', 'retry/obj').map((r) => /partNumber=(\d+)/.exec(r.url)?.[1]);
    assert.deepEqual(parts, ['1', '2', '2', '3'], 'part 2 sent twice');
    assert.ok(Buffer.from(await b.get('retry/obj')).equals(Buffer.from(data)));
  } finally {
    await b.close();
  }
});

test('s3: a part that keeps failing aborts the multipart upload and leaves no object', async () => {
  const b = newBucket(parseObjstoreConfig(server.yaml({ part_size: 5 * MiB })), { s3: { partAttempts: 2, retryDelayMs: 10 } });
  try {
    server.inject({ method: 'PUT', url: /\/abort\/obj\?.*partNumber=2/, status: 503, times: 2 });
    await assert.rejects(b.upload('abort/obj', bytes(11 * MiB, 12)), (e: { code?: string }) => e.code === 'E_UNAVAILABLE');
    const aborts = server.matching('DELETE', 'abort/obj').filter((r) => /uploadId=/.test(r.url));
    assert.equal(aborts.length, 1, 'AbortMultipartUpload sent');
    assert.equal(server.matching('POST', 'abort/obj').filter((r) => /uploadId=/.test(r.url)).length, 0, 'never completed');
    assert.equal(await b.exists('abort/obj'), false);
  } finally {
    await b.close();
  }
});
