/**
 * Step-wise helpers for operators that work on instant vectors (binary operators, aggregations,
 * per-step functions): StepCursor walks a matrix one step at a time without allocating per
 * sample, and Collector assembles output series the way Prometheus' rangeEval does.
 */
import type { Labels } from '../../model/labels.js';
import { PromQLError, labelsKey, newSeries, type Matrix, type Series } from './value.js';

/**
 * StepCursor yields, for ascending step timestamps, the series of a matrix that have a point at
 * that step: `n` of them, their indices in `idx` and values in `val`.
 */
export class StepCursor {
  readonly m: Matrix;
  readonly idx: Int32Array;
  readonly val: Float64Array;
  n = 0;
  private readonly pos: Int32Array;

  constructor(m: Matrix) {
    this.m = m;
    this.idx = new Int32Array(m.length);
    this.val = new Float64Array(m.length);
    this.pos = new Int32Array(m.length);
  }

  /** at gathers the points at `ts`; call with non-decreasing timestamps. */
  at(ts: number): number {
    let n = 0;
    const m = this.m;
    for (let i = 0; i < m.length; i++) {
      const s = m[i]!;
      let p = this.pos[i]!;
      const t = s.t;
      while (p < t.length && t[p]! < ts) p++;
      this.pos[i] = p;
      if (p < t.length && t[p] === ts) {
        this.idx[n] = i;
        this.val[n] = s.f[p]!;
        n++;
      }
    }
    this.n = n;
    return n;
  }
}

/**
 * Collector gathers output samples into series. For an instant evaluation it keeps the order
 * samples were produced in (Prometheus shortcuts rangeEval so as not to change sort order); for
 * a range evaluation it merges by label set and refuses two samples of one series at one step.
 */
export class Collector {
  private readonly instant: boolean;
  private readonly list: Series[] = [];
  private readonly byKey = new Map<string, Series>();

  constructor(instant: boolean) {
    this.instant = instant;
  }

  add(metric: Labels, dropName: boolean, ts: number, f: number): void {
    if (this.instant) {
      const s = newSeries(metric, dropName);
      s.t.push(ts);
      s.f.push(f);
      this.list.push(s);
      return;
    }
    const k = labelsKey(metric);
    let s = this.byKey.get(k);
    if (!s) {
      s = newSeries(metric, dropName);
      this.byKey.set(k, s);
    } else if (s.t[s.t.length - 1] === ts) {
      throw new PromQLError('vector cannot contain metrics with the same labelset');
    }
    s.t.push(ts);
    s.f.push(f);
  }

  /** addKeyed is add with a precomputed label key (range evaluations only use it). */
  addKeyed(key: string, metric: Labels, dropName: boolean, ts: number, f: number): void {
    if (this.instant) {
      this.add(metric, dropName, ts, f);
      return;
    }
    let s = this.byKey.get(key);
    if (!s) {
      s = newSeries(metric, dropName);
      this.byKey.set(key, s);
    } else if (s.t[s.t.length - 1] === ts) {
      throw new PromQLError('vector cannot contain metrics with the same labelset');
    }
    s.t.push(ts);
    s.f.push(f);
  }

  result(): Matrix {
    return this.instant ? this.list : [...this.byKey.values()];
  }
}
