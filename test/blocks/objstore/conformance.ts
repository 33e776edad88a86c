/**
 * The Bucket contract as tests, run against every backend (filesystem.test.ts, s3.test.ts).
 * Each test works under its own name prefix so backends can share one bucket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNotFound, type Bucket } from '../../../src/blocks/objstore/bucket.js';

/** collect drains an iter() into an array. */
export async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const n of it) out.push(n);
  return out;
}

/** bytes makes `n` deterministic non-repeating-ish bytes. */
export function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0; x = (x ^ (x >>> 17)) >>> 0; x = (x ^ (x << 5)) >>> 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** bucketConformance registers the contract tests for the bucket `get()` returns. */
export function bucketConformance(kind: string, get: () => Bucket, scratchDir: () => string): void {
  const eq = (a: Uint8Array, b: Uint8Array, msg?: string): void => assert.ok(Buffer.from(a).equals(Buffer.from(b)), msg);

  test(`${kind}: upload bytes and a file, read them back whole and by range`, async () => {
    const b = get();
    const data = bytes(10_000);
    await b.upload('rw/obj-bytes', data);
    const file = join(scratchDir(), 'src-file');
    writeFileSync(file, data);
    await b.upload('rw/obj-file', file);
    for (const name of ['rw/obj-bytes', 'rw/obj-file']) {
      eq(await b.get(name), data, name);
      assert.equal(await b.exists(name), true);
      const attrs = await b.attributes(name);
      assert.equal(attrs.size, data.length);
      assert.ok(Math.abs(attrs.lastModified.getTime() - Date.now()) < 60_000, 'lastModified is recent');
    }
    const b2 = get();
    eq(await b2.getRange('rw/obj-bytes', 100, 50), data.subarray(100, 150), 'middle range');
    eq(await b2.getRange('rw/obj-bytes', 9_990, -1), data.subarray(9_990), 'to the end');
    eq(await b2.getRange('rw/obj-bytes', 9_990, 100), data.subarray(9_990), 'clipped at the end');
    assert.equal((await b2.getRange('rw/obj-bytes', 10_000, 10)).length, 0, 'offset at the end');
    assert.equal((await b2.getRange('rw/obj-bytes', 5, 0)).length, 0, 'zero length');
  });

  test(`${kind}: empty object and overwrite`, async () => {
    const b = get();
    await b.upload('ow/empty', new Uint8Array(0));
    assert.equal((await b.get('ow/empty')).length, 0);
    assert.equal((await b.attributes('ow/empty')).size, 0);
    await b.upload('ow/x', bytes(10, 1));
    await b.upload('ow/x', bytes(20, 2));
    eq(await b.get('ow/x'), bytes(20, 2), 'second upload replaced the first');
  });

  test(`${kind}: missing objects are reported as not found`, async () => {
    const b = get();
    assert.equal(await b.exists('nf/nothing'), false);
    await assert.rejects(b.get('nf/nothing'), (e) => isNotFound(e));
    await assert.rejects(b.getRange('nf/nothing', 0, 10), (e) => isNotFound(e));
    await assert.rejects(b.attributes('nf/nothing'), (e) => isNotFound(e));
    await b.delete('nf/nothing'); // not an error
  });

  test(`${kind}: iter lists one level with dir/ entries, or everything recursively, sorted`, async () => {
    const b = get();
    for (const n of ['it/a/1', 'it/a/b/2', 'it/a/b/3', 'it/c', 'it/a.x']) await b.upload(n, bytes(3));
    assert.deepEqual(await collect(b.iter('it')), ['it/a.x', 'it/a/', 'it/c']);
    assert.deepEqual(await collect(b.iter('it/')), ['it/a.x', 'it/a/', 'it/c']);
    assert.deepEqual(await collect(b.iter('it/a')), ['it/a/1', 'it/a/b/']);
    assert.deepEqual(await collect(b.iter('it', { recursive: true })), ['it/a.x', 'it/a/1', 'it/a/b/2', 'it/a/b/3', 'it/c']);
    assert.deepEqual(await collect(b.iter('it/none')), []);
    assert.ok((await collect(b.iter(''))).includes('it/'), 'root lists it/');
  });

  test(`${kind}: delete removes the object and directories it empties`, async () => {
    const b = get();
    for (const n of ['del/a/b/1', 'del/a/b/2', 'del/a/keep']) await b.upload(n, bytes(3));
    await b.delete('del/a/b/1');
    assert.equal(await b.exists('del/a/b/1'), false);
    assert.deepEqual(await collect(b.iter('del/a')), ['del/a/b/', 'del/a/keep']);
    await b.delete('del/a/b/2');
    assert.deepEqual(await collect(b.iter('del/a')), ['del/a/keep'], 'empty del/a/b/ is gone');
  });
}
