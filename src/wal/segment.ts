/**
 * WAL segments: the page framing of records on disk (docs/format/wal.md). A WAL is a directory
 * of segment files named by an 8-digit sequence number; each segment is a run of 32 KiB pages and
 * each page holds fragments `type <1b> │ len <2b, BE> │ CRC32C <4b, BE> │ data`. WalWriter appends
 * records in batches and rotates segments, WalReader replays them, tolerating a torn tail and
 * skipping corruption. Checkpoint directory names are defined here too (checkpoint.ts writes
 * them), so the writer never reuses a segment number a checkpoint covers.
 */
import {
  closeSync, fstatSync, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync,
  readSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, SluiceError } from '../errors.js';
import { crc32c } from './crc32c.js';
import { lz4, lz4Available, type Lz4 } from './lz4.js';
import { RecordType } from './records.js';

/** PAGE_SIZE is the size of a WAL page; fragments never cross a page boundary. */
export const PAGE_SIZE = 32 * 1024;
/** HEADER_SIZE is the size of a fragment header: type, length, CRC32C. */
export const HEADER_SIZE = 7;
/** DEFAULT_SEGMENT_SIZE is the size at which the writer starts a new segment (128 MiB). */
export const DEFAULT_SEGMENT_SIZE = 128 * 1024 * 1024;
/** FragmentType lists the values of the low 3 bits of a fragment's type byte. */
export const FragmentType = { Pad: 0, Full: 1, First: 2, Middle: 3, Last: 4 } as const;
export type FragmentType = (typeof FragmentType)[keyof typeof FragmentType];
/** LZ4_FLAG marks a fragment of an lz4-compressed record (Prometheus uses 0x08 for snappy). */
export const LZ4_FLAG = 0x20;

/** FsyncMode says when the writer fsyncs: never, once per group of log calls, or per call. */
export type FsyncMode = 'off' | 'batch' | 'always';
/**
 * Compression says which records are lz4-compressed before framing (each only if it shrinks):
 * none, all, or 'auto': Series records only, where lz4 measured as fast as none and 5-6x smaller
 * (for Samples records it measured ~40% slower for ~20% less size; docs/format/wal.md).
 */
export type Compression = 'none' | 'lz4' | 'auto';

/** WalPosition names a byte of the WAL: segment number and byte offset in it. */
export interface WalPosition {
  segment: number;
  offset: number;
}
/** WalCorruption is a damaged spot the reader skipped; `offset` is the fragment it failed at. */
export interface WalCorruption extends WalPosition {
  reason: string;
}

/** segmentName returns the file name of segment `n` (`%08d`). */
export function segmentName(n: number): string {
  return String(n).padStart(8, '0');
}

/** listSegments returns the segment numbers found in `dir`, ascending. */
export function listSegments(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync(dir)) if (/^\d{8,}$/.test(name)) out.push(Number(name));
  return out.sort((a, b) => a - b);
}

/**
 * checkpointName returns the directory name of the checkpoint covering segments `≤ n`
 * (`checkpoint.%08d`; src/wal/checkpoint.ts writes it).
 */
export function checkpointName(n: number): string {
  return `checkpoint.${segmentName(n)}`;
}

/**
 * listCheckpoints returns the numbers of the complete checkpoints in `dir`, ascending. A
 * checkpoint being written (`checkpoint.N.tmp`) is not complete and not listed.
 */
export function listCheckpoints(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const m = /^checkpoint\.(\d{8,})$/.exec(e.name);
    if (m !== null && e.isDirectory()) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/** lastCheckpoint returns the number of the newest complete checkpoint in `dir`, or -1. */
export function lastCheckpoint(dir: string): number {
  const cps = listCheckpoints(dir);
  return cps.length > 0 ? cps[cps.length - 1]! : -1;
}

/** WalWriterOptions configures a WalWriter; all fields are optional. */
export interface WalWriterOptions {
  /** segmentSize is the size at which a new segment starts, a multiple of PAGE_SIZE (128 MiB). */
  segmentSize?: number;
  /** fsync is when data is made durable before `log` resolves ('batch'). */
  fsync?: FsyncMode;
  /** compression of records ('auto'; falls back to 'none' when lz4 cannot load). */
  compression?: Compression;
}

/**
 * WalWriter appends records to the WAL in `dir`. Writes are synchronous, one write per `log`
 * call (per segment touched); durability follows the fsync mode and is what `log`'s promise waits
 * for. One writer per directory.
 */
export class WalWriter {
  readonly dir: string;
  private readonly segmentSize: number;
  private readonly mode: FsyncMode;
  private readonly codec: Lz4 | null;
  private readonly compressAll: boolean;
  private fd = -1;
  private seg = 0;
  /** written is the number of bytes already in the current segment file. */
  private written = 0;
  /** out holds bytes framed by the current `log` call, not yet written (they go at `written`). */
  private out: Buffer = Buffer.allocUnsafe(4 * PAGE_SIZE);
  private outLen = 0;
  private closed = false;
  /** group is the set of 'batch' callers waiting for the next fsync; syncing, whether one runs. */
  private group: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;
  private syncing = false;
  private readonly inflight = new Set<Promise<void>>();
  /** retired holds descriptors of finished segments, closed once no fsync may still use them. */
  private retired: number[] = [];

  private constructor(dir: string, opts: WalWriterOptions) {
    this.dir = dir;
    this.segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    if (this.segmentSize < PAGE_SIZE || this.segmentSize % PAGE_SIZE !== 0) {
      throw new SluiceError(ErrorCode.Config, `WAL segment size ${this.segmentSize} is not a positive multiple of ${PAGE_SIZE}`);
    }
    this.mode = opts.fsync ?? 'batch';
    const c = opts.compression ?? 'auto';
    this.codec = c === 'lz4' ? lz4() : c === 'auto' && lz4Available() ? lz4() : null;
    this.compressAll = c === 'lz4';
  }

  /**
   * open opens (creating if needed) the WAL in `dir`. If the last segment ends in a torn record,
   * the tail is cut and writing continues there; if it holds corruption, a new segment is started
   * so nothing readable is destroyed. Numbering continues after the newest checkpoint: a segment
   * it covers is never written again (replay would skip it).
   */
  static open(dir: string, opts: WalWriterOptions = {}): WalWriter {
    const w = new WalWriter(dir, opts);
    mkdirSync(dir, { recursive: true });
    const segs = listSegments(dir);
    const last = segs[segs.length - 1];
    const covered = lastCheckpoint(dir);
    if (last === undefined || last <= covered) {
      w.startSegment(covered + 1);
      return w;
    }
    const r = new WalReader(dir, { from: last });
    for (const rec of r.records()) void rec;
    if (r.corruptions.length > 0) {
      w.startSegment(last + 1);
      return w;
    }
    w.seg = last;
    w.fd = openSync(join(dir, segmentName(last)), 'r+');
    w.written = r.endOffset;
    if (fstatSync(w.fd).size > w.written) {
      ftruncateSync(w.fd, w.written);
      if (w.mode !== 'off') fsyncSync(w.fd);
    }
    return w;
  }

  /** segment is the number of the segment being written. */
  get segment(): number {
    return this.seg;
  }

  /** offset is the number of bytes in the current segment. */
  get offset(): number {
    return this.written;
  }

  /**
   * log appends `recs` in order (each compressed first if enabled and smaller) and resolves once
   * they are as durable as the fsync mode promises. Each record must fit an empty segment
   * uncompressed, else the whole batch is refused (TooLarge) and nothing is written.
   */
  log(recs: readonly Uint8Array[]): Promise<void> {
    try {
      if (this.closed) throw new SluiceError(ErrorCode.Unavailable, 'WAL writer is closed');
      for (const rec of recs) {
        if (WalWriter.endOf(0, rec.length) > this.segmentSize) {
          throw new SluiceError(ErrorCode.TooLarge, `WAL record of ${rec.length} bytes does not fit a ${this.segmentSize}-byte segment`);
        }
      }
      for (const rec of recs) this.append(rec);
      this.flush();
    } catch (e) {
      // Keep the segment consistent: drop the bytes a failed write left after the last whole
      // log call (a partial write on a full disk), so the next call continues from there.
      this.outLen = 0;
      try { ftruncateSync(this.fd, this.written); } catch { /* the next write overwrites them */ }
      return Promise.reject(e);
    }
    if (this.mode === 'off') return Promise.resolve();
    if (this.mode === 'always') return this.track(this.fsyncAsync(this.fd));
    if (this.group === null) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      this.group = { promise, resolve, reject };
      if (!this.syncing) queueMicrotask(() => this.syncGroup());
    }
    return this.group.promise;
  }

  /**
   * rotate finishes the current segment (fsynced unless fsync is 'off') and starts the next one;
   * it returns the number of the segment it finished. Every record logged before the call is in
   * a segment `≤` that number, which the writer never touches again (a checkpoint may read and
   * delete it). An empty segment is finished too, so the number always advances.
   */
  rotate(): number {
    if (this.closed) throw new SluiceError(ErrorCode.Unavailable, 'WAL writer is closed');
    const done = this.seg;
    this.startSegment(done + 1);
    return done;
  }

  /** close waits for running fsyncs, syncs (unless fsync is 'off') and closes the segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.inflight.size > 0 || this.syncing) {
      await Promise.allSettled([...this.inflight]);
      if (this.syncing) await new Promise((r) => setImmediate(r));
    }
    if (this.mode !== 'off') fsyncSync(this.fd);
    closeSync(this.fd);
    for (const fd of this.retired) closeSync(fd);
    this.retired = [];
  }

  /** syncGroup fsyncs for the waiting group; callers arriving meanwhile form the next group. */
  private syncGroup(): void {
    const g = this.group;
    if (g === null || this.syncing) return;
    this.group = null;
    this.syncing = true;
    this.track(this.fsyncAsync(this.fd)).then(
      () => { this.syncing = false; g.resolve(); this.syncGroup(); },
      (e: unknown) => { this.syncing = false; g.reject(e); this.syncGroup(); },
    );
  }

  private fsyncAsync(fd: number): Promise<void> {
    return new Promise((res, rej) => fsync(fd, (err) => (err ? rej(err) : res())));
  }

  private track(p: Promise<void>): Promise<void> {
    this.inflight.add(p);
    const done = (): void => {
      this.inflight.delete(p);
      if (this.inflight.size === 0 && this.retired.length > 0) {
        for (const fd of this.retired) closeSync(fd);
        this.retired = [];
      }
    };
    p.then(done, done);
    return p;
  }

  /** endOf returns where a `n`-byte record would end if framed from segment offset `pos`. */
  private static endOf(pos: number, n: number): number {
    let left = n;
    for (;;) {
      const pageLeft = PAGE_SIZE - (pos % PAGE_SIZE);
      if (pageLeft <= HEADER_SIZE) pos += pageLeft;
      if (pageLeft <= HEADER_SIZE) continue;
      const take = Math.min(pageLeft - HEADER_SIZE, left);
      pos += HEADER_SIZE + take;
      left -= take;
      if (left === 0) return pos;
    }
  }

  private append(rec: Uint8Array): void {
    let data = rec;
    let flag = 0;
    if (this.codec !== null && rec.length > 0 && (this.compressAll || rec[0] === RecordType.Series)) {
      const c = this.codec.compress(rec);
      if (c.length < rec.length) [data, flag] = [c, LZ4_FLAG];
    }
    const n = data.length;
    let pos = this.written + this.outLen;
    if (WalWriter.endOf(pos, n) > this.segmentSize && pos > 0) {
      this.flush();
      this.startSegment(this.seg + 1);
      pos = 0;
    }
    this.reserve(WalWriter.endOf(pos, n) - pos);
    const out = this.out;
    let o = this.outLen;
    let i = 0;
    for (;;) {
      const pageLeft = PAGE_SIZE - (pos % PAGE_SIZE);
      if (pageLeft <= HEADER_SIZE) {
        out.fill(0, o, o + pageLeft);
        o += pageLeft;
        pos += pageLeft;
        continue;
      }
      const take = Math.min(pageLeft - HEADER_SIZE, n - i);
      const last = i + take === n;
      const type = i === 0 ? (last ? FragmentType.Full : FragmentType.First) : last ? FragmentType.Last : FragmentType.Middle;
      out[o] = type | flag;
      out.writeUInt16BE(take, o + 1);
      out.writeUInt32BE(crc32c(data, i, take), o + 3);
      out.set(data.subarray(i, i + take), o + HEADER_SIZE);
      o += HEADER_SIZE + take;
      pos += HEADER_SIZE + take;
      i += take;
      if (last) break;
    }
    this.outLen = o;
  }

  private reserve(n: number): void {
    if (this.outLen + n <= this.out.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.outLen + n));
    this.out.copy(next, 0, 0, this.outLen);
    this.out = next;
  }

  /** flush writes the framed bytes to the current segment in one write call. */
  private flush(): void {
    let off = 0;
    while (off < this.outLen) off += writeSync(this.fd, this.out, off, this.outLen - off, this.written + off);
    this.written += this.outLen;
    this.outLen = 0;
  }

  /**
   * startSegment creates segment `n` and finishes the current one (if any). The new file is
   * opened first, so a failure to create it (disk full) leaves the writer on its old segment.
   */
  private startSegment(n: number): void {
    const fd = openSync(join(this.dir, segmentName(n)), 'w');
    const old = this.fd;
    this.fd = fd;
    this.seg = n;
    this.written = 0;
    if (old >= 0) {
      try {
        if (this.mode !== 'off') fsyncSync(old);
      } finally {
        if (this.inflight.size > 0) this.retired.push(old);
        else closeSync(old);
      }
    }
    if (this.mode === 'off') return;
    const dfd = openSync(this.dir, 'r'); // make the new file's name durable too
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  }
}

/** WalReaderOptions configures a WalReader. */
export interface WalReaderOptions {
  /** from is the first segment to read (default: the first one present). */
  from?: number;
  /** to is the last segment to read (default: the last one present). */
  to?: number;
  /** onCorruption is called for each corruption as it is found (they are also collected). */
  onCorruption?: (c: WalCorruption) => void;
}

/** CHUNK is how much of a segment is read at a time (a whole number of pages). */
const CHUNK = 32 * PAGE_SIZE;

/**
 * WalReader replays the records of a WAL directory in order. A torn tail in the last segment ends
 * reading at the last whole record and is reported in `tornTail`; corruption elsewhere is
 * collected in `corruptions` and reading resumes at the next page.
 */
export class WalReader {
  readonly dir: string;
  /** corruptions found so far, in WAL order. */
  readonly corruptions: WalCorruption[] = [];
  /** tornTail is where the last segment's incomplete tail begins, or null if it ended cleanly. */
  tornTail: WalPosition | null = null;
  /** segment and offset locate the first fragment of the record last yielded. */
  segment = -1;
  offset = 0;
  /** endOffset is, after reading, where the last whole record (or page padding) of the last segment ends. */
  endOffset = 0;
  private readonly from: number;
  private readonly to: number;
  private readonly onCorruption: ((c: WalCorruption) => void) | undefined;
  private readonly buf: Buffer = Buffer.allocUnsafe(CHUNK);
  private rec: Buffer = Buffer.allocUnsafe(4 * PAGE_SIZE);

  constructor(dir: string, opts: WalReaderOptions = {}) {
    this.dir = dir;
    this.from = opts.from ?? 0;
    this.to = opts.to ?? Infinity;
    this.onCorruption = opts.onCorruption;
  }

  /**
   * records yields every readable record in order. A yielded array may be a view of an internal
   * buffer: use or copy it before asking for the next record.
   */
  *records(): Generator<Uint8Array, void, undefined> {
    const segs = listSegments(this.dir).filter((s) => s >= this.from && s <= this.to);
    for (let k = 0; k < segs.length; k++) {
      const s = segs[k]!;
      if (k > 0 && s !== segs[k - 1]! + 1) this.corrupt(segs[k - 1]! + 1, 0, 'missing segment');
      yield* this.readSegment(s, k === segs.length - 1);
    }
  }

  /** [Symbol.iterator] is `records()`, so a reader works in for-of. */
  [Symbol.iterator](): Generator<Uint8Array, void, undefined> {
    return this.records();
  }

  private corrupt(segment: number, offset: number, reason: string): void {
    this.corruptions.push({ segment, offset, reason });
    this.onCorruption?.({ segment, offset, reason });
  }

  private *readSegment(seg: number, isLast: boolean): Generator<Uint8Array, void, undefined> {
    const fd = openSync(join(this.dir, segmentName(seg)), 'r');
    try {
      const size = fstatSync(fd).size;
      const buf = this.buf;
      let [chunkStart, chunkEnd] = [0, 0]; // the bytes of the segment now in `buf`
      let goodEnd = 0; // end of the last whole record or padding
      let inRec = false; // a First fragment was read and its Last not yet
      let [recStart, recLen, recFlag] = [0, 0, 0]; // of the record being assembled
      let skipping = false; // after a resync: Middle/Last fragments of the dropped record are expected
      let lastBad = -1; // offset of the last corruption in this segment
      const fail = (off: number, reason: string): void => {
        this.corrupt(seg, off, reason);
        lastBad = off;
        inRec = false;
        skipping = true;
      };
      scan: for (let page = 0; page < size; page += PAGE_SIZE) {
        if (page >= chunkEnd) {
          const want = Math.min(CHUNK, size - page);
          for (let got = 0, n = 1; got < want && n > 0; got += n) n = readSync(fd, buf, got, want - got, page + got);
          chunkStart = page;
          chunkEnd = page + want;
        }
        const pageEnd = page + PAGE_SIZE;
        let p = page;
        while (p < pageEnd) {
          if (pageEnd - p < HEADER_SIZE) {
            // Too little room left for a fragment: the rest of the page is padding.
            if (pageEnd <= size && !inRec) goodEnd = pageEnd;
            break;
          }
          if (p + HEADER_SIZE > size) break scan; // end of data, or a torn header
          const b = p - chunkStart;
          const tb = buf[b]!;
          const type = tb & 0x07;
          const flag = tb & ~0x07;
          if (type === FragmentType.Pad) {
            const e = Math.min(pageEnd, size) - chunkStart;
            for (let i = b + 1; i < e; i++) {
              if (buf[i] !== 0) {
                fail(p, 'non-zero bytes in page padding');
                continue scan;
              }
            }
            if (pageEnd <= size && !inRec) goodEnd = pageEnd;
            continue scan;
          }
          const len = (buf[b + 1]! << 8) | buf[b + 2]!;
          const dataEnd = p + HEADER_SIZE + len;
          const badHeader =
            type > FragmentType.Last ? `invalid fragment type ${tb}`
            : flag !== 0 && flag !== LZ4_FLAG ? `unknown flags in fragment type byte 0x${tb.toString(16)}`
            : dataEnd > pageEnd ? `fragment length ${len} runs past the page end`
            : null;
          if (badHeader !== null) {
            fail(p, badHeader);
            continue scan;
          }
          if (dataEnd > size) break scan; // torn payload
          const want = buf.readUInt32BE(b + 3);
          if (crc32c(buf, b + HEADER_SIZE, len) !== want) {
            fail(p, 'CRC32C mismatch');
            continue scan;
          }
          const data = new Uint8Array(buf.buffer, buf.byteOffset + b + HEADER_SIZE, len);
          if (type === FragmentType.Full || type === FragmentType.First) {
            if (inRec) {
              fail(p, 'new record starts before the previous one ended');
              continue scan;
            }
            skipping = false;
            recStart = p;
            recFlag = flag;
            if (type === FragmentType.First) {
              inRec = true;
              this.addFragment(data, 0);
              recLen = len;
              p = dataEnd;
              continue;
            }
          } else {
            if (!inRec) {
              if (!skipping) {
                fail(p, 'middle or last fragment without a first one');
                continue scan;
              }
              p = dataEnd; // the rest of a record dropped at a resync
              continue;
            }
            if (flag !== recFlag) {
              fail(p, 'compression flag differs between fragments');
              continue scan;
            }
            this.addFragment(data, recLen);
            recLen += len;
            if (type === FragmentType.Middle) {
              p = dataEnd;
              continue;
            }
            inRec = false;
          }
          // A whole record: Full fragment, or Last fragment completing one.
          p = dataEnd;
          goodEnd = dataEnd;
          let rec = type === FragmentType.Full ? data : new Uint8Array(this.rec.buffer, this.rec.byteOffset, recLen);
          if (flag === LZ4_FLAG) {
            try {
              const plain = lz4().decompress(rec);
              if (plain.length <= rec.length) throw new Error('lz4: record did not shrink when compressed');
              rec = plain;
            } catch (e) {
              this.corrupt(seg, recStart, e instanceof Error ? e.message : String(e));
              lastBad = recStart;
              continue;
            }
          }
          this.segment = seg;
          this.offset = recStart;
          yield rec;
        }
      }
      if (isLast) this.endOffset = goodEnd;
      if (size > goodEnd && lastBad < goodEnd) {
        if (isLast) this.tornTail = { segment: seg, offset: goodEnd };
        else this.corrupt(seg, goodEnd, 'segment ends inside a record');
      }
    } finally {
      closeSync(fd);
    }
  }

  /** addFragment copies a fragment's data into the record buffer at `at`, growing it. */
  private addFragment(data: Uint8Array, at: number): void {
    if (at + data.length > this.rec.length) {
      const next = Buffer.allocUnsafe(Math.max(this.rec.length * 2, at + data.length));
      this.rec.copy(next, 0, 0, at);
      this.rec = next;
    }
    this.rec.set(data, at);
  }
}
