/**
 * How `offset`, `@` and subqueries map evaluation time to sample time: the time range each
 * selector needs (Prometheus' getTimeRangesForSelector) and the working offsets that make `@`
 * timestamps reachable from an evaluator's start (setOffsetForAtModifier).
 */
import { inspect, type Expr, type VectorSelector } from './ast.js';

/** subqueryTimes sums the offsets and ranges of the subqueries on a path, as Prometheus does. */
export function subqueryTimes(path: Expr[]): { offset: number; range: number; at: number | undefined } {
  let offset = 0;
  let range = 0;
  let at: number | undefined;
  for (const n of path) {
    if (n.type !== 'Subquery') continue;
    offset += n.originalOffset;
    range += n.range;
    if (n.at !== undefined) {
      offset = n.originalOffset;
      range = n.range;
      at = n.at;
    }
  }
  return { offset, range, at };
}

/**
 * setOffsetForAtModifier sets the working offset of every selector and subquery under `expr` so
 * that an `@` timestamp is reached from the evaluation time `evalTime`.
 */
export function setOffsetForAtModifier(evalTime: number, expr: Expr): void {
  const getOffset = (at: number | undefined, original: number, path: Expr[]): number => {
    if (at === undefined) return original;
    const sq = subqueryTimes(path);
    let subqOffset = sq.offset;
    if (sq.at !== undefined) subqOffset += evalTime - sq.at;
    return original + (evalTime - at) - subqOffset;
  };
  inspect(expr, (n, path) => {
    if (n.type === 'VectorSelector') n.offset = getOffset(n.at, n.originalOffset, path);
    else if (n.type === 'MatrixSelector') n.vs.offset = getOffset(n.vs.at, n.vs.originalOffset, path);
    else if (n.type === 'Subquery') n.offset = getOffset(n.at, n.originalOffset, path);
  });
}

/**
 * timeRange is Prometheus' getTimeRangesForSelector: the [mint, maxt] a selector needs, from the
 * query range, the subqueries above it, its `@`, offset, range and the lookback delta.
 */
export function timeRange(start: number, end: number, lookback: number, vs: VectorSelector, path: Expr[], evalRange: number): [number, number] {
  let s = start;
  let e = end;
  const sq = subqueryTimes(path);
  if (sq.at !== undefined) {
    s = sq.at;
    e = sq.at;
  }
  if (vs.at !== undefined) {
    s = vs.at;
    e = vs.at;
  } else {
    s = s - sq.offset - sq.range;
    e -= sq.offset;
  }
  if (evalRange === 0) {
    s -= lookback - 1;
    if (vs.smoothed) e += lookback;
  } else if (vs.anchored) {
    s -= lookback + evalRange - 1;
  } else if (vs.smoothed) {
    s -= lookback + evalRange - 1;
    e += lookback;
  } else {
    s -= evalRange - 1;
  }
  s -= vs.originalOffset;
  e -= vs.originalOffset;
  return [s, e];
}
