/**
 * SPSC byte ring over a SharedArrayBuffer: one gateway thread (the producer) hands batches of
 * series to one shard (the consumer). A shard has one ring per gateway thread, so every ring keeps
 * a single producer and needs no lock. Record framing is described in layout.ts. HEAD and TAIL
 * are free-running u32 byte counters; a record is always contiguous, a WRAP record fills the end
 * of the buffer when the next record does not fit.
 *
 * Publication protocol (do not reorder): the producer writes the record bytes, then
 * Atomics.store(HEAD), then bumps the shard's WAKE word and notifies it if it sleeps. The consumer reads HEAD
 * with Atomics.load before touching the bytes, and releases them with Atomics.store(TAIL) after.
 */
import { BatchKind, RING_CTL_BYTES, RingCtl, RESULT_BYTES, ShardCtl } from './layout.js';

/** RingBuffers are the SharedArrayBuffers of one ring; they are posted to both ends at start. */
export interface RingBuffers {
  ctl: SharedArrayBuffer;
  data: SharedArrayBuffer;
  results: SharedArrayBuffer;
}

/** createRingBuffers allocates a ring with `capacity` data bytes (a power of two ≥ 64 KiB). */
export function createRingBuffers(capacity: number): RingBuffers {
  if (capacity < 65536 || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`ring capacity must be a power of two ≥ 65536, got ${capacity}`);
  }
  return {
    ctl: new SharedArrayBuffer(RING_CTL_BYTES),
    data: new SharedArrayBuffer(capacity),
    results: new SharedArrayBuffer(RESULT_BYTES),
  };
}

/** RingProducer is a gateway thread's end of a ring. Not thread-safe: one producer only. */
export class RingProducer {
  readonly ctl: Int32Array<SharedArrayBuffer>;
  readonly u32: Uint32Array<SharedArrayBuffer>;
  /** 64-bit view for copying: TypedArray.set into shared memory copies element by element, so
   *  8-byte elements copy ~8× faster than bytes (integers, so no NaN bits are touched). */
  private readonly u64: BigUint64Array<SharedArrayBuffer>;
  private readonly shardCtl: Int32Array<SharedArrayBuffer>;
  readonly capacity: number;
  private readonly mask: number;
  private head = 0;

  constructor(b: RingBuffers, shardCtl: SharedArrayBuffer) {
    this.ctl = new Int32Array(b.ctl);
    this.u32 = new Uint32Array(b.data);
    this.u64 = new BigUint64Array(b.data);
    this.shardCtl = new Int32Array(shardCtl);
    this.capacity = b.data.byteLength;
    this.mask = this.capacity - 1;
    this.head = Atomics.load(this.ctl, RingCtl.HEAD) >>> 0;
  }

  /** used returns the bytes written and not yet released by the consumer. */
  used(): number {
    return (this.head - (Atomics.load(this.ctl, RingCtl.TAIL) >>> 0)) >>> 0;
  }

  /**
   * tryWrite copies one record (8-aligned length, already framed, `rec` 8-aligned in its buffer)
   * into the ring and publishes it. Returns false, writing nothing, when the ring lacks room; the
   * caller backs off.
   */
  tryWrite(rec: Uint8Array, len: number): boolean {
    if ((len & 7) !== 0 || (rec.byteOffset & 7) !== 0) throw new RangeError('ring records must be 8-byte aligned');
    const pos = this.head & this.mask;
    const toEnd = this.capacity - pos;
    const need = len <= toEnd ? len : toEnd + len;
    if (need > this.capacity - this.used()) return false;
    let at = pos;
    if (len > toEnd) {
      // Fill the tail of the buffer with a WRAP record and start over at 0.
      this.u32[pos >>> 2] = BatchKind.WRAP;
      this.u32[(pos >>> 2) + 1] = toEnd;
      at = 0;
    }
    this.u64.set(new BigUint64Array(rec.buffer, rec.byteOffset, len >>> 3), at >>> 3);
    this.head = (this.head + need) >>> 0;
    Atomics.store(this.ctl, RingCtl.HEAD, this.head | 0);
    Atomics.add(this.shardCtl, ShardCtl.WAKE, 1);
    // A busy shard finds the batch on its own; wake it only if it sleeps (layout.ts, ShardCtl).
    if (Atomics.load(this.shardCtl, ShardCtl.SLEEPING) !== 0) Atomics.notify(this.shardCtl, ShardCtl.WAKE);
    return true;
  }
}

/** RingConsumer is the shard's end of a ring. Not thread-safe: one consumer only. */
export class RingConsumer {
  readonly ctl: Int32Array<SharedArrayBuffer>;
  readonly bytes: Uint8Array<SharedArrayBuffer>;
  readonly u32: Uint32Array<SharedArrayBuffer>;
  readonly f64: Float64Array<SharedArrayBuffer>;
  readonly results: Int32Array<SharedArrayBuffer>;
  readonly capacity: number;
  private readonly mask: number;
  private tail: number;

  constructor(b: RingBuffers) {
    this.ctl = new Int32Array(b.ctl);
    this.bytes = new Uint8Array(b.data);
    this.u32 = new Uint32Array(b.data);
    this.f64 = new Float64Array(b.data);
    this.results = new Int32Array(b.results);
    this.capacity = b.data.byteLength;
    this.mask = this.capacity - 1;
    this.tail = Atomics.load(this.ctl, RingCtl.TAIL) >>> 0;
  }

  /**
   * next returns the byte offset of the next published record, or -1 when the ring is empty.
   * WRAP records are skipped here. The record stays owned by the consumer until release().
   */
  next(): number {
    for (;;) {
      const head = Atomics.load(this.ctl, RingCtl.HEAD) >>> 0;
      if (head === this.tail) return -1;
      const pos = this.tail & this.mask;
      if (this.u32[pos >>> 2] === BatchKind.WRAP) {
        this.tail = (this.tail + (this.capacity - pos)) >>> 0;
        continue;
      }
      return pos;
    }
  }

  /**
   * skipAll releases everything published so far without reading it. A restarted shard uses it
   * for the batches its predecessor left behind (their producers are answered through
   * RingCtl.SUBMIT_SEQ, see layout.ts); returns the bytes skipped.
   */
  skipAll(): number {
    const head = Atomics.load(this.ctl, RingCtl.HEAD) >>> 0;
    const skipped = (head - this.tail) >>> 0;
    this.tail = head;
    Atomics.store(this.ctl, RingCtl.TAIL, this.tail | 0);
    return skipped;
  }

  /** release frees the record at the current position, of `len` bytes. */
  release(len: number): void {
    this.tail = (this.tail + len) >>> 0;
    Atomics.store(this.ctl, RingCtl.TAIL, this.tail | 0);
  }
}
