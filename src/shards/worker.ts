/**
 * Shard thread entry. A shard owns a disjoint set of series (chosen by the gateway from the series
 * hash) and is the only writer of its head. Its loop: take every published batch from the write
 * ring, append it, publish the batch's result and advance DONE_SEQ, then wait on the ring's WAKE
 * word with Atomics.waitAsync so control messages (queries, stop) still run between batches.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Head } from './head.js';
import { appendBatch, type BatchResult } from './headAppend.js';
import { labelNames, labelValues, selectSeries } from './headRead.js';
import { RingConsumer } from '../sharedmem/ring.js';
import { RESULT_SLOTS, RESULT_SLOT_I32, ResultSlot, RingCtl, ShardState, StatSlot } from '../sharedmem/layout.js';
import { HeadView } from '../sharedmem/headView.js';
import { toWire } from '../errors.js';
import type { FromShard, ShardInit, ToShard } from './protocol.js';

const init = workerData as ShardInit;
const port = parentPort!;
const post = (m: FromShard): void => port.postMessage(m);

// The shard reads labels for queries through the same segments other threads are sent.
const view = new HeadView();
const head = new Head({
  blockDurationMs: init.blockDurationMs,
  onSegment: (kind, index, sab) => {
    view.addSegment(kind, index, sab);
    post({ type: 'segment', kind, index, sab });
  },
});
const ring = new RingConsumer(init.ring);
const ctl = ring.ctl;
const views = { bytes: ring.bytes, u32: ring.u32, f64: new Float64Array(init.ring.data) };
const results = new Int32Array(init.ring.results);
const stats = new Float64Array(init.stats);
const res: BatchResult = { seq: 0, appended: 0, duplicate: 0, outOfOrder: 0, newSeries: 0, tenant: 0 };
let stopping = false;
/** Yield to the event loop after this much continuous work, so queries are not starved. */
const YIELD_AFTER_MS = 5;

function publish(): void {
  const o = (res.seq & (RESULT_SLOTS - 1)) * RESULT_SLOT_I32;
  results[o + ResultSlot.APPENDED] = res.appended;
  results[o + ResultSlot.DUPLICATE] = res.duplicate;
  results[o + ResultSlot.OUT_OF_ORDER] = res.outOfOrder;
  results[o + ResultSlot.NEW_SERIES] = res.newSeries;
  results[o + ResultSlot.TOO_OLD] = 0;
  Atomics.store(results, o + ResultSlot.SEQ, res.seq);
  Atomics.store(ctl, RingCtl.DONE_SEQ, res.seq);
  Atomics.notify(ctl, RingCtl.DONE_SEQ);
  stats[StatSlot.SAMPLES_APPENDED]! += res.appended;
  stats[StatSlot.DUPLICATE]! += res.duplicate;
  stats[StatSlot.OUT_OF_ORDER]! += res.outOfOrder;
  stats[StatSlot.BATCHES]! += 1;
}

async function loop(): Promise<void> {
  // A pending waitAsync does not keep a worker alive; this handle does until we stop.
  const keepAlive = setInterval(() => {}, 1 << 30);
  Atomics.store(ctl, RingCtl.STATE, ShardState.RUNNING);
  post({ type: 'ready' });
  while (!stopping) {
    const started = performance.now();
    let pos: number;
    while ((pos = ring.next()) !== -1) {
      const len = appendBatch(head, views, pos, res);
      ring.release(len);
      publish();
      if (performance.now() - started > YIELD_AFTER_MS) break;
    }
    stats[StatSlot.SERIES] = head.series.count;
    stats[StatSlot.HEAD_BYTES] = head.memoryBytes();
    if (ring.next() !== -1) {
      await new Promise<void>((r) => setImmediate(r));
      continue;
    }
    const wake = Atomics.load(ctl, RingCtl.WAKE);
    if (ring.next() !== -1) continue;
    const w = Atomics.waitAsync(ctl, RingCtl.WAKE, wake, 1000);
    if (w.async) await w.value;
  }
  clearInterval(keepAlive);
  Atomics.store(ctl, RingCtl.STATE, ShardState.STOPPED);
  post({ type: 'stopped' });
  // The message port keeps the thread alive; nothing is left to do.
  port.unref();
}

port.on('message', (m: ToShard) => {
  if (m.type === 'stop') {
    stopping = true;
    Atomics.add(ctl, RingCtl.WAKE, 1);
    Atomics.notify(ctl, RingCtl.WAKE);
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
      case 'refs': result = Array.from(selectSeries(head, m.q)); break;
      case 'labelNames': result = labelNames(head, m.q); break;
      case 'labelValues': result = labelValues(head, m.name, m.q); break;
    }
    post({ type: 'reply', id: m.id, result });
  } catch (e) {
    post({ type: 'reply', id: m.id, error: toWire(e) });
  }
});

loop().catch((e: unknown) => {
  Atomics.store(ctl, RingCtl.STATE, ShardState.FAILED);
  Atomics.notify(ctl, RingCtl.DONE_SEQ);
  throw e;
});
