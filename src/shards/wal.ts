/**
 * ShardWal is a shard's write-ahead log: every round of validated batches is logged (series
 * records for the series it created, one samples record for its valid samples) before the round
 * is applied to the head and acknowledged; on start the shard replays it into an empty head.
 * The byte format is src/wal (docs/format/wal.md). A series record lists the tenant first, as a
 * label with an empty name (a real label name is never empty). Records name series by their WAL
 * id (Head.walRefs), not by ref: refs are reused after series GC, WAL ids never are.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  WalReader, WalWriter, checkpointName, lastCheckpoint, listSegments, type FsyncMode, type WalCorruption,
} from '../wal/segment.js';
import {
  RecordEncoder, RecordType, SampleBatch, WalCorruptionError, decodeSamples, decodeSeries, recordType,
} from '../wal/records.js';
import { WasmXxh64 } from '../hash/xxhash64Wasm.js';
import { decodeLabelBlob, encodeLabelBlob, type Labels } from '../model/labels.js';
import { accept, appendSample, type BatchResult } from './headAppend.js';
import { dropEmptySeries } from './headTruncate.js';
import { SeriesI32 } from '../sharedmem/layout.js';
import { i32Base } from '../sharedmem/seriesTable.js';
import type { Head } from './head.js';
import type { PendingAppends } from './pending.js';
import { ErrorCode, SluiceError } from '../errors.js';

/** ReplayStats says what a replay found. */
export interface ReplayStats {
  series: number;
  samples: number;
  ms: number;
  corruptions: WalCorruption[];
  tornTail: { segment: number; offset: number } | null;
  /** checkpoint is the number of the checkpoint replayed first, -1 when there was none. */
  checkpoint: number;
  /** seriesDropped: series replayed without any sample left in the head, dropped at the end. */
  seriesDropped: number;
}

const enc = new TextEncoder();

/** ShardWal logs and replays one shard's WAL. Owned by the shard thread. */
export class ShardWal {
  private readonly writer: WalWriter;
  private readonly seriesEnc = new RecordEncoder(64 * 1024);
  private readonly samplesEnc = new RecordEncoder(256 * 1024);
  /** Series created by rounds the WAL failed to log; logged first by the next round. */
  private carry = new Int32Array(64);
  private carryN = 0;

  private constructor(writer: WalWriter) {
    this.writer = writer;
  }

  /**
   * open replays `dir` into `head` (which must be empty): its newest checkpoint, then the
   * segments after it; then opens it for appending, numbering new segments after the checkpoint.
   * A torn tail is cut by the writer; corruption in the middle is skipped and reported.
   */
  static async open(dir: string, fsync: FsyncMode, head: Head): Promise<{ wal: ShardWal; stats: ReplayStats }> {
    mkdirSync(dir, { recursive: true });
    const stats = replay(dir, head);
    const writer = await WalWriter.open(dir, { fsync, compression: 'auto' });
    return { wal: new ShardWal(writer), stats };
  }

  /**
   * logRound logs a validated round (step 2 of pending.ts) and resolves once it is durable. If it
   * fails (disk full, I/O error) the round's new series stay in the head unlogged: they are
   * carried into the next round's series record, so no samples record ever names a series the
   * WAL has not seen first.
   */
  async logRound(head: Head, pend: PendingAppends): Promise<void> {
    const recs: Uint8Array[] = [];
    if (pend.newCount > 0 || this.carryN > 0) {
      const e = this.seriesEnc;
      e.beginSeries();
      for (let i = 0; i < this.carryN; i++) this.seriesTo(e, head, this.carry[i]!);
      for (let i = 0; i < pend.newCount; i++) this.seriesTo(e, head, pend.newSeries[i]!);
      recs.push(e.finish());
    }
    if (pend.n > 0) {
      const e = this.samplesEnc;
      const walRefs = head.walRefs;
      e.beginSamples();
      for (let i = 0; i < pend.n; i++) e.sample(walRefs[pend.refs[i]!]!, pend.ts[i]!, pend.lo[i]! >>> 0, pend.hi[i]! >>> 0);
      recs.push(e.finish());
    }
    if (recs.length === 0) return;
    try {
      await this.writer.log(recs);
    } catch (e) {
      for (let i = 0; i < pend.newCount; i++) this.carryPush(pend.newSeries[i]!);
      throw new SluiceError(ErrorCode.Unavailable, `WAL write failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    this.carryN = 0;
  }

  /**
   * seriesTo adds series `ref` (tenant first, as a label with an empty name) to a series record,
   * under its WAL id.
   */
  private seriesTo(e: RecordEncoder, head: Head, ref: number): void {
    const seg = head.series.seg(ref);
    const b = i32Base(ref);
    const addr = seg.i32[b + SeriesI32.LABELS_PTR]!;
    const len = seg.i32[b + SeriesI32.LABELS_LEN]!;
    const ls = decodeLabelBlob(head.arena.copy(addr, len), 0, len);
    const flat: string[] = ['', head.tenants[seg.i32[b + SeriesI32.TENANT]!]!];
    for (const [n, v] of ls) flat.push(n, v);
    e.series(head.walRefs[ref]!, flat);
  }

  private carryPush(ref: number): void {
    if (this.carryN === this.carry.length) {
      const next = new Int32Array(this.carry.length * 2);
      next.set(this.carry);
      this.carry = next;
    }
    this.carry[this.carryN++] = ref;
  }

  /** rotate starts a new segment and returns the number of the one it finished. */
  rotate(): number {
    return this.writer.rotate();
  }

  /** close syncs and closes the WAL. */
  close(): Promise<void> {
    return this.writer.close();
  }
}

/**
 * replay reads the WAL of `dir` into `head`, in order: the newest complete checkpoint first
 * (src/wal/checkpoint.ts), then the segments after it. Segments the checkpoint covers that a crash
 * left undeleted are not read again, so nothing is counted twice. A record that does not decode
 * is skipped and reported like framing corruption. Series left without any sample in the head
 * (all older than the head's lower bound, or none ever accepted) are dropped at the end, as the
 * next truncation would (headTruncate.ts).
 */
function replay(dir: string, head: Head): ReplayStats {
  const started = performance.now();
  const r = new Replayer(head);
  const corruptions: WalCorruption[] = [];
  const cp = lastCheckpoint(dir);
  if (cp >= 0) {
    // Spots in the checkpoint name it, as its segment numbers are not the WAL's. It was fsynced
    // before it was renamed into place, so a torn tail there is corruption too.
    const label = `${checkpointName(cp)}: `;
    const cr = new WalReader(join(dir, checkpointName(cp)), { onCorruption: (c) => corruptions.push({ ...c, reason: label + c.reason }) });
    r.read(cr, label, corruptions);
    if (cr.tornTail !== null) corruptions.push({ ...cr.tornTail, reason: `${label}segment ends inside a record` });
    const first = listSegments(dir).find((s) => s > cp);
    if (first !== undefined && first !== cp + 1) corruptions.push({ segment: cp + 1, offset: 0, reason: 'missing segment' });
  }
  const reader = new WalReader(dir, { from: cp + 1, onCorruption: (c) => corruptions.push(c) });
  r.read(reader, '', corruptions);
  const seriesDropped = dropEmptySeries(head);
  return { series: r.series, samples: r.out.appended, ms: performance.now() - started, corruptions, tornTail: reader.tornTail, checkpoint: cp, seriesDropped };
}

/** Replayer applies WAL records to a head; one per replay, shared by the checkpoint and the WAL. */
class Replayer {
  private readonly head: Head;
  private readonly hasher = new WasmXxh64();
  private readonly batch = new SampleBatch(4096);
  readonly out: BatchResult = { seq: 0, appended: 0, duplicate: 0, outOfOrder: 0, tooOld: 0, newSeries: 0 };
  /**
   * WAL id → head ref. A plain array: WAL ids are mostly dense (from 0 without GC, clustered
   * after it), and the hot loop below reads it once per sample.
   */
  private readonly refMap: number[] = [];
  series = 0;

  constructor(head: Head) {
    this.head = head;
  }

  /**
   * read applies every record of `reader`; a record that does not decode goes to `corruptions`
   * (its reason prefixed by `label`) and the rest of the WAL is read.
   */
  read(reader: WalReader, label: string, corruptions: WalCorruption[]): void {
    const { head, batch, out, refMap } = this;
    for (const rec of reader.records()) {
      try {
        const type = recordType(rec);
        if (type === RecordType.Series) decodeSeries(rec, this.onSeries);
        else if (type === RecordType.Samples) {
          decodeSamples(rec, batch);
          for (let i = 0; i < batch.length; i++) {
            const ref = refMap[batch.refs[i]!];
            if (ref === undefined) continue; // its series record was lost to corruption
            const lo = batch.lo[i]! | 0, hi = batch.hi[i]! | 0, t = batch.ts[i]!;
            if (accept(head, ref, t, lo, hi, out)) appendSample(head, ref, t, lo, hi);
          }
        }
      } catch (e) {
        if (!(e instanceof WalCorruptionError)) throw e;
        corruptions.push({ segment: reader.segment, offset: reader.offset, reason: label + e.reason });
      }
    }
  }

  private readonly onSeries = (ref: number, flat: string[]): void => {
    const head = this.head;
    const hasher = this.hasher;
    const tenant = flat[1]!;
    const ls: Labels = [];
    for (let i = 2; i < flat.length; i += 2) ls.push([flat[i]!, flat[i + 1]!]);
    const blob = encodeLabelBlob(ls);
    const tb = enc.encode(tenant);
    const lo = hasher.hashJoined(tb, 0xff, blob);
    const hi = hasher.hi | 0;
    const tid = head.tenantId(tenant);
    let r = lookupAligned(head, tid, lo, hi, blob);
    if (r === -1) {
      r = head.create(tid, lo, hi, blob, 0, blob.length);
      head.adoptWalRef(r, ref);
    } else if (ref > head.walRefs[r]!) {
      // The same labels under a newer id: the series was dropped and created again before the
      // checkpoint dropping the old id was written. The newer id is the one live (and checkpointed).
      head.adoptWalRef(r, ref);
    }
    this.refMap[ref] = r;
    this.series++;
  };
}

/** lookupAligned copies a blob to an 8-aligned buffer, as lookup compares it word-wise. */
function lookupAligned(head: Head, tid: number, lo: number, hi: number, blob: Uint8Array): number {
  const buf = new ArrayBuffer((blob.length + 7) & ~7);
  const bytes = new Uint8Array(buf);
  bytes.set(blob);
  return head.lookup(tid, lo, hi, bytes, new Uint32Array(buf), 0, blob.length);
}
