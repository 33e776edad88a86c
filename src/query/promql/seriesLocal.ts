/**
 * Series-local queries: an expression whose every output series is computed from one input series
 * alone, so that its selector's series can be split into parts, each evaluated on its own (in
 * parallel query threads, src/query/split.ts), and the parts' results put side by side give the
 * whole answer. That holds when the expression has exactly one selector and every node between
 * the root and it evaluates each series alone: parentheses, the range functions (rate,
 * *_over_time, …), the element-wise functions (abs, round, clamp, hour, …), subqueries, unary
 * minus, and arithmetic or comparison with a scalar that reads no series. Not aggregations,
 * vector-vector operations, label_replace/label_join (they may make two series equal), sort,
 * absent, scalar(), info() or the histogram functions (histogram_quantile groups by `le`).
 *
 * One cross-series rule remains: after the metric name is dropped, two series whose other labels
 * are equal are an error ("vector cannot contain metrics with the same labelset"). A split keeps
 * such series in the same part (it partitions by the labels without the `__`-prefixed ones), so
 * each part still sees the pair. Pure: reads the AST only.
 */
import { exprType, type Expr } from './ast.js';
import { TRANSPARENT } from './projection.js';

/** ELEMENTWISE are the instant-vector functions that map each sample of each series alone. */
const ELEMENTWISE: ReadonlySet<string> = new Set([
  'abs', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'ceil', 'clamp', 'clamp_max', 'clamp_min',
  'cos', 'cosh', 'days_in_month', 'day_of_month', 'day_of_week', 'day_of_year', 'deg', 'exp', 'floor',
  'hour', 'ln', 'log10', 'log2', 'minute', 'month', 'rad', 'round', 'sgn', 'sin', 'sinh', 'sqrt', 'tan',
  'tanh', 'timestamp', 'year',
]);

/** isSeriesLocal reports whether `root` evaluates each series of its one selector alone (see the header). */
export function isSeriesLocal(root: Expr): boolean {
  return exprType(root) === 'vector' && selectors(root) === 1 && local(root);
}

/** local checks the path from `e` down to its selector. */
function local(e: Expr): boolean {
  switch (e.type) {
    case 'VectorSelector':
      return true;
    case 'MatrixSelector':
      return local(e.vs);
    case 'Paren':
    case 'StepInvariant':
    case 'Unary':
    case 'Subquery':
      return local(e.expr);
    case 'Call': {
      const name = e.func.name;
      if (!TRANSPARENT.has(name) && !ELEMENTWISE.has(name)) return false;
      // The series argument carries the selector; every other argument must read no series.
      return e.args.every((a) => (selectors(a) === 0 ? exprType(a) !== 'vector' && exprType(a) !== 'matrix' : local(a)));
    }
    case 'Binary': {
      const [withSel, other] = selectors(e.lhs) === 1 ? [e.lhs, e.rhs] : [e.rhs, e.lhs];
      return exprType(other) === 'scalar' && selectors(other) === 0 && local(withSel);
    }
    case 'Aggregate':
    case 'NumberLiteral':
    case 'StringLiteral':
      return false;
  }
}

/** selectors counts the vector selectors under `e`. */
function selectors(e: Expr): number {
  switch (e.type) {
    case 'VectorSelector':
      return 1;
    case 'MatrixSelector':
      return 1;
    case 'Paren':
    case 'StepInvariant':
    case 'Unary':
    case 'Subquery':
      return selectors(e.expr);
    case 'Call':
      return e.args.reduce((n, a) => n + selectors(a), 0);
    case 'Aggregate':
      return selectors(e.expr) + (e.param ? selectors(e.param) : 0);
    case 'Binary':
      return selectors(e.lhs) + selectors(e.rhs);
    case 'NumberLiteral':
    case 'StringLiteral':
      return 0;
  }
}
