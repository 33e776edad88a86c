/**
 * Byte arena of chained fixed-size SharedArrayBuffer segments. The owning shard allocates and
 * writes; other threads may read the segments they were sent (see ArenaView). Segments are never
 * grown or shrunk (a growable SAB cannot shrink and fixed views do not follow growth); capacity
 * is added by chaining a new segment, which the owner announces through `onSegment`.
 *
 * Addresses are i32: (segment << ARENA_SEG_SHIFT) | offset. 0 is reserved and means "none".
 * Allocations are 8-byte aligned. Head-chunk slots come from per-size-class free lists so a chunk
 * that moves to a bigger slot gives its old slot back.
 */
import { ARENA_MAX_SEGMENTS, ARENA_SEG_SHIFT, ARENA_SEGMENT_BYTES, CHUNK_SLOT_CLASSES } from './layout.js';

const OFFSET_MASK = ARENA_SEGMENT_BYTES - 1;

/** ArenaView reads an arena's segments from any thread. */
export class ArenaView {
  readonly segments: Uint8Array<SharedArrayBuffer>[] = [];
  readonly views: DataView<SharedArrayBuffer>[] = [];
  /** 32-bit views, for comparing 8-aligned allocations a word at a time. */
  readonly words: Uint32Array<SharedArrayBuffer>[] = [];

  /** addSegment registers segment `index`, received from the owner. */
  addSegment(index: number, sab: SharedArrayBuffer): void {
    this.segments[index] = new Uint8Array(sab);
    this.views[index] = new DataView(sab);
    this.words[index] = new Uint32Array(sab);
  }

  /** bytes returns the segment holding `addr`; use with offsetOf(addr). */
  segmentOf(addr: number): Uint8Array<SharedArrayBuffer> {
    const s = this.segments[addr >>> ARENA_SEG_SHIFT];
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

/** Arena is the owner's allocator. Owned by one shard thread. */
export class Arena extends ArenaView {
  private cur = -1;
  private bump = 0;
  private readonly free: number[][] = CHUNK_SLOT_CLASSES.map(() => []);
  /** Bytes handed out and not freed. */
  allocated = 0;

  private readonly onSegment: (index: number, sab: SharedArrayBuffer) => void;

  constructor(onSegment: (index: number, sab: SharedArrayBuffer) => void) {
    super();
    this.onSegment = onSegment;
    this.newSegment();
    this.bump = 8; // address 0 means "none"
  }

  /** reservedBytes is the SharedArrayBuffer memory this arena holds. */
  reservedBytes(): number {
    return this.segments.length * ARENA_SEGMENT_BYTES;
  }

  private newSegment(): void {
    if (this.segments.length >= ARENA_MAX_SEGMENTS) {
      throw new RangeError(`arena full: ${ARENA_MAX_SEGMENTS} segments of ${ARENA_SEGMENT_BYTES} bytes`);
    }
    const sab = new SharedArrayBuffer(ARENA_SEGMENT_BYTES);
    this.cur = this.segments.length;
    this.addSegment(this.cur, sab);
    this.bump = 0;
    this.onSegment(this.cur, sab);
  }

  /** alloc returns the address of `size` fresh bytes (8-aligned), contents unspecified. */
  alloc(size: number): number {
    const n = (size + 7) & ~7;
    if (n > ARENA_SEGMENT_BYTES) throw new RangeError(`allocation of ${size} bytes exceeds an arena segment`);
    if (this.bump + n > ARENA_SEGMENT_BYTES) this.newSegment();
    const addr = (this.cur << ARENA_SEG_SHIFT) | this.bump;
    this.bump += n;
    this.allocated += n;
    return addr;
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
