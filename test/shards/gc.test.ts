/**
 * Series GC (src/shards/headTruncate.ts, Head.drop): after a block cut, series left without data
 * leave the hash table, the label index and the label APIs; a reader still holding a dropped ref
 * reads an empty series; refs and label blobs are reused only after the quarantine, WAL ids
 * never; the WAL checkpoint keeps only live series, replay creates only those, and a series
 * dropped and written again survives restarts with its new samples — including the crash between
 * truncation and checkpoint, where the WAL holds both of its ids.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Harness, H, T0 } from './gcHarness.js';
import { labelNames, labelValues, selectSeries, type SelectQuery } from '../../src/shards/headRead.js';
import { checkpoint, keepRefs } from '../../src/wal/checkpoint.js';
import { WalReader, checkpointName } from '../../src/wal/segment.js';
import { RecordType, decodeSeries, recordType } from '../../src/wal/records.js';
import type { Labels } from '../../src/model/labels.js';
import { i32Base } from '../../src/sharedmem/seriesTable.js';
import { SeriesI32 } from '../../src/sharedmem/layout.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-gc-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => join(root, `w${dirs++}`);

const CUT = T0 + 2 * H;
const N = 20;
const lab = (i: number, pod = 'p'): Labels => [['__name__', 'churn'], ['job', 'j'], ['pod', `${pod}${i}`]];
const all: SelectQuery = { tenant: 't', matcherSets: [], mint: -Infinity, maxt: Infinity };
const sortedNums = (a: Iterable<number>): number[] => [...a].sort((x, y) => x - y);

/** writeChurn writes N series in range 1 and only the even ones in range 2. */
async function writeChurn(h: Harness): Promise<void> {
  for (let i = 0; i < N; i++) h.add('t', lab(i), [[T0 + H, i]]);
  await h.commit();
  for (let i = 0; i < N; i += 2) h.add('t', lab(i), [[CUT + 60_000, i + 0.5]]);
  await h.commit();
}

/** checkpointPods returns the pods named by the series records of checkpoint.<n> in `dir`. */
function checkpointPods(dir: string, n: number): string[] {
  const pods: string[] = [];
  for (const rec of new WalReader(join(dir, checkpointName(n))).records()) {
    if (recordType(rec) !== RecordType.Series) continue;
    decodeSeries(rec, (_ref, flat) => { pods.push(flat[flat.indexOf('pod') + 1]!); });
  }
  return pods.sort();
}

test('truncation drops series left without data; index, label APIs and hash table forget them; stale readers see them empty', async () => {
  const h = await Harness.open();
  const { head } = h;
  await writeChurn(h);
  h.add('t', [['__name__', 'nodata']], []); // created, never sampled
  await h.commit();
  const old = Array.from({ length: N }, (_, i) => h.ref('t', lab(i)));
  const even = old.filter((_, i) => i % 2 === 0);
  const maxWal = Math.max(...old.map((r) => head.walRefs[r]!));

  const { stats } = h.cut(CUT);
  assert.equal(stats.seriesDropped, N / 2 + 1);
  assert.equal(stats.seriesLive, N / 2);
  assert.deepEqual(sortedNums(stats.liveWalRefs), sortedNums(even.map((r) => head.walRefs[r]!)));

  assert.deepEqual(Array.from(selectSeries(head, all)), sortedNums(even));
  assert.deepEqual(labelValues(head, 'pod', all).sort(), Array.from({ length: N / 2 }, (_, k) => `p${2 * k}`).sort());
  assert.deepEqual(labelValues(head, '__name__', all), ['churn'], 'a value left without series is gone');
  assert.deepEqual(labelNames(head, all).sort(), ['__name__', 'job', 'pod']);
  assert.equal(head.indexes[head.tenantId('t')]!.all.n, N / 2);
  assert.equal(head.liveCount, N / 2);
  for (let i = 1; i < N; i += 2) {
    assert.equal(h.ref('t', lab(i)), -1, `pod p${i} left the hash table`);
    // A reader that asked for refs just before the drop still reads the record: labels, no data.
    assert.deepEqual(h.view.labels(old[i]!), lab(i));
    assert.deepEqual(h.samples(old[i]!), []);
  }
  for (let i = 0; i < N; i += 2) assert.deepEqual(h.samples(old[i]!), [[CUT + 60_000, i + 0.5]]);

  // Written again, a dropped series is a new one (its ref is still in quarantine) with a new WAL id.
  const again = h.add('t', lab(1), [[CUT + 120_000, 7]]);
  await h.commit();
  assert.notEqual(again, old[1]);
  assert.ok(head.walRefs[again]! > maxWal);
  assert.deepEqual(h.samples(again), [[CUT + 120_000, 7]]);
  assert.deepEqual(Array.from(selectSeries(head, { ...all, matcherSets: [[{ type: '=', name: 'pod', value: 'p1' }]] })), [again]);
  assert.equal(h.cut(CUT).stats.seriesDropped, 0, 'nothing more to drop');
});

test('after the quarantine, refs and label blobs are reused (the head stops growing); WAL ids are not', async () => {
  const h = await Harness.open({ quarantineMs: 0 });
  const { head } = h;
  await writeChurn(h);
  const blobAt = (ref: number): number => head.series.seg(ref).i32[i32Base(ref) + SeriesI32.LABELS_PTR]!;
  const droppedBlobs = new Set(Array.from({ length: N / 2 }, (_, k) => blobAt(h.ref('t', lab(2 * k + 1)))));
  const { stats } = h.cut(CUT);
  const before = { count: head.series.count, bytes: head.memoryBytes() };
  assert.equal(stats.seriesDropped, N / 2);
  const usedWal = new Set(Array.from({ length: N }, (_, i) => i));
  // N/2 new series whose label blobs have the sizes of the dropped ones.
  const fresh: number[] = [];
  for (let i = 1; i < N; i += 2) fresh.push(h.add('t', lab(i, 'q'), [[CUT + 60_000, 100 + i]]));
  await h.commit();
  assert.equal(head.series.count, before.count, 'every new series took a dropped ref');
  assert.equal(head.memoryBytes(), before.bytes);
  assert.equal(head.freeBlobBytes, 0, 'every freed label blob was reused');
  assert.deepEqual(new Set(fresh.map(blobAt)), droppedBlobs, 'the new label blobs sit where the dropped ones were');
  for (const r of fresh) assert.ok(!usedWal.has(head.walRefs[r]!), 'WAL ids are never reused');
  // Postings stay sorted with reused (smaller) refs appended after larger ones.
  const refs = Array.from(selectSeries(head, all));
  assert.deepEqual(refs, sortedNums(refs));
  assert.equal(refs.length, N);
  for (let i = 1; i < N; i += 2) {
    const r = h.ref('t', lab(i, 'q'));
    assert.deepEqual(h.view.labels(r), lab(i, 'q'));
    assert.deepEqual(h.samples(r), [[CUT + 60_000, 100 + i]]);
  }
  assert.deepEqual(labelValues(head, 'pod', { ...all, matcherSets: [[{ type: '=~', name: 'pod', value: 'q.*' }]] }).sort(), Array.from({ length: N / 2 }, (_, k) => `q${2 * k + 1}`).sort());
});

test('checkpoint keeps only live series; replay creates only those; a dropped series written again survives a restart', async () => {
  const dir = newDir();
  let h = await Harness.open({ walDir: dir });
  await writeChurn(h);
  const { walSegment, stats } = h.cut(CUT);
  const cs = await checkpoint(dir, walSegment, CUT, { fsync: false, keepSeries: keepRefs(stats.liveWalRefs) });
  assert.equal(cs.seriesKept, N / 2);
  assert.equal(cs.seriesDropped, N / 2);
  assert.deepEqual(checkpointPods(dir, walSegment), Array.from({ length: N / 2 }, (_, k) => `p${2 * k}`).sort());
  h.add('t', lab(1), [[CUT + 120_000, 7]]);
  await h.commit();
  const idsBefore = h.head.nextWalRef;
  await h.close();

  h = await Harness.open({ walDir: dir, minValidT: CUT });
  assert.equal(h.replay!.series, N / 2 + 1, 'the checkpoint named only the live half, the segment after it p1');
  assert.equal(h.replay!.seriesDropped, 0);
  assert.equal(h.head.liveCount, N / 2 + 1);
  for (let i = 0; i < N; i++) {
    const r = h.ref('t', lab(i));
    if (i % 2 === 0) assert.deepEqual(h.samples(r), [[CUT + 60_000, i + 0.5]]);
    else if (i === 1) assert.deepEqual(h.samples(r), [[CUT + 120_000, 7]]);
    else assert.equal(r, -1, `p${i} was not recreated`);
  }
  assert.ok(h.head.nextWalRef >= idsBefore, 'new WAL ids continue above every id replayed');
  await h.close();
});

test('crash between truncation and checkpoint: replay drops the empty series, merges a recreated one under its newer id, and the next checkpoint keeps its samples', async () => {
  const dir = newDir();
  let h = await Harness.open({ walDir: dir });
  const x: Labels = [['__name__', 'x']];
  const y: Labels = [['__name__', 'y']];
  h.add('t', x, [[T0 + H, 1]]);
  h.add('t', y, [[T0 + H, 2]]);
  await h.commit();
  const first = h.cut(CUT);
  assert.equal(first.stats.seriesDropped, 2);
  h.add('t', x, [[CUT + 1000, 3]]); // x again: a new series, a new WAL id
  await h.commit();
  const xWal = h.head.walRefs[h.ref('t', x)]!;
  await h.close(); // no checkpoint: the WAL still names x under both ids, and y

  h = await Harness.open({ walDir: dir, minValidT: CUT });
  assert.equal(h.replay!.series, 3);
  assert.equal(h.replay!.seriesDropped, 1, 'y has no sample left (its only one is in a block)');
  assert.equal(h.ref('t', y), -1);
  const rx = h.ref('t', x);
  assert.equal(h.head.walRefs[rx], xWal, 'x carries the id it was last logged with');
  assert.deepEqual(h.samples(rx), [[CUT + 1000, 3]]);
  const again = h.cut(CUT);
  assert.deepEqual(Array.from(again.stats.liveWalRefs), [xWal]);
  const cs = await checkpoint(dir, again.walSegment, CUT, { fsync: false, keepSeries: keepRefs(again.stats.liveWalRefs) });
  assert.equal(cs.seriesKept, 1);
  assert.equal(cs.seriesDropped, 2);
  await h.close();

  h = await Harness.open({ walDir: dir, minValidT: CUT });
  assert.equal(h.replay!.checkpoint, again.walSegment);
  assert.deepEqual(h.samples(h.ref('t', x)), [[CUT + 1000, 3]]);
  assert.equal(h.head.liveCount, 1);
  await h.close();
});
