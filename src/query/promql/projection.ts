/**
 * Label projection: for each selector, the labels the rest of the query can ever look at. In
 * `sum by (cluster) (rate(x[5m]))` only `cluster` of x's series matters: rate() reads samples,
 * not labels, and the aggregation keeps nothing else. Storage may then leave the other labels out
 * of the series it returns (SelectHints), which saves decoding label sets that would be thrown
 * away: for 100k series that is most of an instant aggregation's time.
 *
 * The analysis is conservative. A selector is projected only when every node between it and an
 * aggregation `by (...)` keeps series apart without looking at their labels: parentheses and the
 * range functions (rate, *_over_time, …), which evaluate each series alone. Not instant-vector
 * functions, arithmetic or unary minus: after dropping the metric name they merge series whose
 * labels became equal (Prometheus' rule), which a projected set would do wrongly. The selector
 * must also have a `__name__="..."` matcher, so that dropping the metric name can never make two of
 * its series equal (an error Prometheus reports, which a projected set could no longer see).
 * The metadata labels (`__name__`, `__type__`, `__unit__`) are always kept. Pure: reads the AST only.
 */
import type { Expr, VectorSelector } from './ast.js';
import { exprType } from './ast.js';

/**
 * TRANSPARENT are the range-vector functions: each series is evaluated alone (src/query/promql/
 * rangeEval.ts), its values never depend on labels, and its result keeps its labels (the metric
 * name possibly dropped).
 */
export const TRANSPARENT: ReadonlySet<string> = new Set([
  'avg_over_time', 'changes', 'count_over_time', 'delta', 'deriv', 'double_exponential_smoothing',
  'first_over_time', 'idelta', 'increase', 'irate', 'last_over_time', 'mad_over_time', 'max_over_time',
  'min_over_time', 'predict_linear', 'present_over_time', 'quantile_over_time', 'rate', 'resets',
  'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'ts_of_first_over_time', 'ts_of_last_over_time',
  'ts_of_max_over_time', 'ts_of_min_over_time',
]);

/** GROUPING are the aggregations whose output labels are the `by` labels alone. */
const GROUPING: ReadonlySet<string> = new Set(['sum', 'avg', 'count', 'min', 'max', 'group', 'stddev', 'stdvar', 'quantile', 'count_values']);

/**
 * METADATA labels are always kept: the range functions drop them, and series whose metadata
 * differ are checked for becoming equal (rangeEval.ts).
 */
const METADATA = ['__name__', '__type__', '__unit__'];

/** ALL means every label is needed. */
type Need = ReadonlySet<string> | 'all';

/**
 * labelProjection returns, for each selector that can be projected, the sorted label names its
 * series need (always including `__name__`). Selectors not in the map need all their labels.
 */
export function labelProjection(root: Expr): Map<VectorSelector, string[]> {
  const out = new Map<VectorSelector, string[]>();
  visit(root, 'all', out);
  return out;
}

function visit(e: Expr, need: Need, out: Map<VectorSelector, string[]>): void {
  switch (e.type) {
    case 'NumberLiteral':
    case 'StringLiteral':
      return;
    case 'VectorSelector':
      if (need !== 'all' && e.matchers.some((m) => m.name === '__name__' && m.type === '=')) {
        out.set(e, [...new Set([...need, ...METADATA])].sort());
      }
      return;
    case 'MatrixSelector':
      visit(e.vs, need, out);
      return;
    case 'Paren':
    case 'StepInvariant':
      visit(e.expr, need, out);
      return;
    case 'Subquery':
    case 'Unary':
      visit(e.expr, 'all', out);
      return;
    case 'Call': {
      const pass = TRANSPARENT.has(e.func.name);
      for (const a of e.args) visit(a, pass && exprType(a) === 'matrix' ? need : 'all', out);
      return;
    }
    case 'Aggregate':
      visit(e.expr, GROUPING.has(e.op) && !e.without ? new Set(e.grouping) : 'all', out);
      if (e.param) visit(e.param, 'all', out);
      return;
    case 'Binary':
      visit(e.lhs, 'all', out);
      visit(e.rhs, 'all', out);
      return;
  }
}
