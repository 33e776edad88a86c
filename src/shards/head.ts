/**
 * Head holds a shard's in-memory series: the series table and byte arena in SharedArrayBuffers
 * (readable by other threads, see src/sharedmem/headView.ts), the hash table that finds a series
 * by its hash, one label index per tenant, and the series' lifecycle: creation, WAL ids, and
 * garbage collection of series left without data (`drop`). Owned by the shard thread; nothing
 * here is thread-safe except what other threads read through the documented seqlock.
 *
 * Series GC and ref reuse. A dropped series leaves the hash table and the label index at once,
 * so no query, label API or append finds it again (a new sample with the same labels creates a
 * new series). Its record stays as it was — labels intact, no chunk — so a reader that still
 * holds the ref (it asked for refs just before the drop) reads an empty series. Only after
 * `seriesQuarantineMs` (60 s, as dropped arena segments) are the record and its label blob handed
 * to new series; no reader keeps a ref that long (queries copy what they select at once, and the
 * block cutter, the only long reader, never overlaps a truncation).
 *
 * WAL ids. Because refs are reused, the WAL does not name series by ref but by a WAL id
 * (`walRefs[ref]`) that is never reused in the WAL directory's life: ids grow from 0, replay
 * gives each series back the id it was logged with, and new ids continue after the largest id
 * replayed (docs/format/wal.md, "Refs").
 *
 * Appending lives in headAppend.ts, index queries in headRead.ts, truncation in headTruncate.ts.
 */
import { Arena } from '../sharedmem/arena.js';
import { SeriesTable, i32Base, f64Base } from '../sharedmem/seriesTable.js';
import { ARENA_SEG_SHIFT, SeriesI32, SeriesF64 } from '../sharedmem/layout.js';
import { offsetOf, SEGMENT_QUARANTINE_MS } from '../sharedmem/arena.js';
import { SeriesMap } from './seriesMap.js';
import { TenantIndex } from './postings.js';
import { LABEL_SEP } from '../model/labels.js';

/** HeadOptions configures a head. */
export interface HeadOptions {
  /** Chunks never span a multiple of this many ms, so blocks can take chunks as they are. */
  blockDurationMs: number;
  /** Called when a new SharedArrayBuffer segment must be announced to readers. */
  onSegment: (kind: 'series' | 'arena', index: number, sab: SharedArrayBuffer) => void;
  /** Called when readers must forget an arena segment (its block range was truncated). */
  onDropSegment?: (index: number) => void;
  /**
   * How long a dropped series' record and label blob wait before a new series may take them
   * (ms; default SEGMENT_QUARANTINE_MS). Readers in other threads must not hold a ref longer.
   */
  seriesQuarantineMs?: number;
}

/** Free label blobs are reused by a blob at most this many bytes smaller (the rest is wasted). */
const BLOB_FIT_SLACK = 64;

const utf8 = new TextDecoder();

/** Head is the in-memory state of one shard. */
export class Head {
  readonly opts: HeadOptions;
  readonly series: SeriesTable;
  readonly arena: Arena;
  readonly map = new SeriesMap();
  /** Tenant names by shard-local tenant id. */
  readonly tenants: string[] = [];
  readonly tenantIds = new Map<string, number>();
  readonly indexes: TenantIndex[] = [];
  /** Active series per tenant id. */
  readonly tenantSeries: number[] = [];
  /**
   * Samples older than this are refused as out of bounds (409): their block range has been cut
   * (or is being cut) into a block. -Infinity until the first cut.
   */
  minValidT = -Infinity;
  /** Oldest and newest sample timestamps accepted (head time range; minT moves up on truncation). */
  minT = Infinity;
  maxT = -Infinity;

  /** walRefs[ref] is the WAL id of the series at `ref` (see the file comment). */
  walRefs = new Float64Array(1024);
  /** nextWalRef is the WAL id the next new series gets. */
  nextWalRef = 0;
  /** live[ref] is 1 while `ref` holds an indexed series; 0 once dropped, or never used. */
  live = new Uint8Array(1024);
  /** liveCount is the number of live series (all tenants). */
  liveCount = 0;
  /** blobCap[ref] is the bytes reserved for the series' label blob (≥ its length, 8-aligned). */
  private blobCap = new Int32Array(1024);
  private readonly quarantineMs: number;
  /** Dropped refs, oldest first from qFirst, with the time each was dropped. */
  private qRefs: number[] = [];
  private qAt: number[] = [];
  private qFirst = 0;
  /** Refs free for reuse (out of quarantine). */
  private freeRefs: number[] = [];
  /** Label blobs free for reuse, by reserved size: arena addresses. */
  private readonly freeBlobs = new Map<number, number[]>();
  /** freeBlobBytes is the bytes held in freeBlobs. */
  freeBlobBytes = 0;

  constructor(opts: HeadOptions) {
    this.opts = opts;
    this.quarantineMs = opts.seriesQuarantineMs ?? SEGMENT_QUARANTINE_MS;
    this.series = new SeriesTable((i, sab) => opts.onSegment('series', i, sab));
    this.arena = new Arena((i, sab) => opts.onSegment('arena', i, sab), (i) => opts.onDropSegment?.(i));
  }

  /** tenantId returns the shard-local id of a tenant, creating it on first use. */
  tenantId(name: string): number {
    let id = this.tenantIds.get(name);
    if (id === undefined) {
      id = this.tenants.length;
      this.tenants.push(name);
      this.tenantIds.set(name, id);
      this.indexes.push(new TenantIndex());
      this.tenantSeries.push(0);
    }
    return id;
  }

  /** hashLoOf reads the stored low hash word of a series (used when the hash table grows). */
  readonly hashLoOf = (ref: number): number => this.series.seg(ref).i32[i32Base(ref) + SeriesI32.HASH_LO]!;

  /**
   * lookup finds the series of `tenant` with the given hash and label blob (src bytes at off/len,
   * `off` 8-aligned; src32 a Uint32Array over the same buffer), or returns -1. Hot path: compares
   * the stored hash words first, then the label bytes a 32-bit word at a time (arena allocations
   * are 8-aligned too).
   */
  lookup(tenant: number, hashLo: number, hashHi: number, src: Uint8Array, src32: Uint32Array, off: number, len: number): number {
    const map = this.map;
    for (let ref = map.probeStart(hashLo); ref !== -1; ref = map.probeNext()) {
      const seg = this.series.seg(ref);
      const b = i32Base(ref);
      const i32 = seg.i32;
      if (i32[b + SeriesI32.HASH_LO] !== hashLo || i32[b + SeriesI32.HASH_HI] !== hashHi) continue;
      if (i32[b + SeriesI32.TENANT] !== tenant || i32[b + SeriesI32.LABELS_LEN] !== len) continue;
      const addr = i32[b + SeriesI32.LABELS_PTR]!;
      const words = this.arena.words[addr >>> ARENA_SEG_SHIFT]!;
      let p = offsetOf(addr) >>> 2;
      let i = off >>> 2;
      const wend = i + (len >>> 2);
      while (i < wend && words[p] === src32[i]) { p++; i++; }
      if (i !== wend) continue;
      const lab = this.arena.segmentOf(addr);
      let pb = p << 2;
      let ib = i << 2;
      const end = off + len;
      while (ib < end && lab[pb] === src[ib]) { pb++; ib++; }
      if (ib === end) return ref;
    }
    return -1;
  }

  /**
   * create adds a series with the label blob at src[off, off+len), indexes it and returns its ref
   * (a fresh one, or one out of quarantine); the series gets the next WAL id. The label strings
   * are decoded once here; the index keeps them.
   */
  create(tenant: number, hashLo: number, hashHi: number, src: Uint8Array, off: number, len: number): number {
    const ref = this.takeRef();
    const seg = this.series.seg(ref);
    const b = i32Base(ref);
    const f = f64Base(ref);
    const addr = this.allocBlob(ref, len);
    this.arena.segmentOf(addr).set(src.subarray(off, off + len), offsetOf(addr));
    const i32 = seg.i32;
    // A reused record is rewritten under its seqlock (nobody should be reading it by now).
    Atomics.add(i32, b + SeriesI32.SEQLOCK, 1);
    i32[b + SeriesI32.TENANT] = tenant;
    i32[b + SeriesI32.LABELS_PTR] = addr;
    i32[b + SeriesI32.LABELS_LEN] = len;
    i32[b + SeriesI32.CHUNK_PTR] = 0;
    i32[b + SeriesI32.CHUNK_CAP] = 0;
    i32[b + SeriesI32.CLOSED_PTR] = 0;
    i32[b + SeriesI32.LAST_V_LO] = 0;
    i32[b + SeriesI32.LAST_V_HI] = 0;
    i32[b + SeriesI32.NUM_CLOSED] = 0;
    i32[b + SeriesI32.HASH_LO] = hashLo;
    i32[b + SeriesI32.HASH_HI] = hashHi;
    seg.f64[f + SeriesF64.CHUNK_MINT] = 0;
    seg.f64[f + SeriesF64.LAST_T] = -Infinity;
    seg.f64[f + SeriesF64.FIRST_T] = Infinity;
    Atomics.add(i32, b + SeriesI32.SEQLOCK, 1);
    this.map.insert(hashLo, ref, this.hashLoOf);
    this.walRefs[ref] = this.nextWalRef++;
    this.live[ref] = 1;
    this.liveCount++;
    // Index the label pairs (off the per-sample path: once per new series).
    const names: string[] = [];
    const values: string[] = [];
    splitLabels(src, off, off + len, names, values);
    this.indexes[tenant]!.add(ref, names, values);
    this.tenantSeries[tenant]!++;
    return ref;
  }

  /**
   * adoptWalRef gives series `ref` the WAL id it was logged with (replay), and keeps new ids
   * above it.
   */
  adoptWalRef(ref: number, walRef: number): void {
    this.walRefs[ref] = walRef;
    if (walRef >= this.nextWalRef) this.nextWalRef = walRef + 1;
  }

  /**
   * drop removes the series `refs[0, n)` (live, without chunks) from the hash table and their
   * tenants' label indexes, in one batch per tenant, and quarantines their refs and label blobs
   * (see the file comment). The records keep their labels and stay without data.
   */
  drop(refs: Int32Array, n: number): void {
    if (n === 0) return;
    const now = performance.now();
    const byTenant = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const ref = refs[i]!;
      if (this.live[ref] !== 1) continue;
      const seg = this.series.seg(ref);
      const b = i32Base(ref);
      this.map.remove(seg.i32[b + SeriesI32.HASH_LO]!, ref, this.hashLoOf);
      this.live[ref] = 0;
      this.liveCount--;
      const tenant = seg.i32[b + SeriesI32.TENANT]!;
      let list = byTenant.get(tenant);
      if (list === undefined) byTenant.set(tenant, list = []);
      list.push(ref);
      this.qRefs.push(ref);
      this.qAt.push(now);
    }
    for (const [tenant, list] of byTenant) {
      this.indexes[tenant]!.remove(Int32Array.from(list), list.length, this.live, this.pairsOf);
      this.tenantSeries[tenant]! -= list.length;
    }
  }

  /** pairsOf fills the label names and values of series `ref` from its label blob. */
  readonly pairsOf = (ref: number, names: string[], values: string[]): void => {
    const seg = this.series.seg(ref);
    const b = i32Base(ref);
    const addr = seg.i32[b + SeriesI32.LABELS_PTR]!;
    const len = seg.i32[b + SeriesI32.LABELS_LEN]!;
    const off = offsetOf(addr);
    splitLabels(this.arena.segmentOf(addr), off, off + len, names, values);
  };

  /** quarantined is the number of dropped refs not yet free for reuse. */
  quarantined(): number {
    return this.qRefs.length - this.qFirst;
  }

  /** takeRef returns a ref for a new series: a free one if quarantine released any, else a fresh one. */
  private takeRef(): number {
    if (this.qFirst < this.qRefs.length) this.release(performance.now());
    const reused = this.freeRefs.pop();
    if (reused !== undefined) return reused;
    const ref = this.series.add();
    if (ref >= this.live.length) this.growSlots();
    return ref;
  }

  /** release frees the refs (and label blobs) whose quarantine has ended by `now`. */
  private release(now: number): void {
    const { qRefs, qAt } = this;
    let i = this.qFirst;
    while (i < qRefs.length && now - qAt[i]! >= this.quarantineMs) {
      const ref = qRefs[i++]!;
      this.freeRefs.push(ref);
      const cap = this.blobCap[ref]!;
      if (cap > 0) {
        const seg = this.series.seg(ref);
        let list = this.freeBlobs.get(cap);
        if (list === undefined) this.freeBlobs.set(cap, list = []);
        list.push(seg.i32[i32Base(ref) + SeriesI32.LABELS_PTR]!);
        this.blobCap[ref] = 0;
        this.freeBlobBytes += cap;
        this.arena.allocated -= cap;
      }
    }
    if (i === qRefs.length) {
      qRefs.length = 0;
      qAt.length = 0;
      i = 0;
    } else if (i > 4096 && i * 2 > qRefs.length) {
      qRefs.splice(0, i);
      qAt.splice(0, i);
      i = 0;
    }
    this.qFirst = i;
  }

  /**
   * allocBlob reserves room for a label blob of `len` bytes for series `ref`: a free blob of the
   * same 8-aligned size, or at most BLOB_FIT_SLACK bytes bigger, else fresh arena bytes.
   */
  private allocBlob(ref: number, len: number): number {
    const need = (len + 7) & ~7;
    if (this.freeBlobs.size > 0) {
      for (let cap = need; cap <= need + BLOB_FIT_SLACK; cap += 8) {
        const addr = this.freeBlobs.get(cap)?.pop();
        if (addr === undefined) continue;
        this.blobCap[ref] = cap;
        this.freeBlobBytes -= cap;
        this.arena.allocated += cap;
        return addr;
      }
    }
    this.blobCap[ref] = need;
    return this.arena.alloc(len);
  }

  private growSlots(): void {
    const n = this.live.length * 2;
    const live = new Uint8Array(n);
    live.set(this.live);
    this.live = live;
    const walRefs = new Float64Array(n);
    walRefs.set(this.walRefs);
    this.walRefs = walRefs;
    const blobCap = new Int32Array(n);
    blobCap.set(this.blobCap);
    this.blobCap = blobCap;
  }

  /**
   * memoryBytes is the SharedArrayBuffer memory of the head plus its hash table and per-ref
   * arrays. It follows the most series held at once: dropped series' space is reused, not
   * returned.
   */
  memoryBytes(): number {
    return this.series.reservedBytes() + this.arena.reservedBytes() + this.map.memoryBytes()
      + this.live.byteLength + this.walRefs.byteLength + this.blobCap.byteLength;
  }
}

/**
 * splitLabels decodes the label blob bytes[p, end) (name 0xFF value 0xFF …) into `names` and
 * `values`.
 */
function splitLabels(bytes: Uint8Array, p: number, end: number, names: string[], values: string[]): void {
  while (p < end) {
    let q = p;
    while (bytes[q] !== LABEL_SEP) q++;
    names.push(utf8.decode(bytes.subarray(p, q)));
    p = q + 1;
    q = p;
    while (bytes[q] !== LABEL_SEP) q++;
    values.push(utf8.decode(bytes.subarray(p, q)));
    p = q + 1;
  }
}

