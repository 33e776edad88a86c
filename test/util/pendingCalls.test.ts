/**
 * PendingCalls: answers settle their own request only, and a worker that dies fails every
 * request still waiting (with the thread named) after the wrapper is told to forget it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { PendingCalls } from '../../src/util/pendingCalls.js';

test('answers settle the request with their id; unknown ids are ignored', async () => {
  const p = new PendingCalls<string>();
  const ids: number[] = [];
  const a = p.call((id) => ids.push(id));
  const b = p.call((id) => ids.push(id));
  assert.equal(ids.length, 2);
  assert.notEqual(ids[0], ids[1]);
  p.resolve(ids[1]!, 'second');
  p.reject(ids[0]!, 'boom');
  p.resolve(ids[0]!, 'late');
  p.resolve(999, 'nobody');
  assert.equal(await b, 'second');
  await assert.rejects(a, /boom/);
});

test('a worker that exits fails the waiting requests after gone()', async () => {
  const p = new PendingCalls<number>();
  const w = new Worker('setTimeout(() => process.exit(3), 50)', { eval: true });
  let forgotten = false;
  p.watch(w, 'test thread', () => { forgotten = true; });
  const waiting = p.call(() => {});
  await assert.rejects(waiting, (e: Error) => {
    assert.match(e.message, /test thread exited \(code 3\)/);
    assert.equal(forgotten, true);
    return true;
  });
});
