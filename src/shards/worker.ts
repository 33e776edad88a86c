/**
 * Shard thread entry. A shard owns a disjoint set of series (chosen by the gateways from the series
 * hash) and is the only writer of its head. Its loop: take every published batch from each of its
 * rings (one per gateway thread), append it, publish the batch's result and advance that ring's
 * DONE_SEQ, then wait on the shard's WAKE word with Atomics.waitAsync so control messages
 * (queries, stop) still run between batches.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Head } from './head.js';
import { appendBatch, type BatchResult } from './headAppend.js';
import { labelNames, labelValues, selectSeries } from './headRead.js';
import { RingConsumer } from '../sharedmem/ring.js';
import { RESULT_SLOTS, RESULT_SLOT_I32, ResultSlot, RingCtl, ShardCtl, ShardState, StatSlot } from '../sharedmem/layout.js';
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
const rings = init.rings.map((r) => new RingConsumer(r));
const ctl = new Int32Array(init.ctl);
const stats = new Float64Array(init.stats);
const res: BatchResult = { seq: 0, appended: 0, duplicate: 0, outOfOrder: 0, newSeries: 0, tenant: 0 };
let stopping = false;
/** Yield to the event loop after this much continuous work, so queries are not starved. */
const YIELD_AFTER_MS = 5;


function publish(ring: RingConsumer): void {
  const results = ring.results;
  const o = (res.seq & (RESULT_SLOTS - 1)) * RESULT_SLOT_I32;
  results[o + ResultSlot.APPENDED] = res.appended;
  results[o + ResultSlot.DUPLICATE] = res.duplicate;
  results[o + ResultSlot.OUT_OF_ORDER] = res.outOfOrder;
  results[o + ResultSlot.NEW_SERIES] = res.newSeries;
  results[o + ResultSlot.TOO_OLD] = 0;
  Atomics.store(results, o + ResultSlot.SEQ, res.seq);
  Atomics.store(ring.ctl, RingCtl.DONE_SEQ, res.seq);
  Atomics.notify(ring.ctl, RingCtl.DONE_SEQ);
  stats[StatSlot.SAMPLES_APPENDED]! += res.appended;
  stats[StatSlot.DUPLICATE]! += res.duplicate;
  stats[StatSlot.OUT_OF_ORDER]! += res.outOfOrder;
  stats[StatSlot.BATCHES]! += 1;
}

/** pending tells whether any ring holds a published batch. */
function pending(): boolean {
  for (const r of rings) if (r.next() !== -1) return true;
  return false;
}

async function loop(): Promise<void> {
  // A pending waitAsync does not keep a worker alive; this handle does until we stop.
  const keepAlive = setInterval(() => {}, 1 << 30);
  Atomics.store(ctl, ShardCtl.STATE, ShardState.RUNNING);
  post({ type: 'ready' });
  while (!stopping) {
    const started = performance.now();
    let busy = true;
    while (busy && performance.now() - started < YIELD_AFTER_MS) {
      busy = false;
      // Round robin over the gateways' rings, a batch at a time, so none starves.
      for (const ring of rings) {
        const pos = ring.next();
        if (pos === -1) continue;
        const len = appendBatch(head, ring, pos, res);
        ring.release(len);
        publish(ring);
        busy = true;
      }
    }
    stats[StatSlot.SERIES] = head.series.count;
    stats[StatSlot.HEAD_BYTES] = head.memoryBytes();
    if (busy) {
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
  clearInterval(keepAlive);
  Atomics.store(ctl, ShardCtl.STATE, ShardState.STOPPED);
  post({ type: 'stopped' });
  // The message port keeps the thread alive; nothing is left to do.
  port.unref();
}

port.on('message', (m: ToShard) => {
  if (m.type === 'stop') {
    stopping = true;
    Atomics.add(ctl, ShardCtl.WAKE, 1);
    // Notify unconditionally: stopping is rare and must not wait for the 1 s timeout.
    Atomics.notify(ctl, ShardCtl.WAKE);
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
  Atomics.store(ctl, ShardCtl.STATE, ShardState.FAILED);
  for (const r of rings) Atomics.notify(r.ctl, RingCtl.DONE_SEQ);
  throw e;
});
