import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockReader } from '../../../src/blocks/reader.js';
import { writeBlock } from '../../../src/blocks/writer.js';
import { BlockCorruptionError } from '../../../src/blocks/index/decbuf.js';
import type { Toc } from '../../../src/blocks/index/format.js';
import { generate } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-blocks-corrupt-'));
after(() => rmSync(root, { recursive: true, force: true }));

const H = 3600_000;
const MINT = 1_700_000_000_000 - (1_700_000_000_000 % (2 * H));
let clean = '';
let toc: Toc;
let copies = 0;

before(async () => {
  const fx = generate(41, { numSeries: 100, mint: MINT, maxt: MINT + 2 * H, interval: 30_000 });
  mkdirSync(join(root, 'clean'));
  const res = await writeBlock(join(root, 'clean'), { mint: MINT, maxt: MINT + 2 * H, symbols: fx.symbols, series: fx.series });
  clean = res.dir;
  const br = await BlockReader.openDir(clean);
  toc = { ...br.index.toc };
  // The clean block reads without error.
  let n = 0;
  for await (const s of br.select([], -Infinity, Infinity)) n += s.chunks.length;
  assert.equal(n, fx.numChunks);
  await br.close();
});

/** corrupted copies the clean block and flips the bits of one byte of `file`. */
function corrupted(file: string, offset: number): string {
  const dir = join(root, `c${copies++}`);
  cpSync(clean, dir, { recursive: true });
  const path = join(dir, file);
  assert.ok(offset < statSync(path).size, `offset ${offset} inside ${file}`);
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, offset);
  b[0] = b[0]! ^ 0xff;
  writeSync(fd, b, 0, 1, offset);
  closeSync(fd);
  return dir;
}

const align = (x: number, a: number): number => Math.ceil(x / a) * a;

/** isCorruption checks the error names the file and says what is wrong. */
function isCorruption(file: string, what: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof BlockCorruptionError, `a BlockCorruptionError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.match(e.message, new RegExp(`corrupt block file ${file} at byte \\d+`));
    assert.match(e.message, what);
    return true;
  };
}

test('a flipped byte in chunk data is reported as a checksum mismatch of that chunk', async () => {
  const dir = corrupted('chunks/000001', 8 + 6);
  const br = await BlockReader.openDir(dir);
  try {
    await assert.rejects(br.chunks.chunk(8), isCorruption('chunks/000001', /chunk: checksum mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)/));
    await assert.rejects(async () => {
      for await (const s of br.select([], -Infinity, Infinity)) void s;
    }, BlockCorruptionError);
  } finally {
    await br.close();
  }
});

test('a bad chunk segment header is refused at open', async () => {
  await assert.rejects(BlockReader.openDir(corrupted('chunks/000001', 0)), isCorruption('chunks/000001', /bad magic/));
});

test('a flipped byte in a postings list fails that lookup only', async () => {
  const first = align(toc.postings, 4); // the all-series list
  const br = await BlockReader.openDir(corrupted('index', first + 9));
  try {
    await assert.rejects(br.index.allPostings(), isCorruption('index', /postings list: checksum mismatch/));
    assert.ok((await br.index.postings('__name__', 'up')).length > 0, 'other lists still read');
  } finally {
    await br.close();
  }
});

test('a flipped byte in a series entry fails reading that series', async () => {
  const ref = align(toc.series, 16) / 16;
  const br = await BlockReader.openDir(corrupted('index', ref * 16 + 3));
  try {
    await assert.rejects(br.index.series(ref), isCorruption('index', new RegExp(`series ${ref}: checksum mismatch`)));
  } finally {
    await br.close();
  }
});

for (const [name, off, what] of [
  ['symbol table', (): number => toc.symbols + 12, /symbol table: checksum mismatch/],
  ['postings offset table', (): number => toc.postingsTable + 10, /postings offset table: checksum mismatch/],
  ['TOC', (): number => statSync(join(clean, 'index')).size - 20, /TOC: checksum mismatch/],
  ['magic', (): number => 1, /bad magic/],
] as const) {
  test(`a flipped byte in the index ${name} is refused at open`, async () => {
    await assert.rejects(BlockReader.openDir(corrupted('index', off())), isCorruption('index', what));
  });
}
