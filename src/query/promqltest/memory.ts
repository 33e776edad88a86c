/**
 * MemoryStorage holds the series a promqltest script loads and serves them through the engine's
 * Querier interface. Native-histogram samples are kept as timestamps only: a select that meets
 * one in its range calls `onHistogram`, which is how the runner knows an eval needs native
 * histograms and skips it.
 */
import { compareLabels, type Labels } from '../../model/labels.js';
import type { Matcher } from '../../model/matchers.js';
import { matcherTest } from '../promql/info.js';
import type { Querier, SelectHints, SeriesData } from '../promql/storage.js';
import { labelsKey } from '../promql/value.js';
import type { LoadCommand } from './script.js';

interface MemSeries {
  labels: Labels;
  /** Samples by timestamp: a float value or 'h' for a native histogram. */
  samples: Map<number, { v: number | 'h'; st: number }>;
  hasStartTimestamps: boolean;
  /** Materialized arrays, rebuilt after a load. */
  t: Float64Array;
  v: Float64Array;
  st: Float64Array | undefined;
  histT: Float64Array;
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** MemoryStorage is the in-memory store of one promqltest script. */
export class MemoryStorage {
  private series = new Map<string, MemSeries>();

  clear(): void {
    this.series.clear();
  }

  private get(labels: Labels): MemSeries {
    const k = labelsKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = {
        labels, samples: new Map(), hasStartTimestamps: false,
        t: new Float64Array(0), v: new Float64Array(0), st: undefined, histT: new Float64Array(0),
      };
      this.series.set(k, s);
    }
    return s;
  }

  /** load appends a load block's samples (slot k at k × interval). */
  load(cmd: LoadCommand): void {
    const touched = new Set<MemSeries>();
    for (const ls of cmd.series) {
      const s = this.get(ls.labels);
      touched.add(s);
      ls.slots.forEach((slot, k) => {
        const t = k * cmd.intervalMs;
        const off = ls.st?.[k];
        const st = off === undefined ? 0 : t + off;
        if (off !== undefined) s.hasStartTimestamps = true;
        if (slot.kind === 'float') s.samples.set(t, { v: slot.v, st });
        else if (slot.kind === 'histogram') s.samples.set(t, { v: 'h', st });
      });
    }
    if (cmd.nhcb) this.addNhcb(cmd);
    for (const s of touched) this.materialize(s);
  }

  /** addNhcb adds the native histograms load_with_nhcb derives from classic `_bucket` series. */
  private addNhcb(cmd: LoadCommand): void {
    for (const ls of cmd.series) {
      const name = ls.labels.find(([n]) => n === '__name__')?.[1] ?? '';
      const m = /^(.*)_(bucket|count|sum)$/.exec(name);
      if (!m) continue;
      const base: Labels = ls.labels
        .filter(([n]) => n !== 'le')
        .map(([n, v]) => (n === '__name__' ? [n, m[1]!] : [n, v]));
      const s = this.get(base);
      ls.slots.forEach((slot, k) => {
        if (slot.kind !== 'empty') s.samples.set(k * cmd.intervalMs, { v: 'h', st: 0 });
      });
      this.materialize(s);
    }
  }

  private materialize(s: MemSeries): void {
    const ts = [...s.samples.keys()].sort((a, b) => a - b);
    let nf = 0;
    for (const t of ts) if (s.samples.get(t)!.v !== 'h') nf++;
    // Values go straight into typed arrays: a plain JS array would canonicalize the stale NaN.
    s.t = new Float64Array(nf);
    s.v = new Float64Array(nf);
    s.st = s.hasStartTimestamps ? new Float64Array(nf) : undefined;
    s.histT = new Float64Array(ts.length - nf);
    let i = 0;
    let h = 0;
    for (const t of ts) {
      const x = s.samples.get(t)!;
      if (x.v === 'h') {
        s.histT[h++] = t;
        continue;
      }
      s.t[i] = t;
      s.v[i] = x.v;
      if (s.st) s.st[i] = x.st;
      i++;
    }
  }

  /**
   * querier returns a Querier over the current data. `onHistogram` is called when a select meets
   * native-histogram samples, `onStartTimestamps` when it meets samples with start timestamps.
   */
  querier(onHistogram: () => void, onStartTimestamps: () => void = () => {}): Querier {
    return {
      select: (matchers: Matcher[], mint: number, maxt: number, hints?: SelectHints): Promise<SeriesData[]> => {
        const tests = matchers.map((m) => ({ name: m.name, test: matcherTest(m) }));
        const out: SeriesData[] = [];
        for (const s of this.series.values()) {
          let ok = true;
          for (const m of tests) {
            const v = s.labels.find(([n]) => n === m.name)?.[1] ?? '';
            if (!m.test(v)) {
              ok = false;
              break;
            }
          }
          if (!ok) continue;
          const hlo = lowerBound(s.histT, mint);
          if (hlo < s.histT.length && s.histT[hlo]! <= maxt) onHistogram();
          const lo = lowerBound(s.t, mint);
          const hi = lowerBound(s.t, maxt + 1);
          if (lo >= hi) continue;
          const d: SeriesData = { labels: s.labels, t: s.t.subarray(lo, hi), v: s.v.subarray(lo, hi) };
          if (s.st) {
            d.st = s.st.subarray(lo, hi);
            if (d.st.some((x) => x !== 0)) onStartTimestamps();
          }
          out.push(d);
        }
        out.sort((a, b) => compareLabels(a.labels, b.labels));
        // Honour the label projection as the receiver's querier does, so that the conformance
        // corpus checks the engine's projection too.
        const keep = hints?.labels;
        if (keep !== undefined) for (const d of out) d.labels = d.labels.filter(([n]) => keep.includes(n));
        return Promise.resolve(out);
      },
    };
  }
}
