import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LZ4_FLAG, PAGE_SIZE, WalReader, WalWriter, segmentName, type Compression, type WalWriterOptions,
} from '../../src/wal/segment.js';
import { isSluiceError } from '../../src/errors.js';
import { Rng } from '../helpers/prng.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-wal-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => join(root, `w${dirs++}`);

/** makeRecord returns `size` bytes: half repetitive (compressible), half random. */
function makeRecord(rng: Rng, size: number): Uint8Array {
  const r = new Uint8Array(size);
  for (let i = 0; i < size; i++) r[i] = i % 64 < 32 ? (i >>> 6) & 0xff : rng.int(0, 255);
  return r;
}

/** Rec is a record read back with where it started. */
interface Rec { data: Uint8Array; segment: number; offset: number }

function readAll(dir: string): { recs: Rec[]; reader: WalReader } {
  const reader = new WalReader(dir);
  const recs: Rec[] = [];
  for (const r of reader.records()) recs.push({ data: r.slice(), segment: reader.segment, offset: reader.offset });
  return { recs, reader };
}

async function writeAll(dir: string, recs: Uint8Array[], opts: WalWriterOptions, batch = 7): Promise<void> {
  const w = WalWriter.open(dir, opts);
  for (let i = 0; i < recs.length; i += batch) await w.log(recs.slice(i, i + batch));
  await w.close();
}

function assertSame(got: readonly Uint8Array[], want: readonly Uint8Array[], msg = ''): void {
  assert.equal(got.length, want.length, `${msg} record count`);
  for (let i = 0; i < want.length; i++) assert.ok(Buffer.from(got[i]!).equals(Buffer.from(want[i]!)), `${msg} record ${i}`);
}

for (const compression of ['none', 'lz4'] as Compression[]) {
  test(`round trip with records of 0 B to several pages (${compression})`, async () => {
    const rng = new Rng(3);
    const recs: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const kind = rng.int(0, 19);
      const size = kind === 0 ? rng.int(PAGE_SIZE, 2 * PAGE_SIZE) : kind === 1 ? rng.int(3 * PAGE_SIZE, 5 * PAGE_SIZE) : rng.int(0, 3000);
      recs.push(makeRecord(rng, size));
    }
    const dir = newDir();
    await writeAll(dir, recs, { segmentSize: 1024 * 1024, compression, fsync: 'off' });
    const { recs: got, reader } = readAll(dir);
    assertSame(got.map((r) => r.data), recs);
    assert.deepEqual(reader.corruptions, []);
    assert.equal(reader.tornTail, null);
    assert.ok(readdirSync(dir).length > 1, 'rotated at least once');
    const firstByte = readFileSync(join(dir, segmentName(0)))[0]!;
    assert.equal((firstByte & LZ4_FLAG) !== 0, compression === 'lz4' && recs[0]!.length > 64);
  });
}

/** tornTailAtEveryByte truncates the last segment at every offset inside its last record. */
async function tornTailAtEveryByte(leadSizes: readonly number[], lastSize: number): Promise<number> {
  const rng = new Rng(lastSize);
  const recs = leadSizes.map((n) => makeRecord(rng, n));
  recs.push(makeRecord(rng, lastSize));
  const dir = newDir();
  await writeAll(dir, recs, { fsync: 'off' });
  const clean = readAll(dir).recs;
  const last = clean[clean.length - 1]!;
  const file = join(dir, segmentName(last.segment));
  const end = statSync(file).size;
  const want = recs.slice(0, -1);
  let cuts = 0;
  for (let cut = end - 1; cut >= last.offset; cut--) {
    truncateSync(file, cut);
    const { recs: got, reader } = readAll(dir);
    assertSame(got.map((r) => r.data), want, `cut ${cut}`);
    assert.deepEqual(reader.corruptions, [], `cut ${cut}`);
    if (cut === last.offset) assert.equal(reader.tornTail, null);
    else assert.deepEqual(reader.tornTail, { segment: last.segment, offset: last.offset }, `cut ${cut}`);
    cuts++;
  }
  return cuts;
}

test('torn tail: every truncation inside a last record of one fragment', async () => {
  assert.equal(await tornTailAtEveryByte([300, 900, 10, 0, 2000], 700), 707);
});

test('torn tail: every truncation inside a last record of three fragments', async () => {
  // The lead leaves 100 bytes in page 0, so a 33000-byte record spans First, Middle, Last.
  const cuts = await tornTailAtEveryByte([1000, PAGE_SIZE - 1000 - 3 * 7 - 100], 33000);
  assert.equal(cuts, 33000 + 3 * 7);
});

test('torn tail inside page padding or a fragment header after a page end', async () => {
  // Fill a page so that fewer than 7 bytes remain, then add a record: the file holds padding.
  const dir = newDir();
  const w = WalWriter.open(dir, { fsync: 'off', compression: 'none' });
  const first = new Uint8Array(PAGE_SIZE - 7 - 3).fill(1);
  await w.log([first, new Uint8Array(100).fill(2)]);
  await w.close();
  const file = join(dir, segmentName(0));
  for (const cut of [PAGE_SIZE - 2, PAGE_SIZE - 1]) {
    truncateSync(file, cut);
    const { recs, reader } = readAll(dir);
    assertSame(recs.map((r) => r.data), [first]);
    assert.deepEqual(reader.tornTail, { segment: 0, offset: PAGE_SIZE - 3 });
  }
  truncateSync(file, PAGE_SIZE);
  const { reader } = readAll(dir);
  assert.equal(reader.tornTail, null);
});

/** corruptionCase writes a multi-segment WAL, lets `damage` change one byte, checks recovery. */
async function corruptionCase(
  damage: (buf: Buffer, rec: Rec) => void,
  pick: (recs: Rec[]) => Rec,
): Promise<void> {
  const rng = new Rng(99);
  const recs: Uint8Array[] = [];
  for (let i = 0; i < 400; i++) recs.push(makeRecord(rng, i === 200 ? 3 * PAGE_SIZE : rng.int(200, 3000)));
  const dir = newDir();
  await writeAll(dir, recs, { segmentSize: 256 * 1024, fsync: 'off' });
  const clean = readAll(dir).recs;
  const victim = pick(clean);
  const file = join(dir, segmentName(victim.segment));
  const bytes = readFileSync(file);
  damage(bytes, victim);
  writeFileSync(file, bytes);
  const { recs: got, reader } = readAll(dir);
  assert.equal(reader.corruptions.length, 1, JSON.stringify(reader.corruptions));
  const c = reader.corruptions[0]!;
  assert.equal(c.segment, victim.segment);
  assert.ok(c.offset >= victim.offset && c.offset < victim.offset + 3 * PAGE_SIZE + 100, `offset ${c.offset}`);
  const resume = (Math.floor(c.offset / PAGE_SIZE) + 1) * PAGE_SIZE;
  const before = (r: Rec): boolean => r.segment < victim.segment || (r.segment === victim.segment && r.offset < victim.offset);
  const fromNextPage = (r: Rec): boolean => r.segment > victim.segment || (r.segment === victim.segment && r.offset >= resume);
  const key = (r: Rec): string => `${r.segment}:${r.offset}`;
  const gotKeys = new Set(got.map(key));
  for (const r of clean) {
    if (before(r) || fromNextPage(r)) assert.ok(gotKeys.has(key(r)), `record at ${key(r)} must be read`);
  }
  assert.ok(!gotKeys.has(key(victim)), 'the damaged record is dropped');
  const byKey = new Map(clean.map((r) => [key(r), r.data]));
  for (const r of got) assert.ok(Buffer.from(r.data).equals(Buffer.from(byKey.get(key(r))!)), 'read records are intact');
  assert.equal(reader.tornTail, null);
}

const middleRecord = (recs: Rec[]): Rec => {
  const segs = recs[recs.length - 1]!.segment;
  const mid = recs.filter((r) => r.segment === Math.floor(segs / 2) && r.offset > 2 * PAGE_SIZE && r.data.length < 4000);
  return mid[Math.floor(mid.length / 2)]!;
};

test('bit flip in a middle record payload: reported, later pages still read', async () => {
  for (const bit of [0, 3, 7]) {
    await corruptionCase((b, r) => { b[r.offset + 7 + Math.floor(r.data.length / 2)]! ^= 1 << bit; }, middleRecord);
  }
});

test('bit flips in every byte of a middle fragment header', async () => {
  for (let byte = 0; byte < 7; byte++) {
    for (const bit of byte === 0 ? [0, 1, 2, 3, 4, 5, 6, 7] : [0, 5, 7]) {
      await corruptionCase((b, r) => { b[r.offset + byte]! ^= 1 << bit; }, middleRecord);
    }
  }
});

test('bit flip in a fragment of a record spanning pages', async () => {
  const big = (recs: Rec[]): Rec => recs.find((r) => r.data.length === 3 * PAGE_SIZE)!;
  // In the First fragment, and in a later fragment (the record start lies on an earlier page).
  await corruptionCase((b, r) => { b[r.offset + 20]! ^= 0x10; }, big);
  await corruptionCase((b, r) => { b[r.offset + PAGE_SIZE + 100]! ^= 0x10; }, big);
});

test('restart: the writer cuts a torn tail, appends, and the reader sees old + new', async () => {
  const rng = new Rng(5);
  const old = Array.from({ length: 50 }, () => makeRecord(rng, rng.int(10, 5000)));
  const dir = newDir();
  await writeAll(dir, old, { fsync: 'batch' });
  const clean = readAll(dir).recs;
  const last = clean[clean.length - 1]!;
  const file = join(dir, segmentName(last.segment));
  truncateSync(file, last.offset + 11);
  const w = WalWriter.open(dir, { fsync: 'batch' });
  assert.equal(w.segment, last.segment);
  assert.equal(w.offset, last.offset);
  const fresh = Array.from({ length: 20 }, () => makeRecord(rng, rng.int(10, 5000)));
  await w.log(fresh);
  await w.close();
  const { recs, reader } = readAll(dir);
  assertSame(recs.map((r) => r.data), [...old.slice(0, -1), ...fresh]);
  assert.equal(reader.tornTail, null);
  assert.deepEqual(reader.corruptions, []);
  // A clean reopen continues the same segment where it ended.
  const w2 = WalWriter.open(dir, { fsync: 'off' });
  assert.equal(w2.offset, statSync(file).size);
  await w2.log([new Uint8Array([9, 9, 9])]);
  await w2.close();
  assert.equal(readAll(dir).recs.length, old.length - 1 + fresh.length + 1);
});

test('restart on a last segment with corruption starts a new segment', async () => {
  const dir = newDir();
  await writeAll(dir, [new Uint8Array(100).fill(1), new Uint8Array(100).fill(2)], { fsync: 'off', compression: 'none' });
  const file = join(dir, segmentName(0));
  const b = readFileSync(file);
  b[50]! ^= 0xff;
  writeFileSync(file, b);
  const w = WalWriter.open(dir, { fsync: 'off' });
  assert.equal(w.segment, 1);
  await w.log([new Uint8Array(10).fill(3)]);
  await w.close();
  const { recs, reader } = readAll(dir);
  assert.equal(reader.corruptions.length, 1);
  assert.deepEqual(recs.map((r) => r.segment), [1]);
});

test('segment rotation at 64 KiB: no record crosses a segment', async () => {
  const rng = new Rng(8);
  const recs = Array.from({ length: 120 }, () => makeRecord(rng, rng.int(1000, 9000)));
  const dir = newDir();
  await writeAll(dir, recs, { segmentSize: 64 * 1024, fsync: 'batch' }, 3);
  const names = readdirSync(dir).sort();
  assert.ok(names.length >= 8, `segments: ${names.length}`);
  names.forEach((n, i) => {
    assert.equal(n, segmentName(i));
    assert.ok(statSync(join(dir, n)).size <= 64 * 1024);
  });
  const { recs: got, reader } = readAll(dir);
  assertSame(got.map((r) => r.data), recs);
  assert.deepEqual(reader.corruptions, []);
  const w = WalWriter.open(dir, { segmentSize: 64 * 1024 });
  await assert.rejects(w.log([new Uint8Array(64 * 1024)]), (e: unknown) => isSluiceError(e) && e.code === 'E_TOO_LARGE');
  await w.close();
});

test('fsync modes: concurrent log calls all resolve, in order on disk', async () => {
  for (const fsync of ['off', 'batch', 'always'] as const) {
    const dir = newDir();
    const w = WalWriter.open(dir, { fsync, segmentSize: 64 * 1024 });
    const recs = Array.from({ length: 60 }, (_, i) => new Uint8Array(2000).fill(i));
    await Promise.all(recs.map((r) => w.log([r])));
    await w.close();
    assertSame(readAll(dir).recs.map((r) => r.data), recs, fsync);
    await assert.rejects(w.log([recs[0]!]));
  }
});

test('a missing middle segment is reported and the rest is read', async () => {
  const rng = new Rng(12);
  const recs = Array.from({ length: 60 }, () => makeRecord(rng, 5000));
  const dir = newDir();
  await writeAll(dir, recs, { segmentSize: 64 * 1024, fsync: 'off' });
  const gone = join(root, 'gone');
  mkdirSync(gone, { recursive: true });
  copyFileSync(join(dir, segmentName(1)), join(gone, 'x'));
  rmSync(join(dir, segmentName(1)));
  const { recs: got, reader } = readAll(dir);
  assert.deepEqual(reader.corruptions.map((c) => [c.segment, c.reason]), [[1, 'missing segment']]);
  assert.ok(got.length > 0 && got.length < recs.length);
});

test("compression 'auto' (the default) compresses Series records only", async () => {
  const dir = newDir();
  const series = new Uint8Array(5000).fill(7);
  series[0] = 1; // RecordType.Series
  const samples = new Uint8Array(5000).fill(7);
  samples[0] = 2; // RecordType.Samples
  const w = WalWriter.open(dir, { fsync: 'off' });
  await w.log([series]);
  const second = w.offset;
  await w.log([samples]);
  await w.close();
  const bytes = readFileSync(join(dir, segmentName(0)));
  assert.equal(bytes[0]! & LZ4_FLAG, LZ4_FLAG);
  assert.equal(bytes[second]! & LZ4_FLAG, 0);
  assert.ok(bytes.length < 5000 + 200);
  assertSame(readAll(dir).recs.map((r) => r.data), [series, samples]);
});
