/**
 * JIT warm-up of a query thread. A thread's first queries run in V8's lower tiers while the
 * optimising compiler (on background threads at normal priority, beside this SCHED_IDLE thread)
 * compiles the decoder, the evaluator and the renderer for the shapes it meets; a range query of
 * a new shape deoptimises code compiled for another and waits for it to be compiled again. On
 * 2 CPUs the 200-series panel of loadtest/query.ts took 60–110 ms in a fresh thread, 45–65 ms for
 * its next four runs, and 26–35 ms once no compile was left (docs/benchmarks.md).
 *
 * So a thread, once started, first runs the query shapes a dashboard sends — a series-local
 * `rate` over a range, an aggregation `by` a label (with its label projection), the same as an
 * instant query, a raw instant selector — over a small synthetic selection of its own (no
 * user data: the series are built here as XOR chunks and packed as a head selection is), through
 * the same decode, evaluate and render code. Each round yields to the event loop, and rounds wait
 * while the thread has a real query, so a query that arrives during the warm-up is not queued
 * behind it. Touches nothing outside this thread.
 */
import { setImmediate as yieldTurn, setTimeout as sleep } from 'node:timers/promises';
import { XOR_STATE_BYTES, xorAppendFloat, xorByteLength, xorStateInit } from '../chunkenc/xor.js';
import { compileMatcher, type Matcher } from '../model/matchers.js';
import { encodeLabelBlob, type Labels } from '../model/labels.js';
import { Engine } from './promql/engine.js';
import { parseExpr } from './promql/parse.js';
import type { Querier, SelectHints, SeriesData } from './promql/storage.js';
import { answerBytes } from './render/matrixBytes.js';
import { SeriesSetBuilder } from './seriesSet.js';
import { decodeSelection } from './seriesDecode.js';

/** The synthetic selection: SERIES series of SAMPLES samples SCRAPE_MS apart, one chunk of at most 120 each. */
const SERIES = 240;
const SAMPLES = 480;
const SCRAPE_MS = 15_000;
const CHUNK_SAMPLES = 120;
/** ROUNDS of the query shapes: the panel's code stopped being compiled again after about ten runs. */
export const WARM_UP_ROUNDS = 12;

/** Activity tells the warm-up when the thread has real queries (it waits for none). */
export interface Activity {
  busy(): boolean;
}

/** SyntheticSeries is one series of the synthetic selection: its labels, label blob and chunks. */
interface SyntheticSeries {
  labels: Labels;
  blob: Uint8Array;
  chunks: { data: Uint8Array; minT: number; maxT: number }[];
}

/** syntheticSeries builds counters with 8 labels, as a scraped fleet's, ending at `end` (ms). */
function syntheticSeries(end: number): SyntheticSeries[] {
  const state = new ArrayBuffer(XOR_STATE_BYTES);
  const f64 = new Float64Array(state);
  const i32 = new Int32Array(state);
  const buf = new Uint8Array(CHUNK_SAMPLES * 20 + 64);
  const first = end - (SAMPLES - 1) * SCRAPE_MS;
  const out: SyntheticSeries[] = [];
  for (let s = 0; s < SERIES; s++) {
    const labels: Labels = [
      ['__name__', 'sluice_warm_up_total'], ['cluster', `c${s % 4}`], ['instance', `10.0.${s >> 8}.${s & 255}:9100`],
      ['job', `j${s % 6}`], ['namespace', `ns${s % 5}`], ['pod', `p${s}`], ['region', `r${s % 2}`], ['zone', `z${s % 3}`],
    ];
    const chunks: SyntheticSeries['chunks'] = [];
    let v = s * 1.5;
    for (let i = 0; i < SAMPLES; i += CHUNK_SAMPLES) {
      xorStateInit(f64, i32, 0);
      let minT = NaN;
      let maxT = NaN;
      for (let k = i; k < Math.min(SAMPLES, i + CHUNK_SAMPLES); k++) {
        // Jittered scrapes and fractional increments: timestamps and values as real counters have.
        const t = first + k * SCRAPE_MS + ((s * 7 + k * 13) % 29);
        v += 0.25 + ((s + k) % 7) * 0.37;
        xorAppendFloat(f64, i32, 0, buf, 0, buf.length, t, v);
        if (k === i) minT = t;
        maxT = t;
      }
      chunks.push({ data: buf.slice(0, xorByteLength(i32, 0)), minT, maxT });
    }
    out.push({ labels, blob: encodeLabelBlob(labels), chunks });
  }
  return out;
}

/**
 * SyntheticQuerier answers selects from the synthetic series the way a query thread answers
 * from a gathered selection: label blobs merged with the tenant label and chunk bytes packed by a
 * SeriesSetBuilder, then decodeSeriesSet with the select's label projection.
 */
class SyntheticQuerier implements Querier {
  private readonly series: SyntheticSeries[];

  constructor(series: SyntheticSeries[]) {
    this.series = series;
  }

  async select(matchers: Matcher[], mint: number, maxt: number, hints?: SelectHints): Promise<SeriesData[]> {
    const ms = matchers.map(compileMatcher);
    const b = new SeriesSetBuilder({ external: [['tenant_id', 'warm-up']] });
    for (const s of this.series) {
      if (!ms.every((m) => m.matches(s.labels.find(([n]) => n === m.name)?.[1] ?? ''))) continue;
      const ref = b.addDistinctBlob(s.blob, 0, s.blob.length);
      for (const c of s.chunks) b.chunk(ref, c.data, 0, c.data.length, c.minT, c.maxT);
    }
    return decodeSelection(b.build(), mint, maxt, hints);
  }
}

/** The shapes a dashboard sends, each as a range query (step > 0) or an instant one (step 0). */
const SHAPES: { query: string; step: number }[] = [
  { query: 'rate(sluice_warm_up_total{cluster="c1",job=~"j1|j5"}[5m])', step: SCRAPE_MS },
  { query: 'sum by (cluster)(rate(sluice_warm_up_total[5m]))', step: SCRAPE_MS },
  { query: 'sum by (cluster)(rate(sluice_warm_up_total[5m]))', step: 0 },
  { query: 'sluice_warm_up_total{zone="z1"}', step: 0 },
];

/**
 * warmUp runs WARM_UP_ROUNDS rounds of the dashboard shapes over a synthetic selection, yielding
 * between queries and waiting while `activity` is busy. Returns the queries run; never throws
 * (a warm-up that fails only leaves the thread cold).
 */
export async function warmUp(activity: Activity, rounds = WARM_UP_ROUNDS): Promise<number> {
  let ran = 0;
  try {
    const end = 1_700_000_000_000;
    const q = new SyntheticQuerier(syntheticSeries(end));
    const engine = new Engine();
    const start = end - (SAMPLES - 1) * SCRAPE_MS + 10 * 60_000;
    for (let r = 0; r < rounds; r++) {
      for (const s of SHAPES) {
        while (activity.busy()) await sleep(20);
        await yieldTurn();
        const raw = await engine.execExpr(q, parseExpr(s.query), s.step > 0 ? start : end, end, s.step);
        answerBytes(raw);
        ran++;
      }
    }
  } catch {
    // A cold thread still answers correctly.
  }
  return ran;
}
