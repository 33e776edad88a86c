/**
 * Large byte buffers kept for reuse by a low-priority thread (a query thread at SCHED_IDLE).
 *
 * Why: a buffer of more than a few hundred KiB is its own mmap, and freeing it is a munmap. The
 * kernel empties the pages of an unmapped range while holding the process' memory-map lock (read
 * side), for ~25 ms per 128 MiB on this project's 2-CPU VMs, and yields the CPU inside that loop
 * whenever another thread wants it. A SCHED_IDLE thread that yields there keeps the lock until
 * ingestion leaves it a CPU again; meanwhile every gateway or shard thread that changes a mapping
 * (V8 commits and protects its heap pages with mprotect, which needs the lock's write side) sleeps.
 * Traced with the kernel's mmap_lock events under four looping 100k-series queries: a gateway's
 * mprotect waited 25.6 ms behind a query thread's munmap of 128 MiB (docs/benchmarks.md). A query
 * over 100k series grew its chunk buffer by doubling up to 256 MiB and freed every step.
 *
 * So such a thread takes its large buffers from a BufferPool and gives them back instead of
 * dropping them: a query's growth steps are given back at once, the buffers its answer was read
 * from when the query ends (BufferLease). The pool keeps at most `maxBytes` and lets go of all of
 * them once the thread has been idle `idleMs`, when freeing them holds no one up. Buffers are
 * handed out as they were left (not zeroed): a holder reads only what it wrote. Sizes are powers
 * of two from MIN_POOLED_BYTES; smaller ones are ordinary allocations, never pooled.
 * Thread-local, touches nothing else.
 */

/** MIN_POOLED_BYTES: smaller buffers come from the allocator's own heap, not from mmap. */
export const MIN_POOLED_BYTES = 1 << 20;

/** BufferSource hands out byte buffers of at least n bytes and takes back those it handed out. */
export interface BufferSource {
  take(n: number): Uint8Array<ArrayBuffer>;
  give(b: Uint8Array<ArrayBuffer>): void;
}

/** BufferPoolOptions bound what a pool keeps. */
export interface BufferPoolOptions {
  /** maxBytes: most bytes kept free; beyond it, the oldest free buffers are let go. */
  maxBytes: number;
  /** idleMs: after this long with no lease open, every free buffer is let go. */
  idleMs: number;
}

/** sizeFor is the power of two a request of n bytes gets (at least MIN_POOLED_BYTES). */
function sizeFor(n: number): number {
  let s = MIN_POOLED_BYTES;
  while (s < n) s *= 2;
  return s;
}

/** BufferPool keeps large free buffers of one thread for reuse. */
export class BufferPool implements BufferSource {
  private readonly opts: BufferPoolOptions;
  /** Free buffers, oldest first. */
  private free: Uint8Array<ArrayBuffer>[] = [];
  private freeBytes = 0;
  private open = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(opts: BufferPoolOptions) {
    this.opts = opts;
  }

  /** bytesFree is how much the pool keeps now. */
  get bytesFree(): number {
    return this.freeBytes;
  }

  /**
   * take hands out the smallest free buffer of at least n bytes (n ≥ MIN_POOLED_BYTES), or a new
   * one; smaller requests get a plain new buffer of exactly n bytes.
   */
  take(n: number): Uint8Array<ArrayBuffer> {
    if (n < MIN_POOLED_BYTES) return new Uint8Array(n);
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i]!.length;
      if (len >= n && (best < 0 || len < this.free[best]!.length)) best = i;
    }
    if (best < 0) return new Uint8Array(sizeFor(n));
    const b = this.free[best]!;
    this.free.splice(best, 1);
    this.freeBytes -= b.length;
    return b;
  }

  /** give takes a buffer back (one of at least MIN_POOLED_BYTES; smaller ones are left to the collector). */
  give(b: Uint8Array<ArrayBuffer>): void {
    if (b.length < MIN_POOLED_BYTES || b.byteOffset !== 0 || b.length !== b.buffer.byteLength) return;
    this.free.push(b);
    this.freeBytes += b.length;
    while (this.freeBytes > this.opts.maxBytes && this.free.length > 0) this.freeBytes -= this.free.shift()!.length;
  }

  /** lease opens a lease: buffers taken through it go back to the pool when it is released. */
  lease(): BufferLease {
    this.open++;
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    return new BufferLease(this);
  }

  /** closed is called by a lease once it has given its buffers back. */
  closed(): void {
    if (--this.open > 0) return;
    this.idleTimer = setTimeout(() => this.drain(), this.opts.idleMs);
    this.idleTimer.unref();
  }

  /** drain lets go of every free buffer (the collector frees them). */
  drain(): void {
    this.free = [];
    this.freeBytes = 0;
  }
}

/**
 * BufferLease is one user's share of a pool (a query): what it takes stays out until it gives it
 * back or the lease is released. After release it hands out plain buffers, never pooled ones.
 */
export class BufferLease implements BufferSource {
  private readonly pool: BufferPool;
  private readonly out = new Set<Uint8Array<ArrayBuffer>>();
  private released = false;

  constructor(pool: BufferPool) {
    this.pool = pool;
  }

  take(n: number): Uint8Array<ArrayBuffer> {
    if (this.released) return new Uint8Array(n);
    const b = this.pool.take(n);
    if (b.length >= MIN_POOLED_BYTES) this.out.add(b);
    return b;
  }

  give(b: Uint8Array<ArrayBuffer>): void {
    if (!this.out.delete(b)) return;
    this.pool.give(b);
  }

  /**
   * release gives every buffer still out back to the pool. The holder must no longer read or
   * write any of them (the query has answered).
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const b of this.out) this.pool.give(b);
    this.out.clear();
    this.pool.closed();
  }
}
