/**
 * Property tests of the index structures series GC changes, against plain reference models on
 * seeded random operations: TenantIndex (postings stay sorted and exact under adds with reused
 * refs and batched removals; values and names left empty disappear; one-ref postings are bare
 * numbers) and SeriesMap (backward-shift removal keeps every remaining ref findable, with heavy
 * hash collisions and wrap-around).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostingsList, TenantIndex, postingView } from '../../src/shards/postings.js';
import { SeriesMap } from '../../src/shards/seriesMap.js';

/** mulberry32: a small seeded PRNG (SEED = 1 unless a test says otherwise). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Pairs = [string[], string[]];

/** checkIndex compares the index with the reference: live ref → its label pairs. */
function checkIndex(idx: TenantIndex, ref: Map<number, Pairs>): void {
  const want = new Map<string, Map<string, number[]>>();
  for (const [r, [names, values]] of ref) {
    for (let i = 0; i < names.length; i++) {
      let vals = want.get(names[i]!);
      if (vals === undefined) want.set(names[i]!, vals = new Map());
      let l = vals.get(values[i]!);
      if (l === undefined) vals.set(values[i]!, l = []);
      l.push(r);
    }
  }
  assert.deepEqual([...idx.byName.keys()].sort(), [...want.keys()].sort(), 'label names');
  for (const [name, vals] of want) {
    const got = idx.byName.get(name)!;
    assert.deepEqual([...got.keys()].sort(), [...vals.keys()].sort(), `values of ${name}`);
    for (const [value, refs] of vals) {
      const p = got.get(value)!;
      if (refs.length === 1) assert.equal(p, refs[0], `${name}=${value} is a bare ref`);
      else assert.ok(p instanceof PostingsList, `${name}=${value} is a list`);
      assert.deepEqual(Array.from(postingView(p)), refs.sort((a, b) => a - b), `${name}=${value}`);
    }
  }
  assert.deepEqual(Array.from(idx.all.view()), [...ref.keys()].sort((a, b) => a - b), 'all refs');
}

test('TenantIndex: random adds (fresh and reused refs) and batched removals match a reference model', () => {
  for (const seed of [1, 2, 3]) {
    const rand = rng(seed);
    const idx = new TenantIndex();
    const live = new Uint8Array(4096);
    const model = new Map<number, Pairs>();
    const free: number[] = [];
    let next = 0;
    const pairsOf = (r: number, names: string[], values: string[]): void => {
      const p = model.get(r) ?? removed.get(r)!;
      names.push(...p[0]);
      values.push(...p[1]);
    };
    const removed = new Map<number, Pairs>();
    for (let step = 0; step < 60; step++) {
      // Add a burst: refs from the free pool (smaller than the newest) or fresh ones.
      const adds = Math.floor(rand() * 40);
      for (let k = 0; k < adds; k++) {
        const r = free.length > 0 && rand() < 0.6 ? free.splice(Math.floor(rand() * free.length), 1)[0]! : next++;
        const names = ['__name__', 'job', 'pod'];
        const values = [`m${Math.floor(rand() * 3)}`, `j${Math.floor(rand() * 5)}`, `p${r}-${step}`];
        if (rand() < 0.3) { names.push('zone'); values.push(`z${Math.floor(rand() * 2)}`); }
        idx.add(r, names, values);
        model.set(r, [names, values]);
        live[r] = 1;
      }
      if (rand() < 0.5) checkIndex(idx, model); // reads sort the unsorted tails in between
      // Remove a random batch (sometimes most of the series, sometimes none).
      const frac = rand();
      const batch = [...model.keys()].filter(() => rand() < frac);
      removed.clear();
      for (const r of batch) { removed.set(r, model.get(r)!); model.delete(r); live[r] = 0; }
      idx.remove(Int32Array.from(batch), batch.length, live, pairsOf);
      free.push(...batch);
      checkIndex(idx, model);
    }
  }
});

test('TenantIndex.remove is one pass per touched list: 100k series, half removed in one batch, well under a second', () => {
  const idx = new TenantIndex();
  const n = 100_000;
  const live = new Uint8Array(n).fill(1);
  for (let r = 0; r < n; r++) idx.add(r, ['__name__', 'job', 'pod'], ['up', `j${r % 10}`, `p${r}`]);
  const batch = Int32Array.from({ length: n / 2 }, (_, k) => 2 * k + 1);
  for (const r of batch) live[r] = 0;
  const started = performance.now();
  idx.remove(batch, batch.length, live, (r, names, values) => { names.push('__name__', 'job', 'pod'); values.push('up', `j${r % 10}`, `p${r}`); });
  const ms = performance.now() - started;
  assert.equal(idx.all.n, n / 2);
  assert.equal(postingView(idx.byName.get('__name__')!.get('up')!).length, n / 2);
  assert.equal(idx.byName.get('pod')!.size, n / 2);
  // Removing one ref at a time from a 100k list would move ~2.5e9 refs (seconds); batched it is O(n).
  assert.ok(ms < 1000, `${ms} ms`);
});

test('SeriesMap: random inserts and removals with colliding hashes keep every live ref findable', () => {
  for (const seed of [1, 7, 42]) {
    const rand = rng(seed);
    const map = new SeriesMap(8);
    const hashOf = new Map<number, number>();
    const hashLoOf = (r: number): number => hashOf.get(r)!;
    let next = 0;
    const find = (h: number, r: number): boolean => {
      for (let c = map.probeStart(h); c !== -1; c = map.probeNext()) if (c === r) return true;
      return false;
    };
    for (let step = 0; step < 3000; step++) {
      if (hashOf.size === 0 || rand() < 0.55) {
        const r = next++;
        const h = Math.floor(rand() * 6) * 0x1000 + (rand() < 0.1 ? r : 0); // few distinct hashes: long runs
        hashOf.set(r, h);
        map.insert(h, r, hashLoOf);
      } else {
        const keys = [...hashOf.keys()];
        const r = keys[Math.floor(rand() * keys.length)]!;
        assert.ok(map.remove(hashOf.get(r)!, r, hashLoOf));
        assert.ok(!find(hashOf.get(r)!, r), `ref ${r} still found after removal`);
        assert.equal(map.remove(hashOf.get(r)!, r, hashLoOf), false, 'a second removal finds nothing');
        hashOf.delete(r);
      }
      if (step % 50 === 0 || step === 2999) {
        assert.equal(map.size, hashOf.size);
        for (const [r, h] of hashOf) assert.ok(find(h, r), `ref ${r} (hash ${h}) lost at step ${step}`);
      }
    }
  }
});
