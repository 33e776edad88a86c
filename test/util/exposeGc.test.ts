/**
 * exposeGc: V8's gc() without the command-line flag, and it returns garbage at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { exposeGc } from '../../src/util/exposeGc.js';

test('exposeGc returns a gc() that collects garbage the caller let go of', () => {
  const gc = exposeGc();
  assert.ok(gc !== undefined, 'gc() is available');
  // ~160 MB of small objects, live until dropped (so V8 cannot have collected them yet).
  let held: number[][] | undefined = [];
  for (let i = 0; i < 200_000; i++) held.push(Array.from({ length: 100 }, (_, k) => k + i + 0.5));
  const before = getHeapStatistics().used_heap_size;
  assert.ok(held.length === 200_000 && before > (100 << 20), `${before} bytes in use`);
  held = undefined;
  gc();
  const after = getHeapStatistics().used_heap_size;
  assert.ok(after < before / 3, `heap in use ${before} -> ${after} bytes`);
});
