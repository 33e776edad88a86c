/**
 * Byte arena of chained fixed-size SharedArrayBuffer segments. The owning shard allocates and
 * writes; other threads may read the segments they were sent (see ArenaView). Segments are never
 * grown or shrunk (a growable SAB cannot shrink and fixed views do not follow growth); capacity
 * is added by chaining a new segment, which the owner announces through `onSegment`.
 *
 * Addresses are i32: (segment << ARENA_SEG_SHIFT) | offset. 0 is reserved and means "none".
 * Allocations are 8-byte aligned. Head-chunk slots come from per-size-class free lists so a chunk
 * that moves to a bigger slot gives its old slot back.
 *
 * Generations: label blobs and head-chunk slots live as long as the head (the persistent
 * generation); closed chunks are allocated in the generation of their block range (chunkMint /
 * block duration), so when a range has been written to a block and the head truncated, its
 * segments are dropped whole (`dropGenerationsBefore`) and readers are told to forget them. A
 * dropped segment's index is reused only after SEGMENT_QUARANTINE_MS, long enough for any reader
 * still walking an old chunk chain to notice the series' seqlock moved (headView.ts) and retry.
 */
import { ARENA_MAX_SEGMENTS, ARENA_SEG_SHIFT, ARENA_SEGMENT_BYTES, CHUNK_SLOT_CLASSES } from './layout.js';

const OFFSET_MASK = ARENA_SEGMENT_BYTES - 1;

/** ArenaView reads an arena's segments from any thread. */
export class ArenaView {
  readonly segments: (Uint8Array<SharedArrayBuffer> | undefined)[] = [];
  readonly views: (DataView<SharedArrayBuffer> | undefined)[] = [];
  /** 32-bit views, for comparing 8-aligned allocations a word at a time. */
  readonly words: (Uint32Array<SharedArrayBuffer> | undefined)[] = [];

  /**
   * refresh, when set, takes the segment news waiting for this reader (synchronously) and says
   * whether there were any: called when an address names a segment this view does not know.
   */
  refresh: (() => boolean) | undefined;

  /** addSegment registers segment `index`, received from the owner. */
  addSegment(index: number, sab: SharedArrayBuffer): void {
    this.segments[index] = new Uint8Array(sab);
    this.views[index] = new DataView(sab);
    this.words[index] = new Uint32Array(sab);
  }

  /** dropSegment forgets segment `index` (its generation was truncated). */
  dropSegment(index: number): void {
    this.segments[index] = undefined;
    this.views[index] = undefined;
    this.words[index] = undefined;
  }

  /** bytes returns the segment holding `addr`; use with offsetOf(addr). */
  segmentOf(addr: number): Uint8Array<SharedArrayBuffer> {
    const s = this.segments[addr >>> ARENA_SEG_SHIFT];
    return s !== undefined ? s : this.missing(addr);
  }

  /** viewOf returns the DataView of the segment holding `addr`, or undefined if it is gone. */
  viewOf(addr: number): DataView<SharedArrayBuffer> | undefined {
    const v = this.views[addr >>> ARENA_SEG_SHIFT];
    if (v !== undefined || this.refresh === undefined || !this.refresh()) return v;
    return this.views[addr >>> ARENA_SEG_SHIFT];
  }

  private missing(addr: number): Uint8Array<SharedArrayBuffer> {
    const s = this.refresh?.() === true ? this.segments[addr >>> ARENA_SEG_SHIFT] : undefined;
    if (s === undefined) throw new RangeError(`arena segment ${addr >>> ARENA_SEG_SHIFT} unknown`);
    return s;
  }

  /** copy copies `len` bytes at `addr` into a new Uint8Array. */
  copy(addr: number, len: number): Uint8Array {
    const seg = this.segmentOf(addr);
    const off = addr & OFFSET_MASK;
    return seg.slice(off, off + len);
  }
}

/** offsetOf returns the byte offset of an arena address within its segment. */
export function offsetOf(addr: number): number {
  return addr & OFFSET_MASK;
}

/** GEN_PERSISTENT is the generation of label blobs and head-chunk slots. */
export const GEN_PERSISTENT = -1;

/** SEGMENT_QUARANTINE_MS is how long a dropped segment's index stays unused. */
export const SEGMENT_QUARANTINE_MS = 60_000;

interface Generation {
  cur: number;
  bump: number;
  segs: number[];
}

/** Arena is the owner's allocator. Owned by one shard thread. */
export class Arena extends ArenaView {
  private readonly gens = new Map<number, Generation>();
  private readonly persistent: Generation;
  private readonly free: number[][] = CHUNK_SLOT_CLASSES.map(() => []);
  /** Dropped segment indexes and when they were dropped, oldest first. */
  private readonly quarantine: { index: number; at: number }[] = [];
  private live = 0;
  /** Bytes handed out and not freed. */
  allocated = 0;

  private readonly onSegment: (index: number, sab: SharedArrayBuffer) => void;
  private readonly onDrop: (index: number) => void;

  constructor(onSegment: (index: number, sab: SharedArrayBuffer) => void, onDrop: (index: number) => void = () => {}) {
    super();
    this.onSegment = onSegment;
    this.onDrop = onDrop;
    this.persistent = { cur: -1, bump: 0, segs: [] };
    this.gens.set(GEN_PERSISTENT, this.persistent);
    this.newSegment(this.persistent);
    this.persistent.bump = 8; // address 0 means "none"
  }

  /** reservedBytes is the SharedArrayBuffer memory this arena holds. */
  reservedBytes(): number {
    return this.live * ARENA_SEGMENT_BYTES;
  }

  private newSegment(g: Generation): void {
    let index = this.segments.length;
    const q = this.quarantine[0];
    if (q !== undefined && performance.now() - q.at >= SEGMENT_QUARANTINE_MS) {
      index = q.index;
      this.quarantine.shift();
    } else if (index >= ARENA_MAX_SEGMENTS) {
      throw new RangeError(`arena full: ${ARENA_MAX_SEGMENTS} segments of ${ARENA_SEGMENT_BYTES} bytes`);
    }
    const sab = new SharedArrayBuffer(ARENA_SEGMENT_BYTES);
    this.addSegment(index, sab);
    this.live++;
    g.cur = index;
    g.bump = 0;
    g.segs.push(index);
    this.onSegment(index, sab);
  }

  /** alloc returns the address of `size` fresh bytes (8-aligned) of the persistent generation. */
  alloc(size: number): number {
    return this.allocIn(this.persistent, size);
  }

  /** allocGen returns `size` fresh bytes in generation `gen` (a block range number). */
  allocGen(gen: number, size: number): number {
    let g = this.gens.get(gen);
    if (g === undefined) {
      g = { cur: -1, bump: ARENA_SEGMENT_BYTES, segs: [] };
      this.gens.set(gen, g);
    }
    return this.allocIn(g, size);
  }

  private allocIn(g: Generation, size: number): number {
    const n = (size + 7) & ~7;
    if (n > ARENA_SEGMENT_BYTES) throw new RangeError(`allocation of ${size} bytes exceeds an arena segment`);
    if (g.bump + n > ARENA_SEGMENT_BYTES) this.newSegment(g);
    const addr = (g.cur << ARENA_SEG_SHIFT) | g.bump;
    g.bump += n;
    this.allocated += n;
    return addr;
  }

  /**
   * dropGenerationsBefore frees every generation numbered below `gen` (never the persistent
   * one). The caller must have unlinked every chunk in them first. Returns the bytes freed.
   */
  dropGenerationsBefore(gen: number): number {
    let freed = 0;
    const now = performance.now();
    for (const [k, g] of this.gens) {
      if (k === GEN_PERSISTENT || k >= gen) continue;
      for (const index of g.segs) {
        this.dropSegment(index);
        this.live--;
        this.quarantine.push({ index, at: now });
        this.onDrop(index);
        freed += ARENA_SEGMENT_BYTES;
      }
      this.gens.delete(k);
    }
    return freed;
  }

  /** allocSlot returns a head-chunk slot of size class `cls` (index into CHUNK_SLOT_CLASSES). */
  allocSlot(cls: number): number {
    const list = this.free[cls]!;
    const size = CHUNK_SLOT_CLASSES[cls]!;
    if (list.length > 0) {
      this.allocated += size;
      return list.pop()!;
    }
    return this.alloc(size);
  }

  /** freeSlot returns a slot of class `cls` for reuse. */
  freeSlot(addr: number, cls: number): void {
    this.free[cls]!.push(addr);
    this.allocated -= CHUNK_SLOT_CLASSES[cls]!;
  }
}

/** slotClassFor returns the smallest size class holding `bytes`, or -1 if none does. */
export function slotClassFor(bytes: number): number {
  for (let i = 0; i < CHUNK_SLOT_CLASSES.length; i++) if (CHUNK_SLOT_CLASSES[i]! >= bytes) return i;
  return -1;
}
