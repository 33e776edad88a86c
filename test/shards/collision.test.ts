/**
 * Head lookup never trusts the hash alone: label sets with the same 64-bit hash (forged here)
 * stay distinct series, and lengths that are not a multiple of 4 compare their tail bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Head } from '../../src/shards/head.js';
import { encodeLabelBlob } from '../../src/model/labels.js';

function place(blob: Uint8Array): { bytes: Uint8Array; u32: Uint32Array; off: number } {
  const buf = new ArrayBuffer(1024);
  const bytes = new Uint8Array(buf);
  bytes.set(blob, 64);
  return { bytes, u32: new Uint32Array(buf), off: 64 };
}

test('same hash, different labels: two series, each found by its own labels', () => {
  const head = new Head({ blockDurationMs: 7_200_000, onSegment: () => {} });
  const t = head.tenantId('t');
  const blobs = [
    encodeLabelBlob([['__name__', 'a'], ['job', 'x']]),
    encodeLabelBlob([['__name__', 'a'], ['job', 'y']]),   // same length, last byte differs
    encodeLabelBlob([['__name__', 'a'], ['job', 'xyz']]), // other length
  ];
  const refs = blobs.map((bl) => {
    const s = place(bl);
    assert.equal(head.lookup(t, 42, 7, s.bytes, s.u32, s.off, bl.length), -1);
    return head.create(t, 42, 7, s.bytes, s.off, bl.length);
  });
  assert.equal(new Set(refs).size, 3);
  blobs.forEach((bl, i) => {
    const s = place(bl);
    assert.equal(head.lookup(t, 42, 7, s.bytes, s.u32, s.off, bl.length), refs[i]);
  });
  const other = head.tenantId('u');
  const s = place(blobs[0]!);
  assert.equal(head.lookup(other, 42, 7, s.bytes, s.u32, s.off, blobs[0]!.length), -1, 'tenant is part of identity');
});
