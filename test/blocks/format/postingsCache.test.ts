import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockReader, localBlockFiles, type BlockFiles } from '../../../src/blocks/reader.js';
import { writeBlock } from '../../../src/blocks/writer.js';
import { intersect } from '../../../src/blocks/index/postings.js';
import { PostingsCache } from '../../../src/blocks/index/postingsCache.js';
import type { RangeReader } from '../../../src/blocks/index/rangereader.js';
import type { Matcher } from '../../../src/model/matchers.js';
import { Rng } from '../../helpers/prng.js';
import { generate } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-postings-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));

const H = 3600_000;
const MINT = 1_700_000_000_000 - (1_700_000_000_000 % (2 * H));
const MAXT = MINT + 2 * H;

/** sortedRefs draws `n` distinct refs below `max`, sorted. */
function sortedRefs(rng: Rng, n: number, max: number): Uint32Array {
  const s = new Set<number>();
  while (s.size < n) s.add(Math.floor(rng.next() * max));
  return Uint32Array.from([...s].sort((a, b) => a - b));
}

test('intersect equals a set intersection, on lists of similar and of very different lengths', () => {
  const rng = new Rng(7);
  for (let round = 0; round < 300; round++) {
    const max = 1 + Math.floor(rng.next() * 200_000);
    const na = Math.min(max, Math.floor(rng.next() * 300));
    // Half the rounds: a list 16-1000x longer, so the galloping path runs.
    const nb = Math.min(max, round % 2 === 0 ? Math.floor(rng.next() * 300) : na * (16 + Math.floor(rng.next() * 1000)));
    const a = sortedRefs(rng, na, max);
    const b = sortedRefs(rng, nb, max);
    // Make some refs common for sure.
    const bs = new Set(b);
    const want = a.filter((x) => bs.has(x));
    assert.deepEqual([...intersect(a, b)], [...want], `round ${round}: ${na} x ${nb}`);
    assert.deepEqual([...intersect(b, a)], [...want], `round ${round} swapped`);
  }
  const long = Uint32Array.from({ length: 100_000 }, (_, i) => i * 2);
  assert.deepEqual([...intersect(Uint32Array.of(0, 3, 199_998, 199_999, 500_000), long)], [0, 199_998]);
});

test('PostingsCache keeps lists within its byte budget, least recently used out first', () => {
  const c = new PostingsCache(4096);
  const s = c.scope();
  const list = (n: number, v: number) => new Uint32Array(n).fill(v);
  c.set(s, 1, list(100, 1)); // 400 bytes each
  c.set(s, 2, list(100, 2));
  assert.equal(c.bytes, 800);
  assert.equal(c.get(s, 1)?.[0], 1);
  for (let i = 3; i <= 11; i++) c.set(s, i, list(100, i));
  assert.ok(c.bytes <= 4096, `${c.bytes} bytes held`);
  assert.equal(c.get(s, 2), undefined, 'the least recently used list went first');
  assert.equal(c.get(s, 1)?.[0], 1, 'a list used since stays');
  c.set(s, 99, list(200, 9)); // 800 bytes > budget / 8: not kept
  assert.equal(c.get(s, 99), undefined);
  const other = c.scope();
  c.set(other, 1, list(10, 5));
  assert.equal(c.get(other, 1)?.[0], 5, 'scopes do not collide');
  c.drop(s);
  assert.equal(c.get(s, 1), undefined);
  assert.equal(c.bytes, 40, 'only the other scope is left');
  assert.ok(c.hits >= 3 && c.misses >= 3);
});

test('a block read with a postings cache reads no postings the second time, and answers the same', async () => {
  const fx = generate(21, { numSeries: 2000, mint: MINT, maxt: MAXT, interval: 60_000 });
  const parent = join(root, 'b');
  mkdirSync(parent, { recursive: true });
  const res = await writeBlock(parent, {
    mint: MINT, maxt: MAXT, symbols: fx.symbols,
    series: (async function* () { for (const s of fx.series) yield s; })(),
  });
  let indexReads = 0;
  const local = localBlockFiles(res.dir);
  const counting: BlockFiles = {
    ...local,
    async open(rel): Promise<RangeReader> {
      const r = await local.open(rel);
      return { size: r.size, read: (o, l) => { if (rel === 'index') indexReads++; return r.read(o, l); }, close: () => r.close() };
    },
  };
  const cache = new PostingsCache(8 << 20);
  const br = await BlockReader.open(counting, cache);
  try {
    const target = fx.series[777]!;
    // Two matchers by equality, one by regexp over the values of a name.
    const [n0, v0] = target.labels[0]!;
    const [n1, v1] = target.labels[1]!;
    const ms: Matcher[] = [{ type: '=', name: n0, value: v0 }, { type: '=', name: n1, value: v1 }, { type: '=~', name: n1, value: `${v1}|nothing` }];
    const pick = async () => {
      const out: string[] = [];
      for await (const s of br.select(ms, -Infinity, Infinity)) out.push(JSON.stringify(s.labels) + s.chunks.map((c) => Buffer.from(c.data).toString('base64')).join());
      return out;
    };
    const uncached = await BlockReader.open(local);
    const want: string[] = [];
    for await (const s of uncached.select(ms, -Infinity, Infinity)) want.push(JSON.stringify(s.labels) + s.chunks.map((c) => Buffer.from(c.data).toString('base64')).join());
    await uncached.close();
    assert.ok(want.length >= 1 && want.some((w) => w.startsWith(JSON.stringify(target.labels))));

    const r0 = indexReads;
    assert.deepEqual(await pick(), want);
    const first = indexReads - r0;
    assert.ok(cache.bytes > 0, 'the lists read are kept');
    const r1 = indexReads;
    const h1 = cache.hits;
    assert.deepEqual(await pick(), want);
    const second = indexReads - r1;
    assert.ok(cache.hits > h1, 'the second select is answered from the cache');
    assert.ok(second < first, `second select: ${second} index reads, first: ${first}`);
    // The second select reads only the series entries: one coalesced read here.
    assert.ok(second <= 1, `second select: ${second} index reads`);
  } finally {
    await br.close();
  }
  assert.equal(cache.bytes, 0, 'closing the block drops its lists');
});
