/**
 * Type checking of a parsed PromQL tree, after Prometheus' checkAST: operand and argument
 * types, arities, vector matching rules, and selectors that could select everything.
 */
import { MatchType, type Matcher } from '../../model/matchers.js';
import {
  documentedType, exprType, isComparisonOp, isSetOp,
  type Expr, type PosRange, type ValueType, type VectorSelector,
} from './ast.js';
import { compileAnchored } from '../../model/regex.js';

/** ParseError is a syntax or type error in a query; `pos` is the offset it refers to. */
export class ParseError extends Error {
  readonly pos: number;
  readonly query: string;
  constructor(query: string, pos: number, msg: string) {
    const before = query.slice(0, pos);
    const line = before.split('\n').length;
    const col = pos - (before.lastIndexOf('\n') + 1) + 1;
    super(`${line}:${col}: parse error: ${msg}`);
    this.name = 'ParseError';
    this.pos = pos;
    this.query = query;
  }
}

/** Checker type-checks a tree, throwing ParseError at the first problem. */
export class Checker {
  private readonly input: string;

  constructor(input: string) {
    this.input = input;
  }

  private fail(pos: PosRange, msg: string): never {
    throw new ParseError(this.input, pos.start, msg);
  }

  private expectType(e: Expr, want: ValueType, context: string): void {
    const t = this.check(e);
    if (t !== want) this.fail(e.pos, `expected type ${documentedType(want)} in ${context}, got ${documentedType(t)}`);
  }

  check(e: Expr): ValueType {
    switch (e.type) {
      case 'Aggregate': {
        this.expectType(e.expr, 'vector', 'aggregation expression');
        if (e.op === 'topk' || e.op === 'bottomk' || e.op === 'quantile' || e.op === 'limitk' || e.op === 'limit_ratio') {
          this.expectType(e.param!, 'scalar', 'aggregation parameter');
        }
        if (e.op === 'count_values') this.expectType(e.param!, 'string', 'aggregation parameter');
        break;
      }
      case 'Binary': {
        const lt = this.check(e.lhs);
        const rt = this.check(e.rhs);
        const m = e.matching!;
        if (e.bool && !isComparisonOp(e.op)) this.fail(e.pos, 'bool modifier can only be used on comparison operators');
        if (isComparisonOp(e.op) && !e.bool && lt === 'scalar' && rt === 'scalar') {
          this.fail(e.pos, 'comparisons between scalars must use BOOL modifier');
        }
        if (isSetOp(e.op) && m.card === 'one-to-one') m.card = 'many-to-many';
        if (m.on) {
          for (const l of m.labels) {
            if (m.include.includes(l)) this.fail(e.pos, `label ${JSON.stringify(l)} must not occur in ON and GROUP clause at once`);
          }
        }
        if (lt !== 'scalar' && lt !== 'vector') this.fail(e.lhs.pos, 'binary expression must contain only scalar and instant vector types');
        if (rt !== 'scalar' && rt !== 'vector') this.fail(e.rhs.pos, 'binary expression must contain only scalar and instant vector types');
        if (lt !== 'vector' || rt !== 'vector') {
          if (m.labels.length > 0 || m.on) this.fail(e.pos, 'vector matching only allowed between instant vectors');
          if (m.fillLeft !== undefined || m.fillRight !== undefined) this.fail(e.pos, 'filling in missing series only allowed between instant vectors');
          delete e.matching;
        } else if (isSetOp(e.op)) {
          if (m.card === 'one-to-many' || m.card === 'many-to-one') this.fail(e.pos, `no grouping allowed for ${JSON.stringify(e.op)} operation`);
          if (m.fillLeft !== undefined || m.fillRight !== undefined) this.fail(e.pos, `filling in missing series not allowed for ${JSON.stringify(e.op)} operation`);
        }
        if ((lt === 'scalar' || rt === 'scalar') && isSetOp(e.op)) {
          this.fail(e.pos, `set operator ${JSON.stringify(e.op)} not allowed in binary scalar expression`);
        }
        break;
      }
      case 'Call': {
        const f = e.func;
        const nargs = f.argTypes.length;
        if (f.variadic === 0) {
          if (nargs !== e.args.length) this.fail(e.pos, `expected ${nargs} argument(s) in call to ${JSON.stringify(f.name)}, got ${e.args.length}`);
        } else {
          const na = nargs - 1;
          if (na > e.args.length) {
            this.fail(e.pos, `expected at least ${na} argument(s) in call to ${JSON.stringify(f.name)}, got ${e.args.length}`);
          } else if (f.variadic > 0 && na + f.variadic < e.args.length) {
            this.fail(e.pos, `expected at most ${na + f.variadic} argument(s) in call to ${JSON.stringify(f.name)}, got ${e.args.length}`);
          }
        }
        if (f.name === 'info' && e.args.length > 1) {
          const a = e.args[1]!;
          if (a.type !== 'VectorSelector') {
            this.fail(e.pos, `expected type ${documentedType('vector')} in call to function "info", got ${documentedType(exprType(a))}`);
          }
          if (a.name !== undefined) this.fail(a.pos, 'expected label selectors only, got vector selector instead');
        }
        for (let i = 0; i < e.args.length; i++) {
          let ai = i;
          if (ai >= nargs) {
            if (f.variadic === 0) break;
            ai = nargs - 1;
          }
          const arg = e.args[i]!;
          if (f.name === 'info' && i === 1 && arg.type === 'VectorSelector') continue;
          this.expectType(arg, f.argTypes[ai]!, `call to function ${JSON.stringify(f.name)}`);
        }
        break;
      }
      case 'Paren':
        this.check(e.expr);
        break;
      case 'Unary': {
        const t = this.check(e.expr);
        if (t !== 'scalar' && t !== 'vector') {
          this.fail(e.pos, `unary expression only allowed on expressions of type scalar or instant vector, got ${JSON.stringify(documentedType(t))}`);
        }
        break;
      }
      case 'Subquery': {
        const t = this.check(e.expr);
        if (t !== 'vector') this.fail(e.pos, `subquery is only allowed on instant vector, got ${t} instead`);
        break;
      }
      case 'MatrixSelector':
        this.checkSelector(e.vs);
        break;
      case 'VectorSelector':
        this.checkSelector(e);
        break;
      default:
        break;
    }
    return exprType(e);
  }

  private checkSelector(vs: VectorSelector): void {
    if (vs.name !== undefined) return;
    if (!vs.matchers.some((m) => !matchesEmpty(m))) {
      this.fail(vs.pos, 'vector selector must contain at least one non-empty matcher');
    }
  }
}

/** matchesEmpty tells whether a matcher accepts the empty string (a missing label). */
export function matchesEmpty(m: Matcher): boolean {
  switch (m.type) {
    case MatchType.EQ: return m.value === '';
    case MatchType.NEQ: return m.value !== '';
    case MatchType.RE: return compileAnchored(m.value).test('');
    case MatchType.NRE: return !compileAnchored(m.value).test('');
  }
}

