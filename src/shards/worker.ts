/**
 * Shard thread entry. A shard owns a disjoint set of series (chosen by the gateways from the series
 * hash) and is the only writer of its head. It replays its WAL at start, then loops in rounds:
 * validate every batch its rings hold (one ring per gateway thread), log the round to the WAL,
 * apply it to the head, publish each batch's result by advancing its ring's DONE_SEQ (the ack);
 * when idle it waits on the shard's WAKE word with Atomics.waitAsync, so control messages
 * (queries, stop) still run between rounds. The commit protocol is in pending.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { nameThread } from '../util/thread.js';
import { Head } from './head.js';
import { applyPending, rollbackPending, validateBatch, type BatchResult } from './headAppend.js';
import { PendingAppends } from './pending.js';
import { ShardWal, type ReplayStats } from './wal.js';

/** The shard's WAL, once opened (step C); undefined runs without one. */
let wal: ShardWal | undefined;
import { labelNames, labelValues, selectSeries } from './headRead.js';
import { RingConsumer } from '../sharedmem/ring.js';
import { RESULT_SLOTS, RESULT_SLOT_I32, ResultError, ResultSlot, RingCtl, ShardCtl, ShardState, StatSlot, WalErrno } from '../sharedmem/layout.js';
import { HeadView } from '../sharedmem/headView.js';
import { toWire } from '../errors.js';
import type { CutStarted, FromShard, SegmentNews, ShardInit, ToShard } from './protocol.js';
import { truncateSteps } from './headTruncate.js';
import { NewsBroadcast } from './segmentNews.js';
import type { TenantSeriesQuery } from './pool.js';

const init = workerData as ShardInit;
nameThread(`sluice-shard-${init.index}`);
const port = parentPort!;
const post = (m: FromShard): void => port.postMessage(m);
const broadcast = new NewsBroadcast(init.segments);
const news = (m: SegmentNews): void => broadcast.send(m);

// The shard reads labels for queries through the same segments other threads are sent.
const view = new HeadView();
const head = new Head({
  blockDurationMs: init.blockDurationMs,
  onSegment: (kind, index, sab) => {
    view.addSegment(kind, index, sab);
    news({ type: 'segment', kind, index, sab });
  },
  onDropSegment: (index) => news({ type: 'dropSegment', index }),
});
head.minValidT = init.minValidT;
const rings = init.rings.map((r) => new RingConsumer(r));
const ctl = new Int32Array(init.ctl);
const stats = new Float64Array(init.stats);
const res: BatchResult = { seq: 0, appended: 0, duplicate: 0, outOfOrder: 0, tooOld: 0, newSeries: 0 };
const pend = new PendingAppends();
let stopping = false;
/**
 * The WAL write of the round in progress, while the round waits for it: its samples are validated
 * but not applied yet. A cut waits for it (see the message handler).
 */
let logging: Promise<boolean> | undefined;
/** A round takes at most this long to validate, so queries and fsyncs are not starved. */
const ROUND_MS = 5;

/** Validated batches of the current round, waiting to be published. Entries are reused. */
interface Done { ring: RingConsumer; seq: number; appended: number; duplicate: number; outOfOrder: number; tooOld: number; newSeries: number }
const done: Done[] = [];
let doneN = 0;

function remember(ring: RingConsumer): void {
  let d = done[doneN];
  if (d === undefined) {
    d = { ring, seq: 0, appended: 0, duplicate: 0, outOfOrder: 0, tooOld: 0, newSeries: 0 };
    done.push(d);
  }
  d.ring = ring; d.seq = res.seq; d.appended = res.appended; d.duplicate = res.duplicate;
  d.outOfOrder = res.outOfOrder; d.tooOld = res.tooOld; d.newSeries = res.newSeries;
  doneN++;
}

/**
 * publish writes a batch's result and advances its ring's DONE_SEQ (step 4: the ack). With
 * `error` set the batch is answered as refused (nothing of it was applied).
 */
function publish(d: Done, error: number = ResultError.NONE): void {
  const ring = d.ring;
  const results = ring.results;
  const o = (d.seq & (RESULT_SLOTS - 1)) * RESULT_SLOT_I32;
  results[o + ResultSlot.ERROR] = error;
  if (error !== ResultError.NONE) {
    Atomics.store(results, o + ResultSlot.SEQ, d.seq);
    Atomics.store(ring.ctl, RingCtl.DONE_SEQ, d.seq);
    Atomics.notify(ring.ctl, RingCtl.DONE_SEQ);
    return;
  }
  results[o + ResultSlot.APPENDED] = d.appended;
  results[o + ResultSlot.DUPLICATE] = d.duplicate;
  results[o + ResultSlot.OUT_OF_ORDER] = d.outOfOrder;
  results[o + ResultSlot.NEW_SERIES] = d.newSeries;
  results[o + ResultSlot.TOO_OLD] = d.tooOld;
  Atomics.store(results, o + ResultSlot.SEQ, d.seq);
  Atomics.store(ring.ctl, RingCtl.DONE_SEQ, d.seq);
  Atomics.notify(ring.ctl, RingCtl.DONE_SEQ);
  stats[StatSlot.SAMPLES_APPENDED]! += d.appended;
  stats[StatSlot.DUPLICATE]! += d.duplicate;
  stats[StatSlot.OUT_OF_ORDER]! += d.outOfOrder;
  stats[StatSlot.BATCHES]! += 1;
}

/**
 * round runs the commit protocol of pending.ts over every batch the rings hold now (up to
 * ROUND_MS of validation): validate, log, apply, publish. Returns whether it found any batch.
 */
async function round(): Promise<boolean> {
  const started = performance.now();
  doneN = 0;
  let found = true;
  while (found && performance.now() - started < ROUND_MS) {
    found = false;
    // Round robin over the gateways' rings, a batch at a time, so none starves.
    for (const ring of rings) {
      const pos = ring.next();
      if (pos === -1) continue;
      const len = validateBatch(head, ring, pos, res, pend);
      // Everything needed later was copied (samples into pend, labels into the arena).
      ring.release(len);
      remember(ring);
      found = true;
    }
  }
  if (doneN === 0) return false;
  const logged = log();
  logging = logged;
  if (!(await logged)) {
    logging = undefined;
    // Not logged, so not applied and not acknowledged: the gateways answer 503 and the senders
    // retry; the next round tries the disk again (it recovers once space is freed).
    rollbackPending(head, pend);
    for (let i = 0; i < doneN; i++) publish(done[i]!, ResultError.WAL);
    stats[StatSlot.WAL_FAILURES]! += 1;
    return true;
  }
  logging = undefined;
  applyPending(head, pend);
  // The time range before the acks: a flush right after a 2xx must see these samples.
  stats[StatSlot.MIN_T] = head.minT;
  stats[StatSlot.MAX_T] = head.maxT;
  for (let i = 0; i < doneN; i++) publish(done[i]!);
  return true;
}

/** log writes the round to the WAL (step 2, see wal.ts); false if the WAL could not take it. */
async function log(): Promise<boolean> {
  if (wal === undefined) return true;
  try {
    await wal.logRound(head, pend);
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code;
    const errno = code === 'ENOSPC' ? WalErrno.ENOSPC : code === 'EDQUOT' ? WalErrno.EDQUOT : code === 'EIO' ? WalErrno.EIO : WalErrno.OTHER;
    if (Atomics.exchange(ctl, ShardCtl.WAL_ERROR, errno) === WalErrno.NONE) {
      post({ type: 'walError', message: e instanceof Error ? e.message : String(e) });
    }
    return false;
  }
  if (Atomics.load(ctl, ShardCtl.WAL_ERROR) !== WalErrno.NONE) {
    Atomics.store(ctl, ShardCtl.WAL_ERROR, WalErrno.NONE);
    post({ type: 'walRecovered' });
  }
  return true;
}

/**
 * drainLeftovers answers the batches a previous thread of this shard left in the rings: they are
 * skipped, and DONE_SEQ moves to the last submitted seq so their producers see stale result
 * slots and answer 503 (layout.ts, RingCtl.SUBMIT_SEQ). Runs before replay, so senders retry
 * at once instead of waiting for it.
 */
function drainLeftovers(): void {
  for (const ring of rings) {
    ring.skipAll();
    const submitted = Atomics.load(ring.ctl, RingCtl.SUBMIT_SEQ);
    if (Atomics.load(ring.ctl, RingCtl.DONE_SEQ) !== submitted) {
      Atomics.store(ring.ctl, RingCtl.DONE_SEQ, submitted);
      Atomics.notify(ring.ctl, RingCtl.DONE_SEQ);
    }
  }
}

/** pending tells whether any ring holds a published batch. */
function pending(): boolean {
  for (const r of rings) if (r.next() !== -1) return true;
  return false;
}

async function loop(): Promise<void> {
  // A pending waitAsync does not keep a worker alive; this handle does until we stop.
  const keepAlive = setInterval(() => {}, 1 << 30);
  if (init.restart) drainLeftovers();
  // Replay before serving: gateways answer 503 until every shard is ready.
  let replay: ReplayStats | undefined;
  if (init.walDir !== undefined) {
    const opened = await ShardWal.open(init.walDir, init.walFsync, head);
    wal = opened.wal;
    replay = opened.stats;
    stats[StatSlot.SERIES] = head.liveCount;
    stats[StatSlot.HEAD_BYTES] = head.memoryBytes();
  }
  stats[StatSlot.MIN_T] = head.minT;
  stats[StatSlot.MAX_T] = head.maxT;
  Atomics.store(ctl, ShardCtl.STATE, ShardState.RUNNING);
  post(replay ? { type: 'ready', replay } : { type: 'ready' });
  while (!stopping) {
    const busy = await round();
    stats[StatSlot.SERIES] = head.liveCount;
    stats[StatSlot.MIN_T] = head.minT;
    stats[StatSlot.MAX_T] = head.maxT;
    stats[StatSlot.HEAD_BYTES] = head.memoryBytes();
    if (busy) {
      // Let queued control messages (queries, stop) run between rounds.
      await new Promise<void>((r) => setImmediate(r));
      continue;
    }
    // Sleep protocol: see ShardCtl in layout.ts (do not reorder).
    Atomics.store(ctl, ShardCtl.SLEEPING, 1);
    const wake = Atomics.load(ctl, ShardCtl.WAKE);
    if (!pending()) {
      const w = Atomics.waitAsync(ctl, ShardCtl.WAKE, wake, 1000);
      if (w.async) await w.value;
    }
    Atomics.store(ctl, ShardCtl.SLEEPING, 0);
  }
  if (wal !== undefined) await wal.close();
  clearInterval(keepAlive);
  Atomics.store(ctl, ShardCtl.STATE, ShardState.STOPPED);
  post({ type: 'stopped' });
  // The message port keeps the thread alive; nothing is left to do.
  port.unref();
}

port.on('message', (m: ToShard | TenantSeriesQuery) => {
  // A cut must not fall between a round's validation and its apply: samples validated against the
  // old minValidT would reach the head after the cut wrote its blocks and truncated the range, in
  // neither. The round's continuation was queued first, so it applies before these run.
  if (m.type === 'query' && (m.op === 'cutStart' || m.op === 'truncate') && logging !== undefined) {
    const run = (): void => handle(m);
    void logging.then(run, run);
    return;
  }
  handle(m);
});

/** handle answers one control message. */
function handle(m: ToShard | TenantSeriesQuery): void {
  if (m.type === 'stop') {
    stopping = true;
    Atomics.add(ctl, ShardCtl.WAKE, 1);
    // Notify unconditionally: stopping is rare and must not wait for the 1 s timeout.
    Atomics.notify(ctl, ShardCtl.WAKE);
    return;
  }
  if (m.type === 'subscribe') {
    broadcast.subscribe(m.port, head);
    return;
  }
  try {
    let result: unknown;
    switch (m.op) {
      case 'series': {
        const refs = selectSeries(head, m.q);
        result = Array.from(refs, (ref) => view.labels(ref));
        break;
      }
      // A typed array: cloned as one copy (100k refs in a cut), not element by element.
      case 'refs': result = selectSeries(head, m.q); break;
      case 'labelNames': result = labelNames(head, m.q); break;
      case 'labelValues': result = labelValues(head, m.name, m.q); break;
      // Active series per tenant (each tenant's postings hold every series ref it has).
      case 'tenantSeries': result = head.tenants.map((t, i) => [t, head.indexes[i]!.all.n]); break;
      case 'tenants': result = [...head.tenants]; break;
      case 'cutStart': {
        // Between rounds: every round from here on refuses samples older than the cut, and the
        // WAL moves to a new segment, so older samples all sit in segments ≤ walSegment.
        head.minValidT = Math.max(head.minValidT, m.cut);
        result = { walSegment: wal === undefined ? -1 : wal.rotate(), minT: head.minT, maxT: head.maxT } satisfies CutStarted;
        break;
      }
      case 'truncate':
        void truncateInSlices(m.id, m.cut);
        return;
    }
    post({ type: 'reply', id: m.id, result });
  } catch (e) {
    post({ type: 'reply', id: m.id, error: toWire(e) });
  }
}

/**
 * A slice of a truncation visits at most TRUNCATE_SLICE series and runs about TRUNCATE_SLICE_MS:
 * rounds run in between, so a request waits at most about one slice.
 */
const TRUNCATE_SLICE = 8192;
const TRUNCATE_SLICE_MS = 2;

/**
 * truncateInSlices truncates the head (headTruncate.ts) a slice at a time, letting rounds run
 * between slices, and answers when done. Cuts are serialized, so one runs at a time.
 */
async function truncateInSlices(id: number, cut: number): Promise<void> {
  try {
    const steps = truncateSteps(head, cut, TRUNCATE_SLICE, TRUNCATE_SLICE_MS);
    for (;;) {
      const r = steps.next();
      if (r.done === true) {
        stats[StatSlot.HEAD_BYTES] = head.memoryBytes();
        stats[StatSlot.MIN_T] = head.minT;
        post({ type: 'reply', id, result: r.value });
        return;
      }
      await new Promise<void>((res) => setImmediate(res));
    }
  } catch (e) {
    post({ type: 'reply', id, error: toWire(e) });
  }
}

loop().catch((e: unknown) => {
  Atomics.store(ctl, ShardCtl.STATE, ShardState.FAILED);
  for (const r of rings) Atomics.notify(r.ctl, RingCtl.DONE_SEQ);
  throw e;
});
