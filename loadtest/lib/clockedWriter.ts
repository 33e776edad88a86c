/**
 * ClockedWriter is the cut benchmark's paced remote-write load: the same seeded bodies as the
 * query benchmark's paced writer (lib/queryLoad.ts templates, one fresh sample per series and
 * request), sent on a fixed schedule over a few connections, but with a sample clock the caller
 * steers while it runs (a step size, and forward jumps, so that the head comes to span enough to
 * cut a block), and with every request's send and end times kept, so that requests can be sorted
 * afterwards by whether they overlapped a cut. Talks only to the URL it is given.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { patchBody, type DataSet, type Template } from './queryLoad.js';
import { Lanes } from './lanes.js';

/** ClockedWriterOptions shape the load. */
export interface ClockedWriterOptions {
  url: string;
  /** Samples per second (request j is due at start + j × batch / rate). */
  rate: number;
  concurrency: number;
  /** Timestamp of the first step, and the step between consecutive steps until changed. */
  startTs: number;
  stepMs: number;
}

/**
 * WriteLog is what the writer measured, one entry per request that ended, in wall-clock ms since
 * the epoch: when it was due, when its first attempt was sent, when its last attempt ended.
 */
export interface WriteLog { due: number[]; sent: number[]; end: number[]; retries: number[] }

const HEADERS = {
  'content-encoding': 'snappy',
  'content-type': 'application/x-protobuf',
  'x-prometheus-remote-write-version': '0.1.0',
  'user-agent': 'sluice-cutbench/0.1',
};

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * ClockedWriter sends every template once per step: a step is one pass over all series at one
 * sample timestamp. A template's next request waits for its previous one, so each series gets
 * its samples in order whatever the connections do.
 */
export class ClockedWriter {
  readonly log: WriteLog = { due: [], sent: [], end: [], retries: [] };
  /** Timestamps of the steps started so far (step k covers every series at steps[k]). */
  readonly steps: number[] = [];
  /** Requests that had to wait for a free connection; requests given up, by status. */
  late = 0;
  readonly failures = new Map<string, number>();
  firstFailure = '';
  private readonly d: DataSet;
  private readonly tpls: Template[];
  private readonly o: ClockedWriterOptions;
  private stepMs: number;
  private jump: number | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(d: DataSet, tpls: Template[], o: ClockedWriterOptions) {
    this.d = d;
    this.tpls = tpls;
    this.o = o;
    this.stepMs = o.stepMs;
  }

  /** lastTs is the timestamp of the newest step started (NaN before the first). */
  get lastTs(): number { return this.steps.length ? (this.steps[this.steps.length - 1] as number) : NaN; }

  /** setStep changes the step size from the next step on. */
  setStep(ms: number): void { this.stepMs = ms; }

  /** jumpTo makes the next step's timestamp `ts` (must be later than the last one). */
  jumpTo(ts: number): void { this.jump = ts; }

  /** start begins sending; stop() ends it. */
  start(): void { this.running ??= this.loop(); }

  /** stop sends nothing more and resolves when the requests in flight have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /** totalFailures counts the requests given up. */
  totalFailures(): number { let n = 0; for (const v of this.failures.values()) n += v; return n; }

  private async loop(): Promise<void> {
    const u = new URL(this.o.url);
    const pool = new Pool(u.origin, { connections: this.o.concurrency, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
    const nb = this.tpls.length;
    const intervalMs = ((this.tpls[0] as Template).ids.length * 1000) / this.o.rate;
    const lanes = new Lanes(this.o.concurrency, nb);
    let ts = NaN;
    const start = now();
    for (let j = 0; !this.stopped; j++) {
      const due = start + j * intervalMs;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      if (this.stopped) break;
      if (lanes.full) {
        this.late++;
        await lanes.slot();
      }
      const b = j % nb;
      if (b === 0) {
        ts = this.steps.length === 0 ? this.o.startTs : this.jump ?? ts + this.stepMs;
        this.jump = undefined;
        this.steps.push(ts);
      }
      const tpl = this.tpls[b] as Template;
      const t = ts;
      lanes.run(b, () => this.send(pool, u.pathname, tpl, t, due));
    }
    await lanes.drain();
    await pool.close().catch(() => undefined);
  }

  /** send posts one body, retrying 5xx, 429 and connection errors with backoff; never throws. */
  private async send(pool: Pool, path: string, tpl: Template, t: number, due: number): Promise<void> {
    const body = patchBody(this.d, tpl, t);
    const sent = now();
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      let text = '';
      try {
        const res = await pool.request({ path, method: 'POST', headers: HEADERS, body });
        status = res.statusCode;
        if (status >= 200 && status < 300) {
          await res.body.dump();
          this.log.due.push(due);
          this.log.sent.push(sent);
          this.log.end.push(now());
          this.log.retries.push(attempt);
          return;
        }
        text = (await res.body.text()).slice(0, 300);
      } catch (err) {
        text = err instanceof Error ? err.message : String(err);
      }
      const retryable = status === 0 || status === 429 || status >= 500;
      if (!retryable || attempt >= 8 || this.stopped) {
        const key = status ? String(status) : 'network';
        this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
        if (this.firstFailure === '') this.firstFailure = `${key}: ${text}`;
        return;
      }
      const backoff = Math.min(2000, 25 * 2 ** attempt);
      await sleep(backoff / 2 + Math.random() * (backoff / 2));
    }
  }
}
