import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockReader, localBlockFiles, type BlockFiles } from '../../../src/blocks/reader.js';
import { writeBlock } from '../../../src/blocks/writer.js';
import { parseMeta } from '../../../src/blocks/meta.js';
import { ulidTime } from '../../../src/blocks/ulid.js';
import { compareLabelsUtf8, compareUtf8, sortSymbols } from '../../../src/blocks/index/order.js';
import { refSegment } from '../../../src/blocks/chunks/format.js';
import type { RangeReader } from '../../../src/blocks/index/rangereader.js';
import { compileMatcher, type Matcher } from '../../../src/model/matchers.js';
import { isSluiceError } from '../../../src/errors.js';
import { Rng } from '../../helpers/prng.js';
import { decodeChunk, encodeChunks, generate, keyOf, type Fixture, type FixtureSeries } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-blocks-rt-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => {
  const d = join(root, `d${dirs++}`);
  return d;
};

const H = 3600_000;
const MINT = 1_700_000_000_000 - (1_700_000_000_000 % (2 * H));
const MAXT = MINT + 2 * H;

async function write(fx: Fixture, parent: string, extra: { segmentBytes?: number; thanos?: boolean } = {}) {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(parent, { recursive: true });
  return writeBlock(parent, {
    mint: MINT,
    maxt: MAXT,
    symbols: fx.symbols,
    series: (async function* () {
      for (const s of fx.series) yield s;
    })(),
    ...(extra.thanos === false ? {} : { thanos: { labels: { tenant_id: 'team-a', replica: 'r0' }, source: 'receive' } }),
    ...(extra.segmentBytes === undefined ? {} : { segmentBytes: extra.segmentBytes }),
  });
}

/** readAll selects every series of a block and decodes its samples. */
async function readAll(br: BlockReader, matchers: Matcher[] = [], mint = -Infinity, maxt = Infinity) {
  const out: { labels: [string, string][]; samples: ReturnType<typeof decodeChunk> }[] = [];
  for await (const s of br.select(matchers, mint, maxt)) {
    const samples = s.chunks.flatMap((c) => {
      const d = decodeChunk(c.data);
      assert.equal(d[0]!.t, c.minT, 'chunk minT');
      assert.equal(d[d.length - 1]!.t, c.maxT, 'chunk maxT');
      return d;
    });
    out.push({ labels: s.labels, samples });
  }
  return out;
}

test('round trip: every series, chunk and sample comes back bit for bit; meta.json is complete', async () => {
  const fx = generate(11, { numSeries: 600, mint: MINT, maxt: MAXT, interval: 15_000, unicode: true });
  const parent = newDir();
  const t0 = Date.now();
  const res = await write(fx, parent);
  assert.ok(existsSync(res.dir) && !existsSync(`${res.dir}.tmp`), 'renamed from .tmp');
  assert.ok(Math.abs(ulidTime(res.ulid) - t0) < 60_000, 'ULID carries the write time');

  const meta = parseMeta(readFileSync(join(res.dir, 'meta.json'), 'utf8'));
  assert.deepEqual(meta, res.meta);
  assert.equal(meta.minTime, MINT);
  assert.equal(meta.maxTime, MAXT);
  assert.deepEqual(meta.stats, { numSamples: fx.numSamples, numSeries: fx.series.length, numChunks: fx.numChunks });
  assert.deepEqual(meta.compaction, { level: 1, sources: [res.ulid] });
  assert.equal(meta.thanos?.source, 'receive');
  assert.deepEqual(meta.thanos?.labels, { replica: 'r0', tenant_id: 'team-a' });
  assert.deepEqual(meta.thanos?.downsample, { resolution: 0 });
  assert.deepEqual(meta.thanos?.segment_files, ['000001']);
  // files: every file with its real size, sorted; meta.json without a size.
  const files = meta.thanos!.files!;
  assert.deepEqual(files.map((f) => f.rel_path), ['chunks/000001', 'index', 'meta.json']);
  for (const f of files.slice(0, -1)) assert.equal(f.size_bytes, statSync(join(res.dir, f.rel_path)).size, f.rel_path);
  assert.equal(files[2]!.size_bytes, undefined);
  assert.deepEqual(readdirSync(res.dir).sort(), ['chunks', 'index', 'meta.json']);

  const br = await BlockReader.openDir(res.dir);
  try {
    const got = await readAll(br);
    assert.equal(got.length, fx.series.length);
    for (let i = 0; i < got.length; i++) {
      const want = fx.series[i]!;
      assert.deepEqual(got[i]!.labels, want.labels, `series ${i} labels (and label order)`);
      assert.deepEqual(got[i]!.samples, want.samples, `series ${i} samples`);
    }
    // Chunk bytes are written unchanged.
    let i = 0;
    for await (const s of br.select([], -Infinity, Infinity)) {
      const want = fx.series[i++]!;
      assert.deepEqual(s.chunks.map((c) => Buffer.from(c.data).toString('hex')), want.chunks.map((c) => Buffer.from(c.data).toString('hex')));
    }
    // Label names and values as the writer saw them, in byte order.
    const names = new Map<string, Set<string>>();
    for (const s of fx.series) for (const [n, v] of s.labels) (names.get(n) ?? names.set(n, new Set()).get(n)!).add(v);
    assert.deepEqual(br.index.labelNames(), [...names.keys()].sort(compareUtf8));
    for (const [n, vs] of names) assert.deepEqual(br.index.labelValues(n), [...vs].sort(compareUtf8), `values of ${n}`);
    assert.deepEqual(br.index.labelValues('no_such_label'), []);
  } finally {
    await br.close();
  }
});

test('select: matchers and time ranges agree with a brute-force evaluation', async () => {
  const fx = generate(12, { numSeries: 400, mint: MINT, maxt: MAXT, interval: 30_000 });
  const res = await write(fx, newDir());
  const br = await BlockReader.openDir(res.dir);
  const cases: Matcher[][] = [
    [{ type: '=', name: '__name__', value: 'up' }],
    [{ type: '=', name: '__name__', value: 'up' }, { type: '!=', name: 'job', value: 'prod' }],
    [{ type: '=~', name: 'job', value: 'prod.*|dev' }],
    [{ type: '!~', name: 'zone', value: 'a.*' }, { type: '=~', name: '__name__', value: '.+' }],
    [{ type: '=', name: 'pod', value: '' }],
    [{ type: '=~', name: 'pod', value: '.*' }, { type: '=', name: '__name__', value: 'go_goroutines' }],
    [{ type: '!=', name: 'mode', value: '' }],
    [{ type: '=', name: 'nonexistent', value: 'x' }],
    [{ type: '=', name: '__name__', value: 'nope' }],
    [],
  ];
  try {
    for (const ms of cases) {
      const cms = ms.map(compileMatcher);
      for (const [mint, maxt] of [[-Infinity, Infinity], [MINT + 30 * 60_000, MINT + 31 * 60_000], [MAXT - 1000, MAXT + H]] as const) {
        const want: FixtureSeries[] = fx.series.filter((s) =>
          cms.every((m) => m.matches(s.labels.find(([n]) => n === m.name)?.[1] ?? '')) &&
          s.chunks.some((c) => c.maxT >= mint && c.minT <= maxt));
        const got = await readAll(br, ms, mint, maxt);
        assert.deepEqual(got.map((g) => keyOf(g.labels)), want.map((w) => keyOf(w.labels)), `${JSON.stringify(ms)} [${mint}, ${maxt}]`);
        for (let i = 0; i < got.length; i++) {
          // Every returned chunk overlaps the range; together they cover the range's samples.
          const inRange = want[i]!.samples.filter((s) => s.t >= mint && s.t <= maxt);
          const gotIn = got[i]!.samples.filter((s) => s.t >= mint && s.t <= maxt);
          assert.deepEqual(gotIn, inRange);
        }
      }
    }
    const up = await br.index.postings('__name__', 'up');
    assert.equal(up.length, fx.series.filter((s) => s.labels[0]![1] === 'up').length);
    assert.ok(up.every((r, i) => i === 0 || r > up[i - 1]!), 'postings ascending');
  } finally {
    await br.close();
  }
});

test('small segment size: chunks span several segment files with correct refs', async () => {
  const fx = generate(13, { numSeries: 300, mint: MINT, maxt: MAXT, interval: 10_000 });
  const res = await write(fx, newDir(), { segmentBytes: 64 * 1024 });
  const segs = readdirSync(join(res.dir, 'chunks')).sort();
  assert.ok(segs.length >= 3, `several segments (${segs.length})`);
  assert.deepEqual(res.meta.thanos?.segment_files, segs);
  for (const s of segs) assert.ok(statSync(join(res.dir, 'chunks', s)).size <= 64 * 1024, `${s} within the segment size`);
  const br = await BlockReader.openDir(res.dir);
  try {
    const got = await readAll(br);
    assert.deepEqual(got.map((g) => g.samples), fx.series.map((s) => s.samples));
    const e = await br.index.series((await br.index.allPostings()).at(-1)!);
    assert.equal(refSegment(e.chunks.at(-1)!.ref), segs.length - 1, 'last chunk lives in the last segment');
  } finally {
    await br.close();
  }
});

test('reads touch only the byte ranges they need', async () => {
  const fx = generate(14, { numSeries: 3000, mint: MINT, maxt: MAXT, interval: 15_000 });
  const res = await write(fx, newDir(), { thanos: false });
  let bytes = 0;
  let reads = 0;
  const local = localBlockFiles(res.dir);
  const counting: BlockFiles = {
    ...local,
    async open(rel): Promise<RangeReader> {
      const r = await local.open(rel);
      return {
        size: r.size,
        read: (o, l) => { bytes += l; reads++; return r.read(o, l); },
        close: () => r.close(),
      };
    },
  };
  const br = await BlockReader.open(counting);
  try {
    const openBytes = bytes;
    const total = statSync(join(res.dir, 'index')).size + statSync(join(res.dir, 'chunks', '000001')).size;
    assert.ok(openBytes < statSync(join(res.dir, 'index')).size / 2, `open reads ${openBytes} bytes of the index`);
    const target = fx.series[1234]!;
    const ms: Matcher[] = target.labels.map(([name, value]) => ({ type: '=', name, value }));
    const before = bytes;
    const beforeReads = reads;
    const got = await readAll(br, ms);
    assert.equal(got.length, 1);
    assert.deepEqual(got[0]!.samples, target.samples);
    const used = bytes - before;
    assert.ok(used < 64 * 1024, `one series selected with ${used} bytes`);
    assert.ok(reads - beforeReads <= ms.length + 2, `in ${reads - beforeReads} reads`);
    assert.ok(bytes < total / 4, `${bytes} of ${total} bytes read in all`);
  } finally {
    await br.close();
  }
});

test('writer refuses unsorted series, missing symbols and out-of-range chunks, leaving no directory', async () => {
  const fx = generate(15, { numSeries: 20, mint: MINT, maxt: MAXT, interval: 60_000 });
  const cases: { name: string; series: FixtureSeries[]; symbols?: string[]; re: RegExp }[] = [
    { name: 'unsorted', series: [fx.series[1]!, fx.series[0]!], re: /out of order/ },
    { name: 'repeated', series: [fx.series[0]!, fx.series[0]!], re: /out of order or repeated/ },
    { name: 'missing symbol', series: [fx.series[0]!], symbols: ['__name__'], re: /not in the symbol table/ },
    {
      name: 'out of range', re: /outside the block range/,
      series: [{ ...fx.series[0]!, chunks: fx.series[0]!.chunks.map((c) => ({ ...c, maxT: MAXT })) }],
    },
  ];
  for (const c of cases) {
    const parent = newDir();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(parent);
    await assert.rejects(
      writeBlock(parent, { mint: MINT, maxt: MAXT, symbols: c.symbols ?? fx.symbols, series: c.series }),
      (e: unknown) => isSluiceError(e) && c.re.test(e.message),
      c.name,
    );
    assert.deepEqual(readdirSync(parent), [], `${c.name}: temporary directory removed`);
  }
});

test('series named by symbol refs: the same bytes as by strings; bad refs and unsorted tables refused', async () => {
  const fx = generate(17, { numSeries: 200, mint: MINT, maxt: MAXT, interval: 60_000 });
  const { mkdirSync } = await import('node:fs');
  const table = sortSymbols(['', ...fx.symbols]);
  const index = new Map(table.map((s, i) => [s, i]));
  const refsOf = (ls: readonly [string, string][]): Uint32Array => Uint32Array.from(ls.flatMap(([n, v]) => [index.get(n)!, index.get(v)!]));
  const ulid = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
  const a = newDir();
  const b = newDir();
  mkdirSync(a);
  mkdirSync(b);
  await writeBlock(a, { mint: MINT, maxt: MAXT, symbols: fx.symbols, series: fx.series, ulid });
  await writeBlock(b, {
    mint: MINT, maxt: MAXT, symbols: table, symbolsSorted: true, ulid,
    series: fx.series.map((s) => ({ labels: s.labels, chunks: s.chunks, symbolRefs: refsOf(s.labels) })),
  });
  assert.ok(readFileSync(join(a, ulid, 'index')).equals(readFileSync(join(b, ulid, 'index'))), 'index bytes equal');
  assert.ok(readFileSync(join(a, ulid, 'chunks', '000001')).equals(readFileSync(join(b, ulid, 'chunks', '000001'))), 'chunk bytes equal');

  const s0 = fx.series[0]!;
  assert.ok(s0.labels.length >= 2);
  const bad: { name: string; symbols: string[]; refs?: Uint32Array; sorted?: boolean; re: RegExp }[] = [
    { name: 'ref past the table', symbols: table, refs: Uint32Array.of(1, table.length), re: /symbol ref out of range/ },
    { name: 'empty value', symbols: table, refs: Uint32Array.of(index.get(s0.labels[0]![0])!, 0), re: /empty label name or value/ },
    { name: 'odd refs', symbols: table, refs: Uint32Array.of(1, 2, 3), re: /odd number of symbol refs/ },
    { name: 'names out of order', symbols: table, refs: refsOf([s0.labels[1]!, s0.labels[0]!, ...s0.labels.slice(2)]), re: /label names not sorted or repeated/ },
    { name: 'table not sorted', symbols: ['', ...table.slice(1).reverse()], re: /symbols not sorted or repeated/ },
    { name: 'table without the empty string', symbols: table.slice(1), re: /must include the empty string/ },
    { name: 'refs without a sorted table', symbols: table, sorted: false, refs: refsOf(s0.labels), re: /not symbolsSorted/ },
  ];
  for (const c of bad) {
    const parent = newDir();
    mkdirSync(parent);
    await assert.rejects(
      writeBlock(parent, {
        mint: MINT, maxt: MAXT, symbols: c.symbols, symbolsSorted: c.sorted ?? true,
        series: [{ labels: s0.labels, chunks: s0.chunks, symbolRefs: c.refs ?? refsOf(s0.labels) }],
      }),
      (e: unknown) => isSluiceError(e) && c.re.test(e.message),
      c.name,
    );
    assert.deepEqual(readdirSync(parent), [], `${c.name}: temporary directory removed`);
  }
});

test('byte order: compareUtf8 agrees with comparing UTF-8 bytes, sortSymbols sorts and dedupes', () => {
  const rng = new Rng(16);
  const strs: string[] = [];
  for (let i = 0; i < 2000; i++) strs.push(rng.string(4));
  strs.push('\uffff', '\u{10000}', '\ue000', '\ud7ff', 'a', 'a');
  const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
  for (let i = 0; i < 5000; i++) {
    const a = rng.pick(strs);
    const b = rng.pick(strs);
    assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(Buffer.compare(bytes(a), bytes(b))), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
  const sorted = sortSymbols(strs);
  for (let i = 1; i < sorted.length; i++) assert.ok(Buffer.compare(bytes(sorted[i - 1]!), bytes(sorted[i]!)) < 0);
  assert.equal(sorted.length, new Set(strs).size);
  assert.ok(compareLabelsUtf8([['a', '\uffff']], [['a', '\u{10000}']]) < 0, 'astral sorts after U+FFFF');
});

test('large postings lists and symbol tables checksum correctly across write-buffer flushes', async () => {
  // 300k series: the all-series and job="x" lists are 1.2 MB each, larger than the 1 MiB buffer,
  // and the symbol table (300k instance values) spans several flushes.
  const n = 300_000;
  const chunk = encodeChunks([{ t: MINT, lo: 0, hi: 0x3ff00000 }])[0]!;
  const inst = (i: number): string => `i${String(i).padStart(6, '0')}`;
  const parent = newDir();
  const { mkdirSync } = await import('node:fs');
  mkdirSync(parent);
  const labels: [string, string][] = [['instance', ''], ['job', 'x']];
  const item = { labels, chunks: [chunk] };
  const res = await writeBlock(parent, {
    mint: MINT, maxt: MAXT,
    symbols: (function* () { yield 'instance'; yield 'job'; yield 'x'; for (let i = 0; i < n; i++) yield inst(i); })(),
    // One reused object for every series: the writer must consume each before the next.
    series: (function* () { for (let i = 0; i < n; i++) { labels[0]![1] = inst(i); yield item; } })(),
  });
  assert.equal(res.meta.stats.numSeries, n);
  const br = await BlockReader.openDir(res.dir);
  try {
    assert.equal(br.index.numSymbols, n + 4, 'symbols incl. ""');
    const all = await br.index.allPostings();
    const job = await br.index.postings('job', 'x');
    assert.equal(all.length, n);
    assert.deepEqual(job, all);
    const last = await br.index.series(all[n - 1]!);
    assert.deepEqual(last.labels, [['instance', inst(n - 1)], ['job', 'x']]);
    assert.equal(br.index.labelValues('instance').length, n);
  } finally {
    await br.close();
  }
});
