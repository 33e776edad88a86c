/**
 * The PromQL syntax tree. Nodes are plain objects discriminated by `type`; the parser
 * (parse.ts) builds them and type-checks them the way Prometheus' parser does, the engine
 * (engine.ts) preprocesses a fresh tree per query (durations, `@ start()`, step invariance) and
 * then evaluates it. All times and durations are milliseconds.
 */
import type { Matcher } from '../../model/matchers.js';

/** ValueType is the type of a PromQL expression, as Prometheus names it in errors. */
export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** documentedType names a value type the way Prometheus' error messages do. */
export function documentedType(t: ValueType): string {
  switch (t) {
    case 'vector': return 'instant vector';
    case 'matrix': return 'range vector';
    default: return t;
  }
}

/** PosRange is a half-open byte range [start, end) into the query text. */
export interface PosRange {
  start: number;
  end: number;
}

/** AggrOp lists the aggregation operators. */
export type AggrOp =
  | 'sum' | 'avg' | 'count' | 'min' | 'max' | 'group' | 'stddev' | 'stdvar'
  | 'topk' | 'bottomk' | 'quantile' | 'count_values' | 'limitk' | 'limit_ratio';

/** BinOp lists the binary operators (set operators included). */
export type BinOp =
  | '+' | '-' | '*' | '/' | '%' | '^' | 'atan2'
  | '==' | '!=' | '>' | '<' | '>=' | '<='
  /** Native-histogram trim operators; between floats they yield nothing (with an info). */
  | '</' | '>/'
  | 'and' | 'or' | 'unless';

/** isComparisonOp tells the comparison operators. */
export function isComparisonOp(op: BinOp): boolean {
  return op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
}

/** isSetOp tells the set operators. */
export function isSetOp(op: BinOp): boolean {
  return op === 'and' || op === 'or' || op === 'unless';
}

/**
 * DurationExpr is a duration written as arithmetic (`[5m+1m]`, `offset -step()`), kept until the
 * engine knows the query's step and range. Values are seconds, as Prometheus computes them.
 */
export type DurationExpr =
  /** ms is set for a duration token (`1001ms`), which Prometheus keeps exact when used alone. */
  | { type: 'DurNumber'; val: number; ms?: number }
  | { type: 'DurBinary'; op: '+' | '-' | '*' | '/' | '%' | '^'; lhs: DurationExpr; rhs: DurationExpr }
  | { type: 'DurUnary'; op: '+' | '-'; expr: DurationExpr }
  | { type: 'DurCall'; fn: 'step' | 'range' }
  | { type: 'DurMinMax'; fn: 'min_of' | 'max_of'; lhs: DurationExpr; rhs: DurationExpr };

/** AtMode is set for `@ start()` and `@ end()`, resolved into `at` when the query is prepared. */
export type AtMode = 'start' | 'end';

export interface NumberLiteral {
  type: 'NumberLiteral';
  val: number;
  pos: PosRange;
}

export interface StringLiteral {
  type: 'StringLiteral';
  /** val is the unquoted value (invalid UTF-8 bytes become U+FFFD). */
  val: string;
  /** validUtf8 is false when escapes produced bytes that are not UTF-8, as in `"\xff"`. */
  validUtf8: boolean;
  /** quoted is the value quoted the way Go's %q prints it, for error messages. */
  quoted: string;
  pos: PosRange;
}

export interface VectorSelector {
  type: 'VectorSelector';
  /** name is the metric name written before the braces, if any (also present as a matcher). */
  name?: string;
  matchers: Matcher[];
  /** originalOffset is the offset as written (ms, negative allowed). */
  originalOffset: number;
  originalOffsetExpr?: DurationExpr;
  /** offset is the working offset: originalOffset adjusted for `@` by the engine. */
  offset: number;
  /** at is the `@` timestamp in ms. */
  at?: number;
  atMode?: AtMode;
  anchored: boolean;
  smoothed: boolean;
  pos: PosRange;
}

export interface MatrixSelector {
  type: 'MatrixSelector';
  vs: VectorSelector;
  range: number;
  rangeExpr?: DurationExpr;
  pos: PosRange;
}

export interface Subquery {
  type: 'Subquery';
  expr: Expr;
  range: number;
  rangeExpr?: DurationExpr;
  /** step is 0 when written without one (`[5m:]`). */
  step: number;
  stepExpr?: DurationExpr;
  originalOffset: number;
  originalOffsetExpr?: DurationExpr;
  offset: number;
  at?: number;
  atMode?: AtMode;
  pos: PosRange;
}

export interface Call {
  type: 'Call';
  func: FunctionDef;
  args: Expr[];
  pos: PosRange;
}

export interface Aggregate {
  type: 'Aggregate';
  op: AggrOp;
  expr: Expr;
  param?: Expr;
  grouping: string[];
  without: boolean;
  pos: PosRange;
}

/** Cardinality of a vector matching. */
export type Card = 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';

export interface VectorMatching {
  card: Card;
  /** on is true for on(...), false for ignoring(...) or no clause. */
  on: boolean;
  labels: string[];
  /** include lists the labels of group_left(...) / group_right(...). */
  include: string[];
  /** fillLeft / fillRight are the values of fill(), fill_left(), fill_right(). */
  fillLeft?: number;
  fillRight?: number;
}

export interface Binary {
  type: 'Binary';
  op: BinOp;
  lhs: Expr;
  rhs: Expr;
  bool: boolean;
  /** matching is set when both sides are instant vectors. */
  matching?: VectorMatching;
  pos: PosRange;
}

export interface Unary {
  type: 'Unary';
  op: '+' | '-';
  expr: Expr;
  pos: PosRange;
}

export interface Paren {
  type: 'Paren';
  expr: Expr;
  pos: PosRange;
}

/** StepInvariant wraps a subtree whose value is the same at every step; made by the engine. */
export interface StepInvariant {
  type: 'StepInvariant';
  expr: Expr;
  pos: PosRange;
}

export type Expr =
  | NumberLiteral | StringLiteral | VectorSelector | MatrixSelector | Subquery
  | Call | Aggregate | Binary | Unary | Paren | StepInvariant;

/** FunctionDef describes a function's signature, as Prometheus' parser.Functions does. */
export interface FunctionDef {
  name: string;
  argTypes: ValueType[];
  /** variadic: 0 fixed arity; n > 0 up to n optional trailing args; -1 unbounded repeats of the last. */
  variadic: number;
  returnType: ValueType;
}

function fn(name: string, argTypes: ValueType[], returnType: ValueType, variadic = 0): FunctionDef {
  return { name, argTypes, variadic, returnType };
}

const V: ValueType = 'vector';
const M: ValueType = 'matrix';
const S: ValueType = 'scalar';
const STR: ValueType = 'string';

/** FUNCTIONS is every function of PromQL (Prometheus 3.x with experimental functions on). */
export const FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map(
  [
    fn('abs', [V], V), fn('absent', [V], V), fn('absent_over_time', [M], V),
    fn('acos', [V], V), fn('acosh', [V], V), fn('asin', [V], V), fn('asinh', [V], V),
    fn('atan', [V], V), fn('atanh', [V], V), fn('avg_over_time', [M], V), fn('ceil', [V], V),
    fn('changes', [M], V), fn('clamp', [V, S, S], V), fn('clamp_max', [V, S], V),
    fn('clamp_min', [V, S], V), fn('cos', [V], V), fn('cosh', [V], V),
    fn('count_over_time', [M], V), fn('days_in_month', [V], V, 1), fn('day_of_month', [V], V, 1),
    fn('day_of_week', [V], V, 1), fn('day_of_year', [V], V, 1), fn('deg', [V], V),
    fn('delta', [M], V), fn('deriv', [M], V), fn('double_exponential_smoothing', [M, S, S], V),
    fn('exp', [V], V), fn('first_over_time', [M], V), fn('floor', [V], V),
    fn('histogram_avg', [V], V), fn('histogram_count', [V], V), fn('histogram_fraction', [S, S, V], V),
    fn('histogram_quantile', [S, V], V), fn('histogram_quantiles', [V, STR, S, S], V, -1),
    fn('histogram_stddev', [V], V), fn('histogram_stdvar', [V], V), fn('histogram_sum', [V], V),
    fn('hour', [V], V, 1), fn('idelta', [M], V), fn('increase', [M], V), fn('info', [V, V], V, 1),
    fn('irate', [M], V), fn('label_join', [V, STR, STR, STR], V, -1),
    fn('label_replace', [V, STR, STR, STR, STR], V), fn('last_over_time', [M], V),
    fn('ln', [V], V), fn('log10', [V], V), fn('log2', [V], V), fn('mad_over_time', [M], V),
    fn('max_over_time', [M], V), fn('min_over_time', [M], V), fn('minute', [V], V, 1),
    fn('month', [V], V, 1), fn('pi', [], S), fn('predict_linear', [M, S], V),
    fn('present_over_time', [M], V), fn('quantile_over_time', [S, M], V), fn('rad', [V], V),
    fn('rate', [M], V), fn('resets', [M], V), fn('round', [V, S], V, 1), fn('scalar', [V], S),
    fn('sgn', [V], V), fn('sin', [V], V), fn('sinh', [V], V), fn('sort', [V], V),
    fn('sort_by_label', [V, STR], V, -1), fn('sort_by_label_desc', [V, STR], V, -1),
    fn('sort_desc', [V], V), fn('sqrt', [V], V), fn('start_timestamp', [V], V),
    fn('stddev_over_time', [M], V), fn('stdvar_over_time', [M], V), fn('sum_over_time', [M], V),
    fn('tan', [V], V), fn('tanh', [V], V), fn('time', [], S), fn('timestamp', [V], V),
    fn('ts_of_first_over_time', [M], V), fn('ts_of_last_over_time', [M], V),
    fn('ts_of_max_over_time', [M], V), fn('ts_of_min_over_time', [M], V),
    fn('vector', [S], V), fn('year', [V], V, 1),
    // Query-context functions and scalar helpers of duration expressions.
    fn('start', [], S), fn('end', [], S), fn('range', [], S), fn('step', [], S),
    fn('min_of', [S, S], S), fn('max_of', [S, S], S),
  ].map((f) => [f.name, f]),
);

/** AGGREGATORS is every aggregation operator; the boolean says whether it takes a parameter. */
export const AGGREGATORS: ReadonlyMap<string, boolean> = new Map<string, boolean>([
  ['sum', false], ['avg', false], ['count', false], ['min', false], ['max', false], ['group', false],
  ['stddev', false], ['stdvar', false], ['topk', true], ['bottomk', true], ['quantile', true],
  ['count_values', true], ['limitk', true], ['limit_ratio', true],
]);

/** exprType returns the value type of an expression. */
export function exprType(e: Expr): ValueType {
  switch (e.type) {
    case 'NumberLiteral': return 'scalar';
    case 'StringLiteral': return 'string';
    case 'VectorSelector': return 'vector';
    case 'MatrixSelector': return 'matrix';
    case 'Subquery': return 'matrix';
    case 'Call': return e.func.returnType;
    case 'Aggregate': return 'vector';
    case 'Binary': return exprType(e.lhs) === 'scalar' && exprType(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'Unary': return exprType(e.expr);
    case 'Paren': return exprType(e.expr);
    case 'StepInvariant': return exprType(e.expr);
  }
}

/** children lists an expression's direct sub-expressions, in evaluation order. */
export function children(e: Expr): Expr[] {
  switch (e.type) {
    case 'MatrixSelector': return [e.vs];
    case 'Subquery': return [e.expr];
    case 'Call': return e.args;
    case 'Aggregate': return e.param ? [e.param, e.expr] : [e.expr];
    case 'Binary': return [e.lhs, e.rhs];
    case 'Unary': case 'Paren': case 'StepInvariant': return [e.expr];
    default: return [];
  }
}

/** inspect walks the tree depth-first; `path` holds the ancestors of the visited node. */
export function inspect(e: Expr, visit: (node: Expr, path: Expr[]) => void, path: Expr[] = []): void {
  visit(e, path);
  path.push(e);
  for (const c of children(e)) inspect(c, visit, path);
  path.pop();
}

/** unwrapParens strips any parentheses around an expression. */
export function unwrapParens(e: Expr): Expr {
  while (e.type === 'Paren') e = e.expr;
  return e;
}
