/**
 * PendingAppends holds what a shard has validated and not yet applied: the series it created and
 * the valid samples, in order. Commit protocol (headAppend.ts, worker.ts; do not reorder):
 *   1. validateBatch: find or create series, refuse duplicates and out-of-order samples, collect
 *      the valid samples here;
 *   2. the WAL logs the new series and these samples (and fsyncs, per --tsdb.wal.fsync);
 *   3. applyPending appends them to the head chunks;
 *   4. the batches' results are published (the gateway acknowledges).
 * Reused between rounds; arrays grow geometrically and are kept.
 */
export class PendingAppends {
  refs = new Int32Array(4096);
  ts = new Float64Array(4096);
  lo = new Int32Array(4096);
  hi = new Int32Array(4096);
  n = 0;
  /** Series created by this round, in creation order (their refs). */
  newSeries = new Int32Array(256);
  newCount = 0;

  /** clear forgets everything (after apply). */
  clear(): void {
    this.n = 0;
    this.newCount = 0;
  }

  /** push adds one valid sample. Hot path: no allocation unless the arrays grow. */
  push(ref: number, t: number, lo: number, hi: number): void {
    if (this.n === this.refs.length) this.grow();
    const i = this.n++;
    this.refs[i] = ref;
    this.ts[i] = t;
    this.lo[i] = lo;
    this.hi[i] = hi;
  }

  /** created records a new series. */
  created(ref: number): void {
    if (this.newCount === this.newSeries.length) {
      const next = new Int32Array(this.newSeries.length * 2);
      next.set(this.newSeries);
      this.newSeries = next;
    }
    this.newSeries[this.newCount++] = ref;
  }

  private grow(): void {
    const cap = this.refs.length * 2;
    const refs = new Int32Array(cap); refs.set(this.refs); this.refs = refs;
    const ts = new Float64Array(cap); ts.set(this.ts); this.ts = ts;
    const lo = new Int32Array(cap); lo.set(this.lo); this.lo = lo;
    const hi = new Int32Array(cap); hi.set(this.hi); this.hi = hi;
  }
}
