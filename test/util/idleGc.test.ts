import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdleCollector, exposeGc } from '../../src/util/idleGc.js';

test('IdleCollector collects only once idle for its delay, and only above its threshold', async () => {
  let heap = 0;
  let gcs = 0;
  const c = new IdleCollector({ aboveBytes: 100, delayMs: 30, gc: () => gcs++, heapUsed: () => heap });
  // Below the threshold: nothing.
  heap = 50;
  c.begin();
  c.end();
  await sleep(60);
  assert.equal(gcs, 0);
  // Above it, idle: one collection after the delay, not before.
  heap = 500;
  c.begin();
  c.end();
  await sleep(5);
  assert.equal(gcs, 0, 'not before the delay');
  await sleep(60);
  assert.equal(gcs, 1);
  // A task that starts during the delay and is still running when it ends: no collection.
  c.begin();
  c.end();
  c.begin();
  await sleep(60);
  assert.equal(gcs, 1, 'no collection while a task runs');
  c.end();
  await sleep(60);
  assert.equal(gcs, 2, 'collected once the last task ended');
  // Two tasks at once: the first to end does not schedule.
  c.begin();
  c.begin();
  c.end();
  await sleep(60);
  assert.equal(gcs, 2);
  c.end();
  await sleep(60);
  assert.equal(gcs, 3);
});

test('with V8\'s gc, garbage a task left behind is returned once the thread is idle', async () => {
  assert.ok(exposeGc() !== undefined, 'gc() is available');
  const c = new IdleCollector({ aboveBytes: 64 << 20, delayMs: 10 });
  c.begin();
  // ~160 MB of small objects, live until the task ends (so V8 cannot have collected them yet).
  let held: number[][] | undefined = [];
  for (let i = 0; i < 200_000; i++) held.push(Array.from({ length: 100 }, (_, k) => k + i + 0.5));
  const before = getHeapStatistics().used_heap_size;
  assert.ok(held.length === 200_000 && before > (100 << 20), `${before} bytes in use`);
  held = undefined;
  c.end();
  await sleep(100);
  const after = getHeapStatistics().used_heap_size;
  assert.equal(c.collections, 1);
  assert.ok(after < before / 3, `heap in use ${before} -> ${after} bytes`);
});
