/**
 * The query threads' pool of large buffers (src/util/bufferPool.ts): a buffer given back is
 * handed out again (the same memory, so the thread never unmaps it), the smallest that fits
 * first; small buffers are never kept; the pool keeps at most its bound and lets everything go
 * once idle; a lease takes back what it handed out when released, and a selection built on a
 * lease reads right and reuses the memory of the query before it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool, MIN_POOLED_BYTES } from '../../src/util/bufferPool.js';
import { SeriesSetBuilder } from '../../src/query/seriesSet.js';

const MiB = 1 << 20;
const big = (): BufferPool => new BufferPool({ maxBytes: 64 * MiB, idleMs: 60_000 });

test('a buffer given back is handed out again, the smallest that fits; small ones are plain and never kept', () => {
  const pool = big();
  const small = pool.take(1000);
  assert.equal(small.length, 1000);
  pool.give(small);
  assert.equal(pool.bytesFree, 0, 'a buffer under MIN_POOLED_BYTES is not kept');

  const a = pool.take(3 * MiB);
  assert.equal(a.length, 4 * MiB, 'rounded up to a power of two');
  const b = pool.take(9 * MiB);
  assert.equal(b.length, 16 * MiB);
  pool.give(b);
  pool.give(a);
  assert.equal(pool.bytesFree, 20 * MiB);
  assert.equal(pool.take(2 * MiB), a, 'the smallest free buffer that fits');
  assert.equal(pool.take(5 * MiB), b);
  assert.equal(pool.bytesFree, 0);
  assert.notEqual(pool.take(MIN_POOLED_BYTES), a, 'none free: a new one');

  // A view into a buffer is not a buffer of the pool's.
  const c = pool.take(2 * MiB);
  pool.give(c.subarray(0, MiB));
  assert.equal(pool.bytesFree, 0);
});

test('the pool keeps at most maxBytes (the oldest go first) and lets all go once idle', async () => {
  const pool = new BufferPool({ maxBytes: 8 * MiB, idleMs: 30 });
  const [x, y, z] = [pool.take(4 * MiB), pool.take(4 * MiB), pool.take(4 * MiB)];
  pool.give(x);
  pool.give(y);
  pool.give(z);
  assert.equal(pool.bytesFree, 8 * MiB, 'bounded');
  assert.equal(pool.take(4 * MiB), y, 'x, the oldest, was let go');
  assert.equal(pool.take(4 * MiB), z);

  // Idle: after the last lease is released and idleMs pass, nothing is kept.
  const lease = pool.lease();
  const l = lease.take(2 * MiB);
  lease.release();
  assert.equal(pool.bytesFree, l.length);
  // A lease opened before the timer fires keeps the pool.
  const again = pool.lease();
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(pool.bytesFree, l.length, 'not idle while a lease is open');
  again.release();
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(pool.bytesFree, 0, 'idle: let go');
});

test('a lease takes back at release what it handed out, and hands out plain buffers after', () => {
  const pool = big();
  const lease = pool.lease();
  const a = lease.take(2 * MiB);
  const b = lease.take(2 * MiB);
  lease.give(a);
  assert.equal(pool.bytesFree, 2 * MiB, 'given back at once');
  lease.give(new Uint8Array(2 * MiB));
  assert.equal(pool.bytesFree, 2 * MiB, 'a buffer the lease did not hand out is not taken');
  lease.release();
  assert.equal(pool.bytesFree, 4 * MiB, 'b back at release');
  lease.release();
  assert.equal(pool.bytesFree, 4 * MiB, 'release twice gives nothing twice');
  const late = lease.take(2 * MiB);
  assert.ok(late !== a && late !== b, 'after release: a plain buffer');
  assert.equal(pool.bytesFree, 4 * MiB);
});

test('a selection built on a lease reads the bytes it was given, and the next query reuses its memory', () => {
  const pool = big();
  const build = (seed: number): { bytes: Uint8Array; release: () => void } => {
    const lease = pool.lease();
    const set = new SeriesSetBuilder({ buffers: lease });
    const chunk = new Uint8Array(1000);
    // 3000 series of one 1000-byte chunk each: ~3 MB, grown through 1, 2 and 4 MiB.
    for (let i = 0; i < 3000; i++) {
      const e = set.add([['__name__', 'x'], ['i', String(i)]]);
      chunk.fill((i + seed) & 0xff);
      set.chunk(e, chunk, 0, chunk.length);
    }
    const s = set.build();
    assert.equal(s.bytes.length, 3000 * 1000);
    for (let i = 0; i < 3000; i++) {
      const from = s.chunkOffs[i]!;
      assert.equal(s.chunkOffs[i + 1]! - from, 1000);
      assert.ok(s.bytes.subarray(from, from + 1000).every((x) => x === ((i + seed) & 0xff)), `series ${i}'s chunk`);
    }
    assert.ok(pool.bytesFree >= 3 * MiB, 'the outgrown 1 and 2 MiB steps went back at once');
    return { bytes: s.bytes, release: () => lease.release() };
  };
  const first = build(1);
  const firstMemory = first.bytes.buffer;
  first.release();
  const second = build(2);
  assert.equal(second.bytes.buffer, firstMemory, 'the second query reads from the first one\'s memory');
  second.release();
});
