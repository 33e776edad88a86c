/**
 * ShardLink is one gateway thread's door to one shard: it writes batches into their ring and
 * learns when they are appended by waiting on the ring's DONE_SEQ with Atomics.waitAsync (one
 * waiting loop per link, never a message per batch). Owned by one gateway thread.
 */
import { RingProducer, type RingBuffers } from '../sharedmem/ring.js';
import { RESULT_SLOTS, RESULT_SLOT_I32, ResultError, ResultSlot, RingCtl, ShardCtl, ShardState, WalErrno } from '../sharedmem/layout.js';
import { ErrorCode, SluiceError } from '../errors.js';

/** ShardResult is what one shard did with its part of a request. */
export interface ShardResult {
  appended: number;
  duplicate: number;
  outOfOrder: number;
  /** Older than the head's lower bound: that range is already in a block. */
  tooOld: number;
  newSeries: number;
}

interface Pending {
  seq: number;
  resolve: (r: ShardResult) => void;
  reject: (e: Error) => void;
}

/** walErrorText names the shard's last WAL write failure. */
function walErrorText(shardCtl: Int32Array): string {
  switch (Atomics.load(shardCtl, ShardCtl.WAL_ERROR)) {
    case WalErrno.ENOSPC: return 'ENOSPC: no space left on device';
    case WalErrno.EDQUOT: return 'EDQUOT: disk quota exceeded';
    case WalErrno.EIO: return 'EIO: input/output error';
    default: return 'write failed';
  }
}

/** At most this many batches may wait in one ring (well below RESULT_SLOTS). */
const MAX_PENDING_BATCHES = RESULT_SLOTS - 24;

/** ShardLink writes to one shard's ring and tracks its acknowledgements. */
export class ShardLink {
  readonly shard: number;
  readonly producer: RingProducer;
  private readonly ctl: Int32Array<SharedArrayBuffer>;
  private readonly results: Int32Array<SharedArrayBuffer>;
  private readonly shardCtl: Int32Array<SharedArrayBuffer>;
  private seq = 0;
  private readonly pending: Pending[] = [];
  private pendingHead = 0;
  private waiting = false;

  constructor(shard: number, ring: RingBuffers, shardCtl: SharedArrayBuffer) {
    this.shard = shard;
    this.producer = new RingProducer(ring, shardCtl);
    this.ctl = this.producer.ctl;
    this.results = new Int32Array(ring.results);
    this.shardCtl = new Int32Array(shardCtl);
    this.seq = Atomics.load(this.ctl, RingCtl.DONE_SEQ);
  }

  /** up tells whether the shard is running (not failed or restarting). */
  up(): boolean {
    return Atomics.load(this.shardCtl, ShardCtl.STATE) === ShardState.RUNNING;
  }

  /** inFlight is the number of batches written and not yet appended. */
  inFlight(): number {
    return this.pending.length - this.pendingHead;
  }

  /**
   * checkFits throws TooLarge for a batch of `len` bytes that could never fit the ring: a record
   * may have to wrap, so only one of at most half the ring is sure to find room once the ring
   * drains (a retry would never succeed).
   */
  checkFits(len: number): void {
    if (len > this.producer.capacity / 2) {
      throw new SluiceError(ErrorCode.TooLarge, `the request's ${len} bytes of series for shard ${this.shard} exceed half its write ring ` +
        `(${this.producer.capacity} bytes, --receive.ring-bytes): send smaller requests or raise --receive.ring-bytes`);
    }
  }

  /**
   * submit writes a framed batch (its seq field is set here) and resolves when the shard has
   * appended it. Throws Unavailable (retryable) when the shard is down or its ring is full. The
   * caller checks the batch fits the ring first (checkFits).
   */
  submit(rec: Uint8Array, len: number, u32: Uint32Array): Promise<ShardResult> {
    if (!this.up()) throw new SluiceError(ErrorCode.Unavailable, `shard ${this.shard} is unavailable`);
    if (this.inFlight() >= MAX_PENDING_BATCHES) {
      throw new SluiceError(ErrorCode.Unavailable, `shard ${this.shard} is overloaded: ${this.inFlight()} batches waiting`);
    }
    const seq = (this.seq + 1) | 0;
    u32[2] = seq >>> 0;
    // SUBMIT_SEQ before HEAD: a restarted shard that sees this batch also sees its seq (layout.ts).
    Atomics.store(this.ctl, RingCtl.SUBMIT_SEQ, seq);
    if (!this.producer.tryWrite(rec, len)) {
      Atomics.store(this.ctl, RingCtl.SUBMIT_SEQ, this.seq);
      throw new SluiceError(ErrorCode.Unavailable, `shard ${this.shard} is overloaded: write ring full (${this.producer.capacity} bytes)`);
    }
    this.seq = seq;
    return new Promise<ShardResult>((resolve, reject) => {
      this.pending.push({ seq, resolve, reject });
      if (!this.waiting) void this.waitDone();
    });
  }

  /** failAll rejects every pending batch (the shard died before appending them). */
  private failAll(): void {
    const err = new SluiceError(ErrorCode.Unavailable, `shard ${this.shard} is unavailable`);
    for (let i = this.pendingHead; i < this.pending.length; i++) this.pending[i]!.reject(err);
    this.pending.length = 0;
    this.pendingHead = 0;
  }

  /** waitDone resolves pending batches as DONE_SEQ advances; one loop per link at most. */
  private async waitDone(): Promise<void> {
    this.waiting = true;
    try {
      while (this.inFlight() > 0) {
        const done = Atomics.load(this.ctl, RingCtl.DONE_SEQ);
        let progressed = false;
        while (this.pendingHead < this.pending.length) {
          const p = this.pending[this.pendingHead]!;
          if (((done - p.seq) | 0) < 0) break;
          const o = (p.seq & (RESULT_SLOTS - 1)) * RESULT_SLOT_I32;
          const r = this.results;
          this.pendingHead++;
          progressed = true;
          // A stale slot: a restarted shard skipped this batch (layout.ts, RingCtl.SUBMIT_SEQ).
          if (Atomics.load(r, o + ResultSlot.SEQ) !== p.seq) {
            p.reject(new SluiceError(ErrorCode.Unavailable, `shard ${this.shard} restarted before appending the batch`));
            continue;
          }
          if (r[o + ResultSlot.ERROR] === ResultError.WAL) {
            p.reject(new SluiceError(ErrorCode.Unavailable, `shard ${this.shard} could not write its WAL (${walErrorText(this.shardCtl)}); nothing of the batch was stored`));
            continue;
          }
          p.resolve({
            appended: r[o + ResultSlot.APPENDED]!,
            duplicate: r[o + ResultSlot.DUPLICATE]!,
            outOfOrder: r[o + ResultSlot.OUT_OF_ORDER]!,
            tooOld: r[o + ResultSlot.TOO_OLD]!,
            newSeries: r[o + ResultSlot.NEW_SERIES]!,
          });
        }
        if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
          this.pending.splice(0, this.pendingHead);
          this.pendingHead = 0;
        }
        if (progressed) continue;
        const state = Atomics.load(this.shardCtl, ShardCtl.STATE);
        // RESTARTING: keep waiting, the new thread answers every batch left in the ring.
        if (state === ShardState.FAILED || state === ShardState.STOPPED) { this.failAll(); break; }
        const w = Atomics.waitAsync(this.ctl, RingCtl.DONE_SEQ, done, 1000);
        if (w.async) await w.value;
      }
    } finally {
      this.waiting = false;
    }
  }
}
