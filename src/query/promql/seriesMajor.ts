/**
 * Series-by-series aggregation: sum, count, group, min and max folded one input series at a time
 * into (group, step) cells instead of step by step over every series. Within a cell the points
 * arrive in input order, so every cell sees exactly the operations of the step-by-step loop in
 * aggregations.ts (Kahan sums bit for bit). Two uses:
 *   - seriesMajor: over an evaluated input matrix, read sequentially (faster than visiting every
 *     series at every step);
 *   - streamAggregate: over a range function of a selector (`sum by (cluster) (rate(x[5m]))`),
 *     whose result series are folded as rangeEval produces them and never held together. Over 100k
 *     series × 480 steps that intermediate matrix was ~770 MB of heap in the query thread.
 * Touches only the evaluator's accounting and the arrays it builds.
 */
import { unwrapParens, type Aggregate, type Call, type Expr } from './ast.js';
import type { Evaluator } from './evaluator.js';
import { streamRangeCall, type SeriesSink } from './rangeEval.js';
import { PromQLError, newSeries, tooManySamples, type Matrix, type Series } from './value.js';
import type { Labels } from '../../model/labels.js';

/** SERIES_MAJOR_OPS are the aggregations evaluated series by series. */
export const SERIES_MAJOR_OPS = new Set(['sum', 'count', 'group', 'min', 'max']);
/** Groups × steps above which the per-cell state would be too large (17 B a cell). */
export const SERIES_MAJOR_MAX_CELLS = 1 << 22;

/**
 * Grouping says how input labels map to groups (aggregations.ts GroupBy). Called once per series:
 * methods of a long-lived class keep their optimized code, a query's closures do not (SeriesSink).
 */
export interface Grouping {
  key(ls: Labels): string;
  labels(ls: Labels): Labels;
}

/** One group's cells, one per step. */
interface Cells {
  seen: Uint8Array;
  dropName: Uint8Array;
  val: Float64Array;
  comp: Float64Array | undefined;
}

/** GroupCells folds points into (group, step) cells. */
class GroupCells {
  private readonly op: string;
  private readonly steps: number;
  private readonly start: number;
  private readonly interval: number;
  readonly cells: Cells[] = [];

  constructor(op: string, steps: number, start: number, interval: number) {
    this.op = op;
    this.steps = steps;
    this.start = start;
    this.interval = interval;
  }

  /** addGroup makes room for one more group (groups are numbered in the order added). */
  addGroup(): void {
    const n = this.steps;
    this.cells.push({ seen: new Uint8Array(n), dropName: new Uint8Array(n), val: new Float64Array(n), comp: this.op === 'sum' ? new Float64Array(n) : undefined });
  }

  /**
   * add folds series s into group g's cells; false when a point is off the step grid, which only
   * the step-by-step loop handles (the cells are then part-folded: callers drop them).
   */
  add(g: number, s: Series): boolean {
    return this.addPoints(g, s.dropName, s.t, s.f, s.t.length);
  }

  /** addPoints is add for a series given as columns: points [0, n) of ts and fs. */
  addPoints(g: number, drop: boolean, ts: ArrayLike<number>, fs: ArrayLike<number>, n: number): boolean {
    const c = this.cells[g]!;
    const { seen, dropName, val, comp } = c;
    const op = this.op;
    const dn = drop ? 1 : 0;
    for (let p = 0; p < n; p++) {
      const k = (ts[p]! - this.start) / this.interval;
      if (k !== Math.floor(k) || k < 0 || k >= this.steps) return false;
      const f = fs[p]!;
      if (seen[k] === 0) {
        seen[k] = 1;
        dropName[k] = dn;
        val[k] = op === 'count' || op === 'group' ? 1 : f;
        continue;
      }
      dropName[k]! |= dn;
      if (comp !== undefined) {
        // Kahan-Babuška-Neumaier, as kahanAdd in aggregations.ts, on the cell.
        const sum = val[k]!;
        const t = sum + f;
        if (t === Infinity || t === -Infinity) comp[k] = 0;
        else if (Math.abs(sum) >= Math.abs(f)) comp[k]! += (sum - t) + f;
        else comp[k]! += (f - t) + sum;
        val[k] = t;
      } else if (op === 'count') val[k]!++;
      else if (op === 'max') { const v = val[k]!; if (v < f || v !== v) val[k] = f; }
      else if (op === 'min') { const v = val[k]!; if (v > f || v !== v) val[k] = f; }
    }
    return true;
  }

  /** finish writes each group's cells into its result series; groups with no point are left out. */
  finish(result: Series[]): Matrix {
    for (let gi = 0; gi < result.length; gi++) {
      const out = result[gi]!;
      const { seen, dropName, val, comp } = this.cells[gi]!;
      for (let k = 0; k < this.steps; k++) {
        if (seen[k] === 0) continue;
        out.t.push(this.start + k * this.interval);
        out.f.push(comp !== undefined ? val[k]! + comp[k]! : val[k]!);
        out.dropName = dropName[k] === 1;
      }
    }
    return result.filter((x) => x.t.length > 0);
  }
}

/**
 * GroupFold is streamAggregate's sink: it folds each range-function result series into its
 * group's cells as it comes (a class, not a closure: see SeriesSink).
 */
class GroupFold implements SeriesSink {
  readonly g: Grouping;
  readonly cells: GroupCells;
  readonly groupIndex = new Map<string, number>();
  readonly result: Series[] = [];
  /** held counts the samples of the series folded, as if they were held whole. */
  held = 0;
  offGrid = false;

  constructor(g: Grouping, cells: GroupCells) {
    this.g = g;
    this.cells = cells;
  }

  push(s: Series): void {
    this.pushPoints(s.metric, s.dropName, s.t, s.f, s.t.length);
  }

  pushPoints(metric: Labels, dropName: boolean, t: ArrayLike<number>, f: ArrayLike<number>, n: number): void {
    this.held += n;
    const k = this.g.key(metric);
    let gi = this.groupIndex.get(k);
    if (gi === undefined) {
      gi = this.result.length;
      this.groupIndex.set(k, gi);
      this.result.push(newSeries(this.g.labels(metric)));
      this.cells.addGroup();
    }
    if (!this.cells.addPoints(gi, dropName, t, f, n)) this.offGrid = true;
  }
}

/**
 * seriesMajor evaluates an aggregation in SERIES_MAJOR_OPS over an evaluated input whose series
 * are already mapped to `result`'s groups; undefined when a point is off the step grid.
 */
export function seriesMajor(ev: Evaluator, op: string, input: Matrix, seriesToGroup: Int32Array, result: Series[], steps: number): Matrix | undefined {
  const cells = new GroupCells(op, steps, ev.start, ev.interval);
  for (let g = 0; g < result.length; g++) cells.addGroup();
  for (let si = 0; si < input.length; si++) {
    if ((si & 1023) === 0) ev.checkTimeout();
    if (!cells.add(seriesToGroup[si]!, input[si]!)) return undefined;
  }
  return cells.finish(result);
}

/** rangeCallOf returns the call and its range-vector argument when `e` is such a call. */
function rangeCallOf(e: Expr): { call: Call; arg: number } | undefined {
  const x = unwrapParens(e);
  if (x.type !== 'Call') return undefined;
  const name = x.func.name;
  if (name === 'label_replace' || name === 'label_join' || name === 'info') return undefined;
  for (let i = 0; i < x.args.length; i++) {
    let a = x.args[i]!;
    if (a.type === 'StepInvariant' && a.expr.type === 'MatrixSelector') a = a.expr;
    if (a.type === 'MatrixSelector') return { call: x, arg: i };
    if (a.type === 'Subquery') return undefined;
  }
  return undefined;
}

/**
 * streamAggregate evaluates `e` (an aggregation in SERIES_MAJOR_OPS without parameter) when its
 * argument is a range function of a selector, folding each result series into its group as it is
 * produced; undefined when that does not apply (the caller evaluates the input whole). Groups are
 * numbered in the order their first series comes, as the caller's loop numbers them, and the
 * input's samples are accounted as if it were held whole, so limits trip as they would.
 */
export function streamAggregate(ev: Evaluator, e: Aggregate, g: Grouping): Matrix | undefined {
  if (!SERIES_MAJOR_OPS.has(e.op) || e.param !== undefined) return undefined;
  const rc = rangeCallOf(e.expr);
  if (rc === undefined) return undefined;
  // What Evaluator.eval does around evaluating the argument.
  ev.checkNow();
  if (ev.end < ev.start) return [];
  const steps = Math.floor((ev.end - ev.start) / ev.interval) + 1;
  if (!(steps >= 1)) return undefined;
  // The call's StepInvariant wrapper, if any, is dropped as Evaluator.evalCall does.
  const a = rc.call.args[rc.arg]!;
  if (a.type === 'StepInvariant') rc.call.args[rc.arg] = a.expr;
  const before = ev.cur;
  const stream = streamRangeCall(ev, rc.call, rc.arg);
  if (stream === undefined) return undefined;
  // Bound the cells before folding: at most one group per distinct key among the series selected.
  if (stream.series.length * steps > SERIES_MAJOR_MAX_CELLS) {
    const keys = new Set<string>();
    for (const s of stream.series) {
      keys.add(g.key(ev.named(s.labels, stream.dropName).metric));
      if (keys.size * steps > SERIES_MAJOR_MAX_CELLS) return undefined;
    }
  }
  const fold = new GroupFold(g, new GroupCells(e.op, steps, ev.start, ev.interval));
  stream.run(fold);
  // A range function's results lie on the step grid; if not, the answer here would be wrong.
  if (fold.offGrid) throw new PromQLError('internal error: a range function result off the step grid');
  ev.cur = before + fold.held;
  if (ev.cur > ev.q.maxSamples) throw tooManySamples();
  return fold.cells.finish(fold.result);
}
