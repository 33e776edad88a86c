/**
 * Lanes bounds the paced writers' requests in flight: at most `concurrency` at once, and the
 * requests of one lane (one body template, so one set of series) in order, each after the
 * previous one of its lane, as Prometheus' remote-write shards keep a series' samples in order.
 * Shared by clockedWriter.ts and queryLoad.ts. Touches nothing but its promises.
 */
export class Lanes {
  private readonly concurrency: number;
  private readonly chain: Array<Promise<void> | undefined>;
  private inflight = 0;
  private slotFree: (() => void) | undefined;

  constructor(concurrency: number, lanes: number) {
    this.concurrency = concurrency;
    this.chain = new Array<Promise<void> | undefined>(lanes);
  }

  /** full tells whether a request started now would wait for a slot (the caller counts it late). */
  get full(): boolean {
    return this.inflight >= this.concurrency;
  }

  /** slot resolves once a request may start (at once unless full). One caller waits at a time. */
  async slot(): Promise<void> {
    if (this.inflight >= this.concurrency) await new Promise<void>((r) => { this.slotFree = r; });
  }

  /** run starts `send` in `lane` after the lane's previous request; it holds a slot until it ends. */
  run(lane: number, send: () => Promise<void>): void {
    this.inflight++;
    const prev = this.chain[lane];
    this.chain[lane] = (prev ? prev.then(send) : send()).finally(() => {
      this.inflight--;
      const f = this.slotFree;
      this.slotFree = undefined;
      f?.();
    });
  }

  /** drain resolves when every request started has ended. */
  async drain(): Promise<void> {
    await Promise.all(this.chain.filter((p): p is Promise<void> => p !== undefined));
  }
}
