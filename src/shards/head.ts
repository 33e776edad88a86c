/**
 * Head holds a shard's in-memory series: the series table and byte arena in SharedArrayBuffers
 * (readable by other threads, see src/sharedmem/headView.ts), the hash table that finds a series
 * by its hash, and one label index per tenant. Owned by the shard thread; nothing here is
 * thread-safe except what other threads read through the documented seqlock.
 *
 * Appending lives in headAppend.ts, index queries in headRead.ts.
 */
import { Arena } from '../sharedmem/arena.js';
import { SeriesTable, i32Base, f64Base } from '../sharedmem/seriesTable.js';
import { ARENA_SEG_SHIFT, SeriesI32, SeriesF64 } from '../sharedmem/layout.js';
import { offsetOf } from '../sharedmem/arena.js';
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
}

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

  constructor(opts: HeadOptions) {
    this.opts = opts;
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
   * create adds a series with the label blob at src[off, off+len), indexes it and returns its ref.
   * The label strings are decoded once here; the index keeps them.
   */
  create(tenant: number, hashLo: number, hashHi: number, src: Uint8Array, off: number, len: number): number {
    const ref = this.series.add();
    const seg = this.series.seg(ref);
    const b = i32Base(ref);
    const f = f64Base(ref);
    const addr = this.arena.alloc(len);
    this.arena.segmentOf(addr).set(src.subarray(off, off + len), offsetOf(addr));
    const i32 = seg.i32;
    i32[b + SeriesI32.TENANT] = tenant;
    i32[b + SeriesI32.LABELS_PTR] = addr;
    i32[b + SeriesI32.LABELS_LEN] = len;
    i32[b + SeriesI32.HASH_LO] = hashLo;
    i32[b + SeriesI32.HASH_HI] = hashHi;
    seg.f64[f + SeriesF64.LAST_T] = -Infinity;
    seg.f64[f + SeriesF64.FIRST_T] = Infinity;
    this.map.insert(hashLo, ref, this.hashLoOf);
    // Index the label pairs (off the per-sample path: once per new series).
    const names: string[] = [];
    const values: string[] = [];
    let p = off;
    const end = off + len;
    while (p < end) {
      let q = p;
      while (src[q] !== LABEL_SEP) q++;
      names.push(utf8.decode(src.subarray(p, q)));
      p = q + 1;
      q = p;
      while (src[q] !== LABEL_SEP) q++;
      values.push(utf8.decode(src.subarray(p, q)));
      p = q + 1;
    }
    this.indexes[tenant]!.add(ref, names, values);
    this.tenantSeries[tenant]!++;
    return ref;
  }

  /** memoryBytes is the SharedArrayBuffer memory of the head plus its hash table. */
  memoryBytes(): number {
    return this.series.reservedBytes() + this.arena.reservedBytes() + this.map.memoryBytes();
  }
}
