/**
 * WAL checkpoints: after the head's oldest range is written to a block, the segments holding it
 * are replaced by a checkpoint of what is still needed (docs/format/wal.md, "Checkpoints and
 * truncation"). `checkpoint(dir, upTo, mint)` reads the newest checkpoint and the segments
 * `≤ upTo`, writes the series still live (every series unless `keepSeries` says otherwise: the
 * shards pass the WAL ids their head still holds, see `keepRefs`) and the samples with
 * `t ≥ mint` to `dir/checkpoint.<upTo>/` (a WAL directory itself, read by the same WalReader),
 * then deletes the segments and checkpoints it replaces.
 *
 * Touches only files in the WAL directory it is given: segments `≤ upTo` (read, then deleted),
 * `checkpoint.*` directories. It never touches the segment a WalWriter is writing (the caller
 * passes a number returned by `WalWriter.rotate()`), nor the Head, so it may run on any thread.
 */
import { isUtf8 } from 'node:buffer';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { ErrorCode, SluiceError } from '../errors.js';
import { removeFilePaced, removeTreePaced } from '../util/removePaced.js';
import { RecordEncoder, RecordType, SampleBatch, WalCorruptionError, decodeSamples, recordType } from './records.js';
import {
  DEFAULT_SEGMENT_SIZE, WalReader, WalWriter, checkpointName, lastCheckpoint, listCheckpoints, listSegments, segmentName,
  type Compression, type WalCorruption, type WalReaderOptions,
} from './segment.js';

/** CheckpointOptions tunes a checkpoint; every field is optional. */
export interface CheckpointOptions {
  /** segmentSize of the checkpoint's own segments (128 MiB, like the WAL's). */
  segmentSize?: number;
  /** compression of the checkpoint's records ('auto': Series records lz4, as the shards log). */
  compression?: Compression;
  /**
   * fsync the checkpoint's files and directories before the rename and after it (true). Only a
   * WAL that is itself not fsynced (`--tsdb.wal.fsync=off`) should turn it off.
   */
  fsync?: boolean;
  /**
   * keepSeries drops the series records whose ref (the WAL id) it returns false for (default:
   * every series is kept). Samples are chosen by time alone: a series the head dropped has no
   * sample at or after the head's cut, so none at or after `mint`.
   */
  keepSeries?: (ref: number) => boolean;
}

/** CheckpointStats says what a checkpoint did. */
export interface CheckpointStats {
  /** upTo is the last segment covered: the checkpoint is `checkpoint.<upTo>`. */
  upTo: number;
  /** previous is the checkpoint this one was built on, -1 when there was none. */
  previous: number;
  /** path of the checkpoint directory (the existing one when it already covered `upTo`). */
  path: string;
  /** seriesKept / seriesDropped count series entries copied / left out by keepSeries. */
  seriesKept: number;
  seriesDropped: number;
  /** samplesKept are the samples with `t ≥ mint`; samplesDropped the older ones (in a block). */
  samplesKept: number;
  samplesDropped: number;
  /** bytesBefore: the previous checkpoint plus the segments read; bytesAfter: the new checkpoint. */
  bytesBefore: number;
  bytesAfter: number;
  /** segmentsDeleted counts the segment files removed (leftovers of an interrupted run too). */
  segmentsDeleted: number;
  /**
   * corruptions that were skipped while reading. Segment numbers are the WAL's; a spot inside
   * the previous checkpoint has its reason prefixed with that checkpoint's directory name.
   */
  corruptions: WalCorruption[];
  ms: number;
}

/**
 * keepRefs returns a keepSeries predicate that keeps exactly the WAL ids in `refs` (in any order;
 * the array is not changed): a sorted copy searched by bisection, 8 bytes per series.
 */
export function keepRefs(refs: Float64Array): (ref: number) => boolean {
  const sorted = Float64Array.from(refs).sort();
  return (ref: number): boolean => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! < ref) lo = mid + 1;
      else hi = mid;
    }
    return lo < sorted.length && sorted[lo] === ref;
  };
}

/** Checkpoints running in this thread, by WAL directory: one at a time per directory. */
const running = new Set<string>();

/** YIELD_MS is how long a checkpoint reads before it lets the event loop run. */
const YIELD_MS = 10;

/**
 * checkpoint replaces the segments `≤ upTo` of the WAL in `dir` (and its previous checkpoint) by
 * `checkpoint.<upTo>`, holding the series `opts.keepSeries` keeps (all by default) and the
 * samples with `t ≥ mint`. `upTo` must be a
 * segment the writer has finished (`WalWriter.rotate()` returns one). Crash-safe: the checkpoint
 * is written as `checkpoint.<upTo>.tmp`, fsynced, and renamed; only then are the old segments and
 * checkpoints deleted, so a crash leaves either the old state or a complete checkpoint next to
 * files that replay ignores and the next run deletes. Corrupt records are skipped and reported in
 * the stats. If the newest checkpoint already covers `upTo`, only the deletion is (re)done.
 */
export async function checkpoint(dir: string, upTo: number, mint: number, opts: CheckpointOptions = {}): Promise<CheckpointStats> {
  if (!Number.isSafeInteger(upTo) || upTo < 0) {
    throw new SluiceError(ErrorCode.Internal, `checkpoint: segment ${upTo} is not a non-negative integer`);
  }
  if (Number.isNaN(mint)) throw new SluiceError(ErrorCode.Internal, 'checkpoint: mint is NaN');
  const key = resolve(dir);
  if (running.has(key)) throw new SluiceError(ErrorCode.Unavailable, `a checkpoint of ${dir} is already running`);
  running.add(key);
  try {
    return await run(dir, upTo, mint, opts);
  } finally {
    running.delete(key);
  }
}

async function run(dir: string, upTo: number, mint: number, opts: CheckpointOptions): Promise<CheckpointStats> {
  const started = performance.now();
  const sync = opts.fsync ?? true;
  for (const e of readdirSync(dir)) {
    if (/^checkpoint\.\d{8,}\.tmp$/.test(e)) rmSync(join(dir, e), { recursive: true, force: true });
  }
  const prev = lastCheckpoint(dir);
  const stats: CheckpointStats = {
    upTo, previous: prev, path: join(dir, checkpointName(Math.max(prev, upTo))),
    seriesKept: 0, seriesDropped: 0, samplesKept: 0, samplesDropped: 0,
    bytesBefore: 0, bytesAfter: 0, segmentsDeleted: 0, corruptions: [], ms: 0,
  };
  if (prev >= upTo) {
    stats.segmentsDeleted = await truncate(dir, prev);
    stats.ms = performance.now() - started;
    return stats;
  }

  const prevName = checkpointName(prev);
  const inputs = listSegments(dir).filter((s) => s > prev && s <= upTo);
  if (prev >= 0) stats.bytesBefore += dirBytes(join(dir, prevName));
  for (const s of inputs) stats.bytesBefore += statSync(join(dir, segmentName(s))).size;
  const first = inputs[0];
  if (first !== prev + 1) {
    const last = (first ?? upTo + 1) - 1;
    stats.corruptions.push({ segment: prev + 1, offset: 0, reason: last > prev + 1 ? `missing segments ${prev + 1} to ${last}` : 'missing segment' });
  }

  const tmp = join(dir, `${checkpointName(upTo)}.tmp`);
  mkdirSync(tmp);
  const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  let w: WalWriter | undefined;
  try {
    // With fsync on, each record (≤ 1 MiB) is synced before the next is written: writeback paced
    // in small steps, so the WAL's own fsyncs never queue behind a whole checkpoint.
    w = WalWriter.open(tmp, { segmentSize, fsync: sync ? 'batch' : 'off', compression: opts.compression ?? 'auto' });
    const c = new Copier(w, mint, opts.keepSeries, stats, segmentSize);
    if (prev >= 0) await c.copy(join(dir, prevName), {}, `${prevName}: `);
    await c.copy(dir, { from: prev + 1, to: upTo }, '');
    await c.finish();
    await w.close();
  } catch (e) {
    await w?.close().catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (sync) {
    for (const f of readdirSync(tmp)) fsyncPath(join(tmp, f));
    fsyncPath(tmp);
  }
  renameSync(tmp, stats.path);
  if (sync) fsyncPath(dir);
  stats.bytesAfter = dirBytes(stats.path);
  stats.segmentsDeleted = await truncate(dir, upTo);
  stats.ms = performance.now() - started;
  return stats;
}

/**
 * truncate deletes the segments `≤ n` (oldest first) and the checkpoints older than `n`, and
 * returns how many segments it deleted. Replay ignores all of them once `checkpoint.<n>` exists,
 * so a crash part-way leaves nothing wrong, only files for the next run to delete.
 */
async function truncate(dir: string, n: number): Promise<number> {
  let deleted = 0;
  for (const s of listSegments(dir)) {
    if (s > n) break;
    // Paced: a whole 128 MiB segment unlinked at once holds the live segment's fsyncs back.
    await removeFilePaced(join(dir, segmentName(s)));
    deleted++;
  }
  for (const c of listCheckpoints(dir)) {
    if (c < n) await removeTreePaced(join(dir, checkpointName(c)));
  }
  return deleted;
}

function dirBytes(path: string): number {
  let n = 0;
  for (const f of readdirSync(path)) n += statSync(join(path, f)).size;
  return n;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** MAX_DELTA bounds the deltas of one samples record (as RecordEncoder does). */
const MAX_DELTA = 2 ** 52;
/** A sample takes at most 8 (ref delta) + 8 (time delta) + 8 (value) bytes in a record. */
const MAX_SAMPLE_BYTES = 24;
const MAX_SAMPLES_PER_RECORD = 16384;

/** pos is the read position of the series scanner (single-threaded, like records.ts). */
let pos = 0;

function uvarint(rec: Uint8Array, end: number): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos >= end) throw new WalCorruptionError('truncated varint', -1, pos);
    const b = rec[pos++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
    if (mul > 2 ** 56) throw new WalCorruptionError('varint too long', -1, pos);
  }
}

/**
 * Copier streams records into the checkpoint writer: series entries are copied as bytes (after a
 * structural check) into series records of at most `flushBytes`; samples with `t ≥ mint` are
 * re-encoded into samples records. A samples record is written only after every series entry seen
 * before it, so the checkpoint names each series before its samples, as the WAL does. Memory is
 * two record buffers, whatever the WAL's size.
 */
class Copier {
  private readonly w: WalWriter;
  private readonly mint: number;
  private readonly keep: ((ref: number) => boolean) | undefined;
  private readonly stats: CheckpointStats;
  private readonly flushBytes: number;
  private readonly maxSamples: number;
  /** series holds the entries of the series record being built, after its type byte. */
  private series: Buffer;
  private seriesLen = 1;
  private readonly enc = new RecordEncoder(64 * 1024);
  private samplesN = 0;
  private firstRef = 0;
  private firstT = 0;
  private readonly batch = new SampleBatch(4096);
  /** writes are the results of `log` calls since the last record (each settles once synced). */
  private writes: Promise<void>[] = [];

  constructor(w: WalWriter, mint: number, keep: ((ref: number) => boolean) | undefined, stats: CheckpointStats, segmentSize: number) {
    this.w = w;
    this.mint = mint;
    this.keep = keep;
    this.stats = stats;
    this.flushBytes = Math.min(1 << 20, segmentSize >>> 2);
    this.maxSamples = Math.max(1, Math.min(MAX_SAMPLES_PER_RECORD, Math.floor((this.flushBytes - 17) / MAX_SAMPLE_BYTES)));
    this.series = Buffer.allocUnsafe(Math.max(1024, this.flushBytes + 1024));
    this.series[0] = RecordType.Series;
  }

  /** copy streams every record of the WAL directory `dir` (within `ro`) into the checkpoint. */
  async copy(dir: string, ro: WalReaderOptions, label: string): Promise<void> {
    const corruptions = this.stats.corruptions;
    const reader = new WalReader(dir, { ...ro, onCorruption: (c) => corruptions.push({ ...c, reason: label + c.reason }) });
    let last = performance.now();
    for (const rec of reader.records()) {
      try {
        const type = recordType(rec);
        if (type === RecordType.Series) this.addSeries(rec);
        else if (type === RecordType.Samples) this.addSamples(rec);
        else throw new WalCorruptionError(`unknown record type ${type}`, -1, 0);
      } catch (e) {
        if (!(e instanceof WalCorruptionError)) throw e;
        corruptions.push({ segment: reader.segment, offset: reader.offset, reason: label + e.reason });
      }
      if (this.writes.length > 0) await this.settle();
      if (performance.now() - last > YIELD_MS) {
        await nextMacrotask();
        last = performance.now();
      }
    }
    const torn = reader.tornTail;
    if (torn !== null) corruptions.push({ ...torn, reason: `${label}segment ends inside a record` });
  }

  /** finish writes what is still buffered. */
  async finish(): Promise<void> {
    this.flushSamples();
    this.flushSeries();
    await this.settle();
  }

  private async settle(): Promise<void> {
    const ws = this.writes;
    this.writes = [];
    await Promise.all(ws);
  }

  /** addSeries checks a Series record entry by entry and copies the entries kept. */
  private addSeries(rec: Uint8Array): void {
    const src = Buffer.from(rec.buffer, rec.byteOffset, rec.length);
    const end = rec.length;
    let p = 1;
    while (p < end) {
      if (p + 8 > end) throw new WalCorruptionError('truncated series ref', -1, p);
      const hi = src.readUInt32BE(p);
      if (hi >= 0x200000) throw new WalCorruptionError('series ref above 2^53', -1, p);
      const ref = hi * 4294967296 + src.readUInt32BE(p + 4);
      pos = p + 8;
      const n = uvarint(rec, end);
      if (n > end) throw new WalCorruptionError('label count exceeds record', -1, p);
      for (let i = 0; i < 2 * n; i++) {
        const len = uvarint(rec, end);
        const s = pos;
        if (s + len > end) throw new WalCorruptionError('string runs past the record', -1, s);
        pos = s + len;
        for (let k = s; k < pos; k++) {
          if (rec[k]! >= 0x80) {
            if (!isUtf8(rec.subarray(s, pos))) throw new WalCorruptionError('invalid UTF-8 in label', -1, s);
            break;
          }
        }
      }
      const e = pos;
      if (this.keep === undefined || this.keep(ref)) {
        if (this.seriesLen > 1 && this.seriesLen + (e - p) > this.flushBytes) this.flushSeries();
        this.reserveSeries(e - p);
        src.copy(this.series, this.seriesLen, p, e);
        this.seriesLen += e - p;
        this.stats.seriesKept++;
      } else {
        this.stats.seriesDropped++;
      }
      p = e;
    }
  }

  /** addSamples keeps the samples of a Samples record with `t ≥ mint`. */
  private addSamples(rec: Uint8Array): void {
    const b = this.batch;
    const n = decodeSamples(rec, b);
    const { refs, ts, lo, hi } = b;
    const mint = this.mint;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const t = ts[i]!;
      if (t < mint) continue;
      const ref = refs[i]!;
      if (this.samplesN === 0) {
        this.enc.beginSamples();
        this.firstRef = ref;
        this.firstT = t;
      } else if (Math.abs(ref - this.firstRef) >= MAX_DELTA || Math.abs(t - this.firstT) >= MAX_DELTA) {
        this.flushSamples();
        this.enc.beginSamples();
        this.firstRef = ref;
        this.firstT = t;
      }
      this.enc.sample(ref, t, lo[i]!, hi[i]!);
      kept++;
      if (++this.samplesN >= this.maxSamples) this.flushSamples();
    }
    this.stats.samplesKept += kept;
    this.stats.samplesDropped += n - kept;
  }

  private flushSeries(): void {
    if (this.seriesLen === 1) return;
    this.write(this.series.subarray(0, this.seriesLen));
    this.seriesLen = 1;
  }

  /** flushSamples writes the samples record, after the series entries seen before it. */
  private flushSamples(): void {
    if (this.samplesN === 0) return;
    this.flushSeries();
    this.write(this.enc.finish());
    this.samplesN = 0;
  }

  /** write logs one record; a failure surfaces at the next `settle` (and is never unhandled). */
  private write(rec: Uint8Array): void {
    const p = this.w.log([rec]);
    p.catch(() => {});
    this.writes.push(p);
  }

  private reserveSeries(n: number): void {
    if (this.seriesLen + n <= this.series.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.series.length * 2, this.seriesLen + n));
    this.series.copy(next, 0, 0, this.seriesLen);
    this.series = next;
  }
}
