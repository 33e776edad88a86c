/**
 * WAL checkpoints and truncation (src/wal/checkpoint.ts, WalWriter.rotate, the replay in
 * src/shards/wal.ts), on real files: a checkpoint keeps every series and the samples at or after
 * `mint`, deletes what it replaces, survives crashes at each step without double counting, and
 * replay through ShardWal into a Head yields exactly what the WAL promised.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpoint } from '../../src/wal/checkpoint.js';
import { WalReader, WalWriter, checkpointName, lastCheckpoint, listSegments, segmentName } from '../../src/wal/segment.js';
import { RecordEncoder } from '../../src/wal/records.js';
import { ShardWal, type ReplayStats } from '../../src/shards/wal.js';
import { Head } from '../../src/shards/head.js';
import { HeadView } from '../../src/sharedmem/headView.js';
import { XorIterator } from '../../src/chunkenc/xor.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-checkpoint-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => join(root, `w${dirs++}`);

const T0 = 1_700_000_000_000;
const STEP = 15_000;
const SEG = 32 * 1024; // the smallest segment: a few rounds fill one
const tOf = (round: number): number => T0 + round * STEP;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Samples by the series' `i` label: [t, v] in time order. */
type Content = Map<string, [number, number][]>;

/**
 * Wal writes a shard-like WAL (series records with the tenant first, one samples record per
 * round) and keeps the model of what it wrote: per series, the rounds it has samples in.
 */
class Wal {
  readonly dir: string;
  w: WalWriter;
  nextRef = 0;
  /** firstRound[ref] is the round series ref was created in. */
  readonly firstRound: number[] = [];
  private readonly sEnc = new RecordEncoder();
  private readonly pEnc = new RecordEncoder();

  constructor(dir: string, segmentSize = SEG) {
    this.dir = dir;
    this.w = WalWriter.open(dir, { segmentSize, fsync: 'off' });
  }

  /** round logs `fresh` new series, then one sample for every series (value ref·1000 + round). */
  async round(r: number, fresh: number): Promise<void> {
    const recs: Uint8Array[] = [];
    if (fresh > 0) {
      this.sEnc.beginSeries();
      for (let k = 0; k < fresh; k++) {
        const ref = this.nextRef++;
        this.firstRound[ref] = r;
        this.sEnc.series(ref, labelsOf(ref));
      }
      recs.push(this.sEnc.finish().slice());
    }
    this.pEnc.beginSamples();
    for (let ref = 0; ref < this.nextRef; ref++) {
      f64[0] = ref * 1000 + r;
      this.pEnc.sample(ref, tOf(r), u32[0]!, u32[1]!);
    }
    recs.push(this.pEnc.finish());
    await this.w.log(recs);
  }

  /** expected returns the content replay must give: the rounds `≤ lastRound` that `keep` accepts, per series. */
  expected(keep: (round: number) => boolean, lastRound: number): Content {
    const out: Content = new Map();
    for (let ref = 0; ref < this.nextRef; ref++) {
      const s: [number, number][] = [];
      for (let r = this.firstRound[ref]!; r <= lastRound; r++) if (keep(r)) s.push([tOf(r), ref * 1000 + r]);
      out.set(String(ref), s);
    }
    return out;
  }
}

function labelsOf(ref: number): string[] {
  return ['', ref % 3 === 0 ? 'team-a' : 'team-b', '__name__', `m_${ref % 7}`, 'i', String(ref), 'zone', ref % 5 === 0 ? 'zürich' : 'oslo', 'pad', 'x'.repeat(40)];
}

/** replayHead replays `dir` through ShardWal into a fresh Head and reads every series back. */
async function replayHead(dir: string): Promise<{ stats: ReplayStats; content: Content; tenants: Map<string, string> }> {
  const view = new HeadView();
  const head = new Head({ blockDurationMs: 7_200_000, onSegment: (k, i, sab) => view.addSegment(k, i, sab) });
  const { wal, stats } = await ShardWal.open(dir, 'off', head);
  await wal.close();
  const content: Content = new Map();
  const tenants = new Map<string, string>();
  const it = new XorIterator();
  for (let ref = 0; ref < head.series.count; ref++) {
    const ls = new Map(view.labels(ref));
    const key = ls.get('i')!;
    const s: [number, number][] = [];
    for (const c of view.chunks(ref)) {
      it.reset(c.data, 0, c.data.length);
      while (it.next()) s.push([it.t, it.v]);
    }
    content.set(key, s);
    tenants.set(key, ls.get('zone')!);
  }
  return { stats, content, tenants };
}

function countSamples(c: Content): number {
  let n = 0;
  for (const s of c.values()) n += s.length;
  return n;
}

/** listing names the WAL entries: checkpoints first, then segments, each sorted. */
function listing(dir: string): string[] {
  const names = readdirSync(dir);
  return [...names.filter((n) => n.startsWith('checkpoint')).sort(), ...names.filter((n) => !n.startsWith('checkpoint')).sort()];
}

function segs(from: number, to: number): string[] {
  const out: string[] = [];
  for (let s = from; s <= to; s++) out.push(segmentName(s));
  return out;
}

test('rotate finishes the segment: records logged before are in segments ≤ the number returned', async () => {
  const dir = newDir();
  const wal = new Wal(dir);
  for (let r = 0; r < 3; r++) await wal.round(r, 4);
  const done = wal.w.rotate();
  assert.equal(done, 0);
  assert.equal(wal.w.segment, 1);
  assert.equal(wal.w.rotate(), 1, 'an empty segment is finished too: the number advances');
  await wal.round(3, 0);
  let before = 0;
  for (const rec of new WalReader(dir, { to: done })) before += rec.length > 0 ? 1 : 0;
  assert.equal(before, 6, 'the three rounds (series + samples records) are in segment 0');
  assert.deepEqual(listSegments(dir), [0, 1, 2]);
  await wal.w.close();
  assert.throws(() => wal.w.rotate(), /closed/);
});

test('checkpoint keeps every series and the samples at or after mint; only later segments remain', async () => {
  const dir = newDir();
  const wal = new Wal(dir);
  for (let r = 0; r < 20; r++) await wal.round(r, r < 30 ? 10 : 0);
  const a = wal.w.rotate();
  for (let r = 20; r < 40; r++) await wal.round(r, r < 30 ? 10 : 0);
  const b = wal.w.rotate();
  assert.ok(b > a && b >= 2, `several segments (a=${a}, b=${b})`);
  for (let r = 40; r < 50; r++) await wal.round(r, 0);
  const mint = tOf(25);

  const st = await checkpoint(dir, b, mint);
  assert.equal(st.upTo, b);
  assert.equal(st.previous, -1);
  assert.equal(st.seriesKept, 300);
  assert.equal(st.seriesDropped, 0);
  let kept = 0, dropped = 0;
  for (let r = 0; r < 40; r++) (r >= 25 ? (kept += Math.min(300, 10 * (r + 1))) : (dropped += 10 * (r + 1)));
  assert.equal(st.samplesKept, kept);
  assert.equal(st.samplesDropped, dropped);
  assert.deepEqual(st.corruptions, []);
  assert.equal(st.segmentsDeleted, b + 1);
  assert.ok(st.bytesAfter > 0 && st.bytesAfter < st.bytesBefore, `${st.bytesBefore} → ${st.bytesAfter} bytes`);
  assert.deepEqual(listing(dir), [checkpointName(b), ...segs(b + 1, wal.w.segment)]);

  // The writer keeps going after the truncation.
  await wal.round(50, 0);
  await wal.w.close();
  const { stats, content, tenants } = await replayHead(dir);
  assert.equal(stats.checkpoint, b);
  assert.deepEqual(stats.corruptions, []);
  assert.equal(stats.series, 300, 'every series, once');
  const want = wal.expected((r) => r >= 25, 50);
  assert.equal(stats.samples, countSamples(want));
  assert.deepEqual(content, want);
  assert.equal(tenants.get('5'), 'zürich', 'non-ASCII label values survive the byte copy');
});

test('two checkpoints in a row: the second includes the first; the first is deleted', async () => {
  const dir = newDir();
  const wal = new Wal(dir);
  for (let r = 0; r < 30; r++) await wal.round(r, 10);
  const b = wal.w.rotate();
  for (let r = 30; r < 40; r++) await wal.round(r, 0);
  const st1 = await checkpoint(dir, b, tOf(10));
  for (let r = 40; r < 60; r++) await wal.round(r, r < 50 ? 5 : 0);
  const c = wal.w.rotate();
  for (let r = 60; r < 65; r++) await wal.round(r, 0);

  const st2 = await checkpoint(dir, c, tOf(35), { segmentSize: 32 * 1024 });
  assert.equal(st2.previous, b);
  assert.equal(st2.seriesKept, 350, 'the series of the first checkpoint and of the segments after it');
  assert.equal(st2.samplesDropped, st1.samplesKept + 5 * 300, 'what the first kept, and rounds 30-34, are now before mint');
  let kept = 0;
  for (let r = 35; r < 60; r++) kept += r < 40 ? 300 : Math.min(350, 300 + 5 * (r - 39));
  assert.equal(st2.samplesKept, kept);
  assert.deepEqual(st2.corruptions, []);
  assert.deepEqual(listing(dir), [checkpointName(c), ...segs(c + 1, wal.w.segment)]);
  assert.ok(readdirSync(join(dir, checkpointName(c))).length > 1, 'the checkpoint has several segments of its own');

  await wal.w.close();
  const { stats, content } = await replayHead(dir);
  assert.equal(stats.checkpoint, c);
  assert.equal(stats.series, 350);
  assert.deepEqual(stats.corruptions, []);
  assert.deepEqual(content, wal.expected((r) => r >= 35, 64));
});

test('keepSeries drops the series it refuses', async () => {
  const dir = newDir();
  const wal = new Wal(dir);
  for (let r = 0; r < 5; r++) await wal.round(r, 10);
  const b = wal.w.rotate();
  await wal.w.close();
  const st = await checkpoint(dir, b, -Infinity, { keepSeries: (ref) => ref % 2 === 0 });
  assert.equal(st.seriesKept, 25);
  assert.equal(st.seriesDropped, 25);
  const { stats } = await replayHead(dir);
  assert.equal(stats.series, 25);
  // Series 10g..10g+9 appear in round g and have 5 - g samples; half of each group is kept.
  assert.equal(stats.samples, 5 * (5 + 4 + 3 + 2 + 1), 'samples of the dropped series are not replayed');
});

test('crash: a stale .tmp checkpoint is ignored by replay and removed by the next checkpoint', async () => {
  const dir = newDir();
  const wal = new Wal(dir);
  for (let r = 0; r < 20; r++) await wal.round(r, 10);
  const b = wal.w.rotate();
  await wal.round(20, 0);
  await wal.w.close();
  for (const n of [b, 99]) {
    mkdirSync(join(dir, `${checkpointName(n)}.tmp`));
    writeFileSync(join(dir, `${checkpointName(n)}.tmp`, '00000000'), Buffer.alloc(5000, 0xab));
  }
  const before = await replayHead(dir);
  assert.equal(before.stats.checkpoint, -1);
  assert.deepEqual(before.stats.corruptions, []);
  assert.equal(before.stats.samples, countSamples(wal.expected(() => true, 20)));

  const st = await checkpoint(dir, b, tOf(10));
  assert.deepEqual(listing(dir), [checkpointName(b), ...segs(b + 1, b + 1)]);
  assert.equal(st.seriesKept, 200);
  const { stats, content } = await replayHead(dir);
  assert.equal(stats.checkpoint, b);
  assert.deepEqual(content, wal.expected((r) => r >= 10, 20));
});

test('crash after the rename, before deletion: replay reads no segment twice; the next run deletes them', async () => {
  const dir = newDir();
  const backup = newDir();
  mkdirSync(backup);
  const wal = new Wal(dir);
  for (let r = 0; r < 20; r++) await wal.round(r, 10);
  const b = wal.w.rotate();
  for (let r = 20; r < 30; r++) await wal.round(r, 0);
  await checkpoint(dir, b, tOf(5));
  for (let r = 30; r < 40; r++) await wal.round(r, 5);
  const c = wal.w.rotate();
  await wal.round(40, 0);
  await wal.w.close();
  // Keep what the second checkpoint will delete, and put it back after: as if it crashed then.
  const doomed = [checkpointName(b), ...listSegments(dir).filter((s) => s <= c).map(segmentName)];
  for (const f of doomed) cpSync(join(dir, f), join(backup, f), { recursive: true });
  await checkpoint(dir, c, tOf(25));
  for (const f of doomed) cpSync(join(backup, f), join(dir, f), { recursive: true });
  assert.ok(listing(dir).includes(checkpointName(b)) && listing(dir).includes(segmentName(c)));

  const want = wal.expected((r) => r >= 25, 40);
  const first = await replayHead(dir);
  assert.equal(first.stats.checkpoint, c, 'the newest checkpoint wins');
  assert.equal(first.stats.series, 250, 'no series record is read twice');
  assert.equal(first.stats.samples, countSamples(want));
  assert.deepEqual(first.stats.corruptions, []);
  assert.deepEqual(first.content, want);

  // A writer opened now continues after the checkpoint, not in the leftovers.
  const w = WalWriter.open(dir, { fsync: 'off' });
  assert.ok(w.segment > c);
  await w.close();

  // Checkpointing again up to the same segment only finishes the deletion.
  const again = await checkpoint(dir, c, tOf(25));
  assert.equal(again.segmentsDeleted, doomed.length - 1);
  assert.equal(again.samplesKept, 0);
  assert.deepEqual(listing(dir), [checkpointName(c), ...listSegments(dir).map(segmentName)]);
  assert.ok(listSegments(dir).every((s) => s > c));
  assert.deepEqual((await replayHead(dir)).content, want);
});

test('writer numbering continues after a checkpoint: later segments only, or the checkpoint alone', async () => {
  // Later segments only: the writer continues the last one.
  const dir = newDir();
  const wal = new Wal(dir);
  for (let r = 0; r < 10; r++) await wal.round(r, 10);
  const b = wal.w.rotate();
  await wal.round(10, 0);
  await checkpoint(dir, b, -Infinity);
  const cur = wal.w.segment;
  await wal.w.close();
  let w = WalWriter.open(dir, { fsync: 'off' });
  assert.equal(w.segment, cur);
  assert.ok(w.offset > 0, 'appends to the last segment');
  await w.close();

  // The checkpoint alone: every segment was checkpointed (the writer was closed first).
  const only = newDir();
  const wal2 = new Wal(only);
  for (let r = 0; r < 10; r++) await wal2.round(r, 10);
  const last = wal2.w.segment;
  await wal2.w.close();
  await checkpoint(only, last, tOf(3));
  assert.deepEqual(listing(only), [checkpointName(last)]);
  wal2.w = WalWriter.open(only, { segmentSize: SEG, fsync: 'off' });
  assert.equal(wal2.w.segment, last + 1, 'never a segment the checkpoint covers');
  await wal2.round(10, 1);
  await wal2.w.close();
  assert.deepEqual(listing(only), [checkpointName(last), segmentName(last + 1)]);
  const { stats, content } = await replayHead(only);
  assert.deepEqual(stats.corruptions, []);
  assert.deepEqual(content, wal2.expected((r) => r >= 3, 10));
  assert.equal(lastCheckpoint(only), last);
  w = WalWriter.open(only, { fsync: 'off' });
  assert.equal(w.segment, last + 1);
  await w.close();
});

test('a corrupt page in a segment being checkpointed is reported and skipped; the checkpoint replays the same', async () => {
  const dir = newDir();
  const wal = new Wal(dir);
  for (let r = 0; r < 40; r++) await wal.round(r, r < 30 ? 10 : 0);
  const b = wal.w.rotate();
  await wal.round(40, 0);
  await wal.w.close();
  assert.ok(b >= 2);
  const file = join(dir, segmentName(1));
  const bytes = readFileSync(file);
  assert.ok(bytes.length > 20_000);
  bytes[20_000] = bytes[20_000]! ^ 0xff;
  writeFileSync(file, bytes);

  const copy = newDir();
  cpSync(dir, copy, { recursive: true });
  const before = await replayHead(copy);
  assert.equal(before.stats.corruptions.length, 1);

  const st = await checkpoint(dir, b, -Infinity);
  assert.equal(st.corruptions.length, 1, JSON.stringify(st.corruptions));
  assert.deepEqual(st.corruptions[0], before.stats.corruptions[0]);
  assert.ok(st.samplesKept < countSamples(wal.expected((r) => r < 40, 39)), 'the damaged page is lost');
  assert.deepEqual(listing(dir), [checkpointName(b), segmentName(b + 1)]);
  const afterCp = await replayHead(dir);
  assert.deepEqual(afterCp.stats.corruptions, [], 'the checkpoint holds only whole records');
  assert.deepEqual(afterCp.content, before.content);
  assert.equal(afterCp.stats.samples, before.stats.samples);
});

test('records that frame well but do not decode are counted and skipped, by checkpoint and replay', async () => {
  const dir = newDir();
  const wal = new Wal(dir);
  for (let r = 0; r < 5; r++) await wal.round(r, 10);
  await wal.w.log([
    Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 99, 3), // series ref 99 with 3 labels and no strings
    Uint8Array.of(2, 0, 0, 0), // truncated samples header
    Uint8Array.of(9, 1, 2, 3), // unknown record type
  ]);
  for (let r = 5; r < 8; r++) await wal.round(r, 0);
  const b = wal.w.rotate();
  await wal.w.close();

  const copy = newDir();
  cpSync(dir, copy, { recursive: true });
  const before = await replayHead(copy);
  assert.deepEqual(before.stats.corruptions.map((c) => c.reason), ['truncated varint', 'truncated samples header']);
  const want = wal.expected(() => true, 7);
  assert.deepEqual(before.content, want, 'replay skips them and reads on');

  const st = await checkpoint(dir, b, -Infinity);
  assert.deepEqual(st.corruptions.map((c) => c.reason), ['truncated varint', 'truncated samples header', 'unknown record type 9']);
  assert.ok(st.corruptions.every((c) => c.segment === 0 && c.offset > 0));
  assert.equal(st.seriesKept, 50);
  const { stats, content } = await replayHead(dir);
  assert.deepEqual(stats.corruptions, []);
  assert.deepEqual(content, want);
});

test('checkpoint of a 2M-sample WAL (measured)', async (t) => {
  const dir = newDir();
  const SERIES = 20_000;
  const ROUNDS = 100;
  const w = WalWriter.open(dir, { fsync: 'off' });
  const enc = new RecordEncoder(1 << 20);
  for (let base = 0; base < SERIES; base += 1000) {
    enc.beginSeries();
    for (let i = base; i < base + 1000; i++) enc.series(i, labelsOf(i));
    await w.log([enc.finish()]);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (let base = 0; base < SERIES; base += 1000) {
      enc.beginSamples();
      for (let i = base; i < base + 1000; i++) {
        f64[0] = i % 10 < 7 ? r * 17 + i : (i * r) / 7;
        enc.sample(i, tOf(r) + (i % 50), u32[0]!, u32[1]!);
      }
      await w.log([enc.finish()]);
    }
  }
  const upTo = w.rotate();
  await w.close();
  const st = await checkpoint(dir, upTo, tOf(ROUNDS / 2));
  assert.equal(st.seriesKept, SERIES);
  assert.equal(st.samplesKept, SERIES * ROUNDS / 2);
  assert.equal(st.samplesDropped, SERIES * ROUNDS / 2);
  assert.deepEqual(st.corruptions, []);
  let n = 0;
  for (const rec of new WalReader(join(dir, checkpointName(upTo)))) n += rec.length > 0 ? 1 : 0;
  assert.ok(n > 0);
  const msg = `checkpoint of ${SERIES * ROUNDS} samples / ${SERIES} series: ${(st.bytesBefore / 1e6).toFixed(1)} MB → ${(st.bytesAfter / 1e6).toFixed(1)} MB in ${Math.round(st.ms)} ms (${((SERIES * ROUNDS) / (st.ms / 1000) / 1e6).toFixed(2)}M samples/s read)`;
  t.diagnostic(msg);
  if (process.env['SLUICE_VERBOSE'] !== undefined) console.log(msg);
});

test('the checkpoint thread (SCHED_IDLE) checkpoints as the function does, one job after another, and reports errors', async () => {
  const { CheckpointThread } = await import('../../src/wal/checkpointThread.js');
  const a = newDir();
  const wal = new Wal(a);
  for (let r = 0; r < 8; r++) await wal.round(r, 10);
  const upTo = wal.w.rotate();
  for (let r = 8; r < 10; r++) await wal.round(r, 0);
  await wal.w.close();
  const b = newDir();
  cpSync(a, b, { recursive: true });
  const live = Float64Array.from({ length: 40 }, (_, i) => i * 2);
  const want = await checkpoint(b, upTo, tOf(3), { fsync: false, keepSeries: (ref) => ref % 2 === 0 && ref < 80 });
  const th = new CheckpointThread();
  try {
    // Two jobs at once: the second finds the first's checkpoint (nothing left to do).
    const [got, again] = await Promise.all([th.run(a, upTo, tOf(3), false, live), th.run(a, upTo, tOf(3), false, live)]);
    for (const k of ['seriesKept', 'seriesDropped', 'samplesKept', 'samplesDropped', 'bytesAfter', 'segmentsDeleted'] as const) assert.equal(got[k], want[k], k);
    assert.equal(again.previous, upTo, 'the second job ran after the first');
    assert.deepEqual(listing(a), listing(b));
    const ra = await replayHead(a);
    const rb = await replayHead(b);
    assert.deepEqual([...ra.content], [...rb.content]);
    await assert.rejects(th.run(join(a, 'missing'), 1, 0, false, live), /ENOENT|no such file/);
  } finally {
    await th.close();
  }
});
