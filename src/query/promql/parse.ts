/**
 * The PromQL parser: a precedence-climbing parser over lexer.ts tokens that builds ast.ts nodes
 * and type-checks them as Prometheus' parser does (generated_parser.y + checkAST), with every
 * experimental syntax of Prometheus 3.x on: duration arithmetic, `anchored`/`smoothed`,
 * `fill()`/`fill_left()`/`fill_right()`, `@ start()`/`@ end()`, limitk/limit_ratio.
 *
 * Errors read like Prometheus': `1:5: parse error: unexpected …`.
 *
 * Why not @prometheus-io/lezer-promql: it is an editor grammar. It recovers from errors instead of
 * reporting them, does not know `min_of()`/`max_of()` outside durations nor `1.`, and keeps
 * keywords case-sensitive where Prometheus does not (`STEP()`): 26 expressions of the conformance
 * corpus do not parse with it.
 *
 * Over 600 lines on purpose: one recursive-descent grammar whose productions call each other;
 * the lexer, the type checks (check.ts) and duration evaluation already live apart.
 */
import { MatchType, type Matcher } from '../../model/matchers.js';
import {
  AGGREGATORS, FUNCTIONS,
  type AggrOp, type Aggregate, type BinOp, type Binary, type Call, type DurationExpr, type Expr,
  type MatrixSelector, type PosRange, type StringLiteral, type Subquery,
  type VectorMatching, type VectorSelector,
} from './ast.js';
import { evalDuration, isConstantDuration, parseDuration } from './durations.js';
import { lex, numberValue, tokenDesc, type Token } from './lexer.js';
import { Checker, ParseError } from './check.js';
import { compileAnchored } from '../../model/regex.js';
import { goQuote, unquote } from './strings.js';

const BIN_PREC: Record<string, number> = {
  or: 1, and: 2, unless: 2, '==': 3, '!=': 3, '<': 3, '>': 3, '<=': 3, '>=': 3, '</': 3, '>/': 3,
  '+': 4, '-': 4, '*': 5, '/': 5, '%': 5, atan2: 5, '^': 6,
};
const UNARY_PREC = 6; // unary +/- binds like * for its left side, so its operand stops at * but takes ^.

const KEYWORDS = new Set([
  'and', 'or', 'unless', 'atan2', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left',
  'group_right', 'bool', 'smoothed', 'anchored',
]);

class Parser {
  private readonly input: string;
  private readonly toks: Token[];
  private i = 0;

  constructor(input: string) {
    this.input = input;
    this.toks = lex(input);
  }

  private get tok(): Token {
    return this.toks[this.i]!;
  }

  /** k is the current token's kind (a method, so that TypeScript does not narrow it). */
  private k(): Token['k'] {
    return this.toks[this.i]!.k;
  }

  private peek(n = 1): Token {
    return this.toks[Math.min(this.i + n, this.toks.length - 1)]!;
  }

  private advance(): Token {
    const t = this.tok;
    if (t.k !== 'eof' && t.k !== 'error') this.i++;
    return t;
  }

  fail(pos: number, msg: string): never {
    throw new ParseError(this.input, pos, msg);
  }

  private unexpected(context: string, expected: string): never {
    const t = this.tok;
    if (t.k === 'error') this.fail(t.pos, t.v);
    let msg = `unexpected ${tokenDesc(t)}`;
    if (context) msg += ` in ${context}`;
    if (expected) msg += `, expected ${expected}`;
    this.fail(t.pos, msg);
  }

  private expect(k: Token['k'], context: string): Token {
    if (this.k() !== k) this.unexpected(context, JSON.stringify(k));
    return this.advance();
  }

  private isIdent(word: string, t: Token = this.tok): boolean {
    return t.k === 'ident' && t.v.toLowerCase() === word;
  }

  parse(): Expr {
    if (this.k() === 'eof') this.fail(0, 'no expression found in input');
    const e = this.parseExpr(0);
    if (this.k() !== 'eof') {
      if (this.k() === 'error') this.fail(this.tok.pos, this.tok.v);
      this.unexpected('', '');
    }
    return e;
  }

  // --- expressions ---------------------------------------------------------------------------

  private binaryOp(): BinOp | null {
    const t = this.tok;
    switch (t.k) {
      case '+': case '-': case '*': case '/': case '%': case '^':
      case '==': case '!=': case '<': case '>': case '<=': case '>=': case '</': case '>/':
        return t.k;
      case 'ident': {
        const w = t.v.toLowerCase();
        if (w === 'and' || w === 'or' || w === 'unless' || w === 'atan2') return w;
        return null;
      }
      default:
        return null;
    }
  }

  parseExpr(minPrec: number): Expr {
    let lhs = this.parseUnary();
    for (;;) {
      const op = this.binaryOp();
      if (op === null) break;
      const prec = BIN_PREC[op]!;
      if (prec < minPrec) break;
      this.advance();
      const mods = this.parseBinModifiers();
      const rhs = this.parseExpr(op === '^' ? prec : prec + 1);
      lhs = this.newBinary(op, lhs, rhs, mods);
    }
    return lhs;
  }

  private parseBinModifiers(): { bool: boolean; matching: VectorMatching } {
    const matching: VectorMatching = { card: 'one-to-one', on: false, labels: [], include: [] };
    let bool = false;
    if (this.isIdent('bool')) {
      this.advance();
      bool = true;
    }
    if (this.isIdent('on') || this.isIdent('ignoring')) {
      matching.on = this.isIdent('on');
      this.advance();
      matching.labels = this.parseGroupingLabels();
      if (this.isIdent('group_left') || this.isIdent('group_right')) {
        matching.card = this.isIdent('group_left') ? 'many-to-one' : 'one-to-many';
        this.advance();
        if (this.k() === '(') matching.include = this.parseGroupingLabels();
      }
    }
    // fill(v) | fill_left(v) [fill_right(v)] | fill_right(v) [fill_left(v)]
    const fillKind = (): 'fill' | 'fill_left' | 'fill_right' | null => {
      if (this.k() !== 'ident' || this.peek().k !== '(') return null;
      const w = this.tok.v.toLowerCase();
      return w === 'fill' || w === 'fill_left' || w === 'fill_right' ? w : null;
    };
    let k = fillKind();
    if (k === 'fill') {
      this.advance();
      const v = this.parseFillValue();
      matching.fillLeft = v;
      matching.fillRight = v;
    } else if (k !== null) {
      const seen = new Set<string>();
      while (k === 'fill_left' || k === 'fill_right') {
        if (seen.has(k)) this.unexpected('binary expression', '');
        seen.add(k);
        this.advance();
        const v = this.parseFillValue();
        if (k === 'fill_left') matching.fillLeft = v;
        else matching.fillRight = v;
        k = fillKind();
      }
    }
    return { bool, matching };
  }

  private parseFillValue(): number {
    this.expect('(', 'fill modifier');
    let sign = 1;
    while (this.k() === '+' || this.k() === '-') {
      if (this.k() === '-') sign = -sign;
      this.advance();
    }
    const t = this.tok;
    let v: number;
    if (t.k === 'number') v = this.numberOf(t);
    else if (t.k === 'duration') v = this.durationOf(t) / 1000;
    else this.unexpected('fill modifier', 'number');
    this.advance();
    this.expect(')', 'fill modifier');
    return sign * v;
  }

  private parseGroupingLabels(): string[] {
    if (this.k() !== '(') this.unexpected('grouping opts', '"("');
    this.advance();
    const out: string[] = [];
    while (this.k() !== ')') {
      const t = this.tok;
      if (t.k === 'ident') {
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(t.v)) this.unexpected('grouping opts', 'label');
        out.push(t.v);
      } else if (t.k === 'string') {
        out.push(this.stringOf(t).val);
      } else {
        this.unexpected('grouping opts', 'label');
      }
      this.advance();
      if (this.k() === ',') this.advance();
      else if (this.k() !== ')') this.unexpected('grouping opts', '"," or ")"');
    }
    this.advance();
    return out;
  }

  private parseUnary(): Expr {
    const t = this.tok;
    if (t.k === '+' || t.k === '-') {
      this.advance();
      const operand = this.parseExpr(UNARY_PREC);
      if (operand.type === 'NumberLiteral') {
        if (t.k === '-') operand.val = -operand.val;
        operand.pos = { start: t.pos, end: operand.pos.end };
        return operand;
      }
      return { type: 'Unary', op: t.k, expr: operand, pos: { start: t.pos, end: operand.pos.end } };
    }
    return this.parsePostfix(this.parsePrimary());
  }

  private parsePrimary(): Expr {
    const t = this.tok;
    switch (t.k) {
      case 'number': {
        this.advance();
        return { type: 'NumberLiteral', val: this.numberOf(t), pos: { start: t.pos, end: t.end } };
      }
      case 'duration': {
        this.advance();
        return { type: 'NumberLiteral', val: this.durationOf(t) / 1000, pos: { start: t.pos, end: t.end } };
      }
      case 'string': {
        this.advance();
        return this.stringOf(t);
      }
      case '(': {
        this.advance();
        const e = this.parseExpr(0);
        const close = this.tok;
        if (close.k !== ')') this.unexpected('paren expression', '")"');
        this.advance();
        return { type: 'Paren', expr: e, pos: { start: t.pos, end: close.end } };
      }
      case '{': {
        return this.parseVectorSelector(undefined, t.pos);
      }
      case 'ident': {
        const lw = t.v.toLowerCase();
        const next = this.peek();
        if (AGGREGATORS.has(lw) && (next.k === '(' || this.isIdent('by', next) || this.isIdent('without', next))) {
          return this.parseAggregate(lw as AggrOp);
        }
        if (next.k === '(') {
          const caseless = lw === 'step' || lw === 'range' || lw === 'min_of' || lw === 'max_of' || lw === 'start' || lw === 'end';
          return this.parseCall(caseless ? lw : t.v);
        }
        if (KEYWORDS.has(lw) || AGGREGATORS.has(lw)) this.unexpected('', '');
        this.advance();
        return this.parseVectorSelector(t.v, t.pos, t.end);
      }
      case 'eof':
        this.unexpected('', '');
        break;
      default:
        this.unexpected('', '');
    }
  }

  private parseAggregate(op: AggrOp): Aggregate {
    const opTok = this.advance();
    let grouping: string[] = [];
    let without = false;
    let modifier = false;
    const readModifier = (): void => {
      without = this.isIdent('without');
      this.advance();
      grouping = this.parseGroupingLabels();
      modifier = true;
    };
    if (this.isIdent('by') || this.isIdent('without')) readModifier();
    if (this.k() !== '(') this.unexpected('aggregation', '');
    const args = this.parseCallArgs();
    if (!modifier && (this.isIdent('by') || this.isIdent('without'))) readModifier();
    const pos: PosRange = { start: opTok.pos, end: this.toks[this.i - 1]!.end };
    if (args.length === 0) this.fail(pos.start, 'no arguments for aggregate expression provided');
    const withParam = AGGREGATORS.get(op)!;
    const want = withParam ? 2 : 1;
    if (args.length !== want) {
      this.fail(pos.start, `wrong number of arguments for aggregate expression provided, expected ${want}, got ${args.length}`);
    }
    const agg: Aggregate = { type: 'Aggregate', op, expr: args[want - 1]!, grouping, without, pos };
    if (withParam) agg.param = args[0]!;
    return agg;
  }

  private parseCallArgs(): Expr[] {
    this.expect('(', 'function call');
    const args: Expr[] = [];
    if (this.k() === ')') {
      this.advance();
      return args;
    }
    for (;;) {
      args.push(this.parseExpr(0));
      if (this.k() === ',') {
        const comma = this.advance();
        if (this.k() === ')') this.fail(comma.pos, 'trailing commas not allowed in function call args');
        continue;
      }
      if (this.k() === ')') {
        this.advance();
        return args;
      }
      this.unexpected('function call', '"," or ")"');
    }
  }

  private parseCall(name: string): Call {
    const t = this.advance();
    const func = FUNCTIONS.get(name);
    if (!func) this.fail(t.pos, `unknown function with name ${JSON.stringify(t.v)}`);
    const args = this.parseCallArgs();
    return { type: 'Call', func, args, pos: { start: t.pos, end: this.toks[this.i - 1]!.end } };
  }

  private parseVectorSelector(name: string | undefined, start: number, end = start): VectorSelector {
    const matchers: Matcher[] = [];
    let metricName = name;
    if (this.k() === '{') {
      this.advance();
      while (this.k() !== '}') {
        const lt = this.tok;
        let label: string;
        if (lt.k === 'ident') {
          label = lt.v;
        } else if (lt.k === 'string') {
          label = this.stringOf(lt).val;
        } else {
          this.unexpected('label matching', 'identifier or "}"');
        }
        this.advance();
        const opTok = this.tok;
        if (opTok.k === '=' || opTok.k === '!=' || opTok.k === '=~' || opTok.k === '!~') {
          this.advance();
          const vt = this.tok;
          if (vt.k !== 'string') this.unexpected('label matching', 'string');
          this.advance();
          const value = this.stringOf(vt).val;
          const type = opTok.k === '=' ? MatchType.EQ : opTok.k === '!=' ? MatchType.NEQ : opTok.k === '=~' ? MatchType.RE : MatchType.NRE;
          if (type === MatchType.RE || type === MatchType.NRE) {
            try {
              compileAnchored(value);
            } catch (e) {
              this.fail(vt.pos, (e as Error).message);
            }
          }
          matchers.push({ type, name: label, value });
        } else if (lt.k === 'string' && (opTok.k === ',' || opTok.k === '}')) {
          // {"metric.name"}: a quoted metric name.
          if (metricName !== undefined) this.fail(lt.pos, `metric name must not be set twice: ${JSON.stringify(metricName)} or ${JSON.stringify(label)}`);
          metricName = label;
        } else {
          this.unexpected('label matching', 'label matching operator');
        }
        if (this.k() === ',') this.advance();
        else if (this.k() !== '}') this.unexpected('label matching', '"," or "}"');
      }
      end = this.advance().end;
    }
    if (metricName !== undefined) {
      for (const m of matchers) {
        if (m.name === '__name__') {
          this.fail(start, `metric name must not be set twice: ${JSON.stringify(metricName)} or ${JSON.stringify(m.value)}`);
        }
      }
      matchers.push({ type: MatchType.EQ, name: '__name__', value: metricName });
    }
    const vs: VectorSelector = {
      type: 'VectorSelector', matchers, originalOffset: 0, offset: 0, anchored: false, smoothed: false,
      pos: { start, end },
    };
    if (metricName !== undefined) vs.name = metricName;
    return vs;
  }

  // --- postfix: [range], [range:step], offset, @, anchored, smoothed -----------------------

  private parsePostfix(e: Expr): Expr {
    for (;;) {
      const t = this.tok;
      if (t.k === '[') {
        e = this.parseRangeOrSubquery(e);
      } else if (this.isIdent('offset')) {
        this.advance();
        this.addOffset(e, t);
      } else if (t.k === '@') {
        this.advance();
        this.addAt(e, t);
      } else if (this.isIdent('anchored') || this.isIdent('smoothed')) {
        this.advance();
        const vs = e.type === 'VectorSelector' ? e : e.type === 'MatrixSelector' ? e.vs : null;
        if (!vs) this.fail(t.pos, `${t.v.toLowerCase()} modifier must be preceded by an instant vector selector or range vector selector`);
        if (vs.anchored || vs.smoothed) this.fail(t.pos, 'anchored or smoothed modifier may not be set multiple times');
        if (this.isIdent('anchored', t)) vs.anchored = true;
        else vs.smoothed = true;
        e.pos = { start: e.pos.start, end: t.end };
      } else {
        return e;
      }
    }
  }

  private parseRangeOrSubquery(e: Expr): Expr {
    const open = this.advance();
    const rangeExpr = this.parseDurationExpr(0, 'subquery or range');
    if (this.k() === ']') {
      const close = this.advance();
      let err = '';
      if (e.type !== 'VectorSelector') err = 'ranges only allowed for vector selectors';
      else if (e.originalOffset !== 0 || e.originalOffsetExpr) err = 'no offset modifiers allowed before range';
      else if (e.at !== undefined || e.atMode) err = 'no @ modifiers allowed before range';
      else if (e.anchored || e.smoothed) err = 'no anchored or smoothed modifiers allowed before range';
      if (err) this.fail(open.pos, err);
      const ms: MatrixSelector = {
        type: 'MatrixSelector', vs: e as VectorSelector, range: 0, pos: { start: e.pos.start, end: close.end },
      };
      this.setDuration(rangeExpr, false, open.pos, (v) => { ms.range = v; }, (x) => { ms.rangeExpr = x; });
      return ms;
    }
    if (this.k() !== ':') this.unexpected('subquery or range', '":" or "]"');
    this.advance();
    let stepExpr: DurationExpr | undefined;
    if (this.k() !== ']') stepExpr = this.parseDurationExpr(0, 'subquery selector');
    if (this.k() !== ']') this.unexpected('subquery selector', '"]"');
    const close = this.advance();
    const sq: Subquery = {
      type: 'Subquery', expr: e, range: 0, step: 0, originalOffset: 0, offset: 0, pos: { start: e.pos.start, end: close.end },
    };
    this.setDuration(rangeExpr, false, open.pos, (v) => { sq.range = v; }, (x) => { sq.rangeExpr = x; });
    if (stepExpr) this.setDuration(stepExpr, false, open.pos, (v) => { sq.step = v; }, (x) => { sq.stepExpr = x; });
    return sq;
  }

  private setDuration(e: DurationExpr, allowNegative: boolean, pos: number, setValue: (ms: number) => void, setExpr: (e: DurationExpr) => void): void {
    if (isConstantDuration(e)) {
      try {
        setValue(evalDuration(e, { stepMs: 0, rangeMs: 0 }, allowNegative));
      } catch (err) {
        this.fail(pos, (err as Error).message);
      }
    } else {
      setExpr(e);
    }
  }

  private addOffset(e: Expr, at: Token): void {
    let sign = 1;
    while (this.k() === '+' || this.k() === '-') {
      if (this.k() === '-') sign = -sign;
      this.advance();
    }
    const prim = this.parseDurationPrimary('offset');
    const d: DurationExpr = sign < 0 ? { type: 'DurUnary', op: '-', expr: prim } : prim;
    let target: { originalOffset: number; originalOffsetExpr?: DurationExpr; at?: number } | null = null;
    if (e.type === 'VectorSelector') target = e;
    else if (e.type === 'MatrixSelector') target = e.vs;
    else if (e.type === 'Subquery') target = e;
    if (!target) this.fail(e.pos.start, 'offset modifier must be preceded by an instant vector selector or range vector selector or a subquery');
    if (target.originalOffset !== 0 || target.originalOffsetExpr) this.fail(at.pos, 'offset may not be set multiple times');
    this.setDuration(d, true, at.pos, (v) => { target.originalOffset = v; }, (x) => { target.originalOffsetExpr = x; });
    e.pos = { start: e.pos.start, end: this.toks[this.i - 1]!.end };
  }

  private addAt(e: Expr, atTok: Token): void {
    let target: { at?: number; atMode?: 'start' | 'end' } | null = null;
    if (e.type === 'VectorSelector') target = e;
    else if (e.type === 'MatrixSelector') target = e.vs;
    else if (e.type === 'Subquery') target = e;
    if (!target) this.fail(e.pos.start, '@ modifier must be preceded by an instant vector selector or range vector selector or a subquery');
    if (target.at !== undefined || target.atMode) this.fail(atTok.pos, '@ <timestamp> may not be set multiple times');
    if ((this.isIdent('start') || this.isIdent('end')) && this.peek().k === '(') {
      target.atMode = this.tok.v.toLowerCase() as 'start' | 'end';
      this.advance();
      this.advance();
      this.expect(')', '@');
    } else {
      let sign = 1;
      while (this.k() === '+' || this.k() === '-') {
        if (this.k() === '-') sign = -sign;
        this.advance();
      }
      const t = this.tok;
      let sec: number;
      if (t.k === 'number') sec = this.numberOf(t);
      else if (t.k === 'duration') sec = this.durationOf(t) / 1000;
      else this.unexpected('@', 'timestamp');
      this.advance();
      sec *= sign;
      const ms = Math.round(sec * 1000);
      if (!Number.isFinite(sec) || Math.abs(ms) > 9.2e18) this.fail(atTok.pos, `timestamp out of bounds for @ modifier: ${sec}`);
      target.at = ms === 0 ? 0 : ms;
    }
    e.pos = { start: e.pos.start, end: this.toks[this.i - 1]!.end };
  }

  // --- duration expressions ------------------------------------------------------------------

  private parseDurationExpr(minPrec: number, context: string): DurationExpr {
    let lhs: DurationExpr;
    const t = this.tok;
    if (t.k === '+' || t.k === '-') {
      this.advance();
      lhs = { type: 'DurUnary', op: t.k, expr: this.parseDurationExpr(6, context) };
    } else {
      lhs = this.parseDurationPrimary(context);
    }
    for (;;) {
      const op = this.k();
      if (op !== '+' && op !== '-' && op !== '*' && op !== '/' && op !== '%' && op !== '^') break;
      const prec = BIN_PREC[op]!;
      if (prec < minPrec) break;
      this.advance();
      const rhs = this.parseDurationExpr(op === '^' ? prec : prec + 1, context);
      lhs = { type: 'DurBinary', op, lhs, rhs };
    }
    return lhs;
  }

  private parseDurationPrimary(context: string): DurationExpr {
    const t = this.tok;
    if (t.k === 'number') {
      this.advance();
      return { type: 'DurNumber', val: this.numberOf(t) };
    }
    if (t.k === 'duration') {
      this.advance();
      const ms = this.durationOf(t);
      return { type: 'DurNumber', val: ms / 1000, ms };
    }
    if (t.k === '(') {
      this.advance();
      const e = this.parseDurationExpr(0, context);
      this.expect(')', context);
      return e;
    }
    if (t.k === 'ident' && this.peek().k === '(') {
      const w = t.v.toLowerCase();
      if (w === 'step' || w === 'range') {
        this.advance();
        this.advance();
        this.expect(')', context);
        return { type: 'DurCall', fn: w };
      }
      if (w === 'min_of' || w === 'max_of') {
        this.advance();
        this.advance();
        const a = this.parseDurationExpr(0, context);
        this.expect(',', context);
        const b = this.parseDurationExpr(0, context);
        this.expect(')', context);
        return { type: 'DurMinMax', fn: w, lhs: a, rhs: b };
      }
    }
    this.unexpected(context, 'number or duration');
  }

  // --- terminals -----------------------------------------------------------------------------

  private numberOf(t: Token): number {
    try {
      return numberValue(t.v);
    } catch (e) {
      this.fail(t.pos, (e as Error).message);
    }
  }

  private durationOf(t: Token): number {
    try {
      return parseDuration(t.v);
    } catch (e) {
      this.fail(t.pos, (e as Error).message);
    }
  }

  private stringOf(t: Token): StringLiteral {
    try {
      const u = unquote(t.v);
      return { type: 'StringLiteral', val: u.val, validUtf8: u.validUtf8, quoted: goQuote(u.bytes), pos: { start: t.pos, end: t.end } };
    } catch (e) {
      this.fail(t.pos, (e as Error).message);
    }
  }

  private newBinary(op: BinOp, lhs: Expr, rhs: Expr, mods: { bool: boolean; matching: VectorMatching }): Binary {
    return { type: 'Binary', op, lhs, rhs, bool: mods.bool, matching: mods.matching, pos: { start: lhs.pos.start, end: rhs.pos.end } };
  }

}

export { ParseError, matchesEmpty } from './check.js';

/** parseExpr parses and type-checks a PromQL expression; throws ParseError. */
export function parseExpr(input: string): Expr {
  const e = new Parser(input).parse();
  new Checker(input).check(e);
  // The info() data-label selector may select nothing on its own.
  return e;
}
