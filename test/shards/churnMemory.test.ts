/**
 * Series churn, measured: every cycle writes one block range in which STABLE series continue and
 * CHURN new series (new pod names) appear, cuts the previous range (truncation + series GC) and
 * checkpoints the WAL with the live series only. With GC the head's own byte count, its JS heap
 * and the checkpoint stay flat from cycle to cycle; before it, each cycle added CHURN series to
 * all three for ever. Figures go to the test's diagnostics (SLUICE_VERBOSE=1 prints them).
 * Quarantine is 0 here (cycles are block ranges apart in real life, far longer than 60 s).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Harness, H, T0 } from './gcHarness.js';
import { checkpoint, keepRefs } from '../../src/wal/checkpoint.js';
import type { Labels } from '../../src/model/labels.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const root = mkdtempSync(join(tmpdir(), 'sluice-churn-mem-'));
after(() => rmSync(root, { recursive: true, force: true }));

const STABLE = 2000;
const CHURN = Number(process.env['SLUICE_CHURN'] ?? 5000);
const CYCLES = Number(process.env['SLUICE_CHURN_CYCLES'] ?? 10);
const SAMPLES = 8;
const R = 2 * H;

function labels(kind: 'stable' | 'pod', id: number): Labels {
  return [['__name__', 'container_cpu'], ['instance', `10.0.${id % 250}.${id % 7}:9100`], ['job', 'kubelet'], ['namespace', `ns-${id % 20}`], ['pod', `${kind}-${id.toString(16).padStart(10, '0')}`]];
}

test(`churn: ${CYCLES} cycles of ${CHURN} new series over ${STABLE} stable ones; head bytes, heap and checkpoint stay flat`, async (t) => {
  const dir = join(root, 'wal');
  const h = await Harness.open({ walDir: dir, quarantineMs: 0 });
  const rows: { cycle: number; live: number; refs: number; headBytes: number; heap: number; checkpoint: number }[] = [];
  for (let c = 1; c <= CYCLES; c++) {
    const from = T0 + c * R;
    for (let k = 0; k < SAMPLES; k++) {
      const ts = from + k * (R / SAMPLES);
      for (let i = 0; i < STABLE; i++) h.add('t', labels('stable', i), [[ts, c]]);
      for (let i = 0; i < CHURN; i++) h.add('t', labels('pod', c * 1_000_000 + i), [[ts, i]]);
      await h.commit();
    }
    // The previous range is in a block now: truncate it, then checkpoint with the live series.
    const { walSegment, stats } = h.cut(from);
    const cs = await checkpoint(dir, walSegment, from, { fsync: false, keepSeries: keepRefs(stats.liveWalRefs) });
    assert.equal(stats.seriesLive, STABLE + CHURN);
    if (c > 1) assert.equal(stats.seriesDropped, CHURN);
    gc();
    rows.push({ cycle: c, live: h.head.liveCount, refs: h.head.series.count, headBytes: h.head.memoryBytes(), heap: process.memoryUsage().heapUsed, checkpoint: cs.bytesAfter });
  }
  await h.close();
  const mb = (b: number): string => (b / 1048576).toFixed(2);
  for (const r of rows) {
    const msg = `cycle ${r.cycle}: live ${r.live}, refs ${r.refs}, head ${mb(r.headBytes)} MiB, heap ${mb(r.heap)} MiB, checkpoint ${mb(r.checkpoint)} MiB`;
    t.diagnostic(msg);
    if (process.env['SLUICE_VERBOSE'] !== undefined) console.log(msg);
  }
  // From the third cycle on (two generations of churn exist once), nothing grows.
  const base = rows[2]!;
  const last = rows.at(-1)!;
  assert.equal(last.refs, base.refs, 'refs are reused');
  assert.equal(last.headBytes, base.headBytes, 'head bytes');
  assert.ok(Math.abs(last.checkpoint - base.checkpoint) < 0.05 * base.checkpoint, `checkpoint ${base.checkpoint} → ${last.checkpoint}`);
  // Without GC the heap grew by the postings of every churned series (~0.3 KB each); allow noise.
  const perCycle = (last.heap - base.heap) / (last.cycle - base.cycle);
  t.diagnostic(`heap growth per cycle after cycle 3: ${(perCycle / 1024).toFixed(1)} KiB (${CHURN} series churned per cycle)`);
  assert.ok(perCycle < CHURN * 20, `heap grew ${perCycle} B per cycle`);
});
