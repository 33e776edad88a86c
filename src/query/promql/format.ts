/**
 * Printing PromQL: `formatExpr` writes an expression in its canonical one-line form (what
 * Prometheus' `Expr.String()` gives, promql/parser/printer.go) and `prettify` in the multi-line
 * form of `parser.Prettify` (prettier.go), which /api/v1/format_query answers. Pure functions over
 * ast.ts nodes: they read a tree and touch nothing else.
 *
 * The rules, as Prometheus 3.x applies them:
 * - numbers print like Go's strconv.FormatFloat(v, 'f', -1) (`1000000`, `0.05`, `+Inf`, `NaN`);
 *   fill() values like Go's %v (`1e+06`);
 * - durations print like model.Duration: largest units first, `y` and `w` only when they divide
 *   the duration exactly (`1h30m`, `2w`, `90d`, `0s`);
 * - strings and matcher values are Go-quoted; label names that are not `[a-zA-Z_][a-zA-Z0-9_]*`
 *   are quoted too; matchers are sorted by their printed text, bytewise; the metric name moves
 *   in front of the braces; `by`/`without` comes before the aggregated expression, and an empty
 *   `by ()` disappears;
 * - `@` prints seconds with three decimals, then `anchored`/`smoothed`, then `offset`.
 *
 * The pretty form splits a node only when its one-line form is longer than 100 bytes (UTF-8):
 * a split node puts each child on its own lines, indented two spaces per level; binary
 * expressions put the operator (with bool, on/ignoring, group_x, fill) on a line of its own.
 *
 * Our tree keeps less than Prometheus' in a few places; the output still parses back to the
 * same tree, but differs from Prometheus' text: constant duration arithmetic (`[2*1h]`) is kept
 * only as its value and prints as `[2h]`; parentheses inside duration arithmetic are not kept, so
 * they are printed where precedence needs them; a metric name quoted inside the braces
 * (`{"up"}`) prints as `up` (Prometheus: `{__name__="up"}`); a number written as a duration
 * (`time() - 5m`) prints in seconds (`300`) until the parser marks such literals.
 */
import type {
  Aggregate, Binary, DurationExpr, Expr, NumberLiteral, Subquery, VectorMatching, VectorSelector,
} from './ast.js';
import type { Matcher } from '../../model/matchers.js';
import { goQuote } from './strings.js';
import { formatDuration } from './durations.js';
import { formatGoFloatF, formatGoG } from './value.js';

/** MAX_LINE is the length (in UTF-8 bytes) above which prettify splits a node, as Prometheus. */
export const MAX_LINE = 100;
const INDENT = '  ';

const LEGACY_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LEGACY_METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** formatExpr prints an expression in canonical one-line form, as Prometheus' String() does. */
export function formatExpr(e: Expr): string {
  return new Printer(MAX_LINE).str(e);
}

/**
 * prettify prints an expression as Prometheus' parser.Prettify does: the one-line form where it
 * fits in `maxWidth` bytes, else split over indented lines. `maxWidth` exists for tests, which
 * use Prometheus' own small widths.
 */
export function prettify(e: Expr, maxWidth: number = MAX_LINE): string {
  return new Printer(maxWidth).pretty(e, 0);
}

/** Printer caches the one-line form of each node during one call (prettify asks repeatedly). */
class Printer {
  private readonly maxWidth: number;
  private readonly cache = new Map<Expr, string>();

  constructor(maxWidth: number) {
    this.maxWidth = maxWidth;
  }

  str(e: Expr): string {
    let s = this.cache.get(e);
    if (s === undefined) {
      s = this.build(e);
      this.cache.set(e, s);
    }
    return s;
  }

  private build(e: Expr): string {
    switch (e.type) {
      case 'NumberLiteral': return numberLiteral(e);
      case 'StringLiteral': return e.quoted;
      case 'VectorSelector': return vectorSelector(e, true);
      case 'MatrixSelector': {
        const range = e.rangeExpr ? durationExpr(e.rangeExpr) : formatDuration(e.range);
        return `${vectorSelector(e.vs, false)}[${range}]${anchoring(e.vs)}${at(e.vs)}${offset(e.vs)}`;
      }
      case 'Subquery': return this.str(e.expr) + subquerySuffix(e);
      case 'Call': return `${e.func.name}(${e.args.map((a) => this.str(a)).join(', ')})`;
      case 'Aggregate': {
        const param = e.param !== undefined ? `${this.str(e.param)}, ` : '';
        return `${aggregateHead(e)}(${param}${this.str(e.expr)})`;
      }
      case 'Binary': return `${this.str(e.lhs)} ${binaryHead(e)} ${this.str(e.rhs)}`;
      case 'Unary': return e.op + this.str(e.expr);
      case 'Paren': return `(${this.str(e.expr)})`;
      case 'StepInvariant': return this.str(e.expr);
    }
  }

  private fits(e: Expr): boolean {
    return Buffer.byteLength(this.str(e), 'utf8') <= this.maxWidth;
  }

  pretty(e: Expr, level: number): string {
    const ind = INDENT.repeat(level);
    switch (e.type) {
      case 'Aggregate': {
        if (this.fits(e)) return ind + this.str(e);
        const param = e.param !== undefined ? `${this.pretty(e.param, level + 1)},\n` : '';
        return `${ind}${aggregateHead(e)}(\n${param}${this.pretty(e.expr, level + 1)}\n${ind})`;
      }
      case 'Binary': {
        if (this.fits(e)) return ind + this.str(e);
        return `${this.pretty(e.lhs, level + 1)}\n${ind}${binaryHead(e)}\n${this.pretty(e.rhs, level + 1)}`;
      }
      case 'Call': {
        if (this.fits(e)) return ind + this.str(e);
        const args = e.args.map((a) => this.pretty(a, level + 1)).join(',\n');
        return `${ind}${e.func.name}(\n${args}\n${ind})`;
      }
      case 'Paren': {
        if (this.fits(e)) return ind + this.str(e);
        return `${ind}(\n${this.pretty(e.expr, level + 1)}\n${ind})`;
      }
      case 'Subquery':
        // Prometheus returns a subquery that fits without indenting it, even under a split
        // parent; kept for identical output.
        if (this.fits(e)) return this.str(e);
        return this.pretty(e.expr, level) + subquerySuffix(e);
      case 'Unary':
        // The operand decides about splitting; its indent moves in front of the operator.
        return ind + e.op + this.pretty(e.expr, level).trim();
      case 'StepInvariant':
        return this.pretty(e.expr, level);
      default:
        return ind + this.str(e);
    }
  }
}

// --- pieces of the one-line form --------------------------------------------------------------

/** aggregateHead is `sum`, `sum by (a, b) ` or `sum without (a) ` (the space is Prometheus'). */
function aggregateHead(e: Aggregate): string {
  if (e.without) return `${e.op} without (${labelList(e.grouping)}) `;
  if (e.grouping.length > 0) return `${e.op} by (${labelList(e.grouping)}) `;
  return e.op;
}

/** binaryHead is the operator with its modifiers: `+ on (a) group_left (b) fill (0)`. */
function binaryHead(e: Binary): string {
  return e.op + (e.bool ? ' bool' : '') + matching(e.matching);
}

function matching(vm: VectorMatching | undefined): string {
  if (vm === undefined) return '';
  const grouped = vm.card === 'many-to-one' || vm.card === 'one-to-many';
  let s = '';
  // `ignoring ()` stays when a group modifier needs it.
  if (vm.labels.length > 0 || vm.on || grouped) s += ` ${vm.on ? 'on' : 'ignoring'} (${labelList(vm.labels)})`;
  if (grouped) s += ` group_${vm.card === 'many-to-one' ? 'left' : 'right'} (${labelList(vm.include)})`;
  const l = vm.fillLeft;
  const r = vm.fillRight;
  if (l !== undefined && r !== undefined && l === r) {
    s += ` fill (${formatGoG(l)})`;
  } else {
    if (l !== undefined) s += ` fill_left (${formatGoG(l)})`;
    if (r !== undefined) s += ` fill_right (${formatGoG(r)})`;
  }
  return s;
}

/** labelList joins label names, quoting those an unquoted name could not spell. */
function labelList(names: readonly string[]): string {
  // Prometheus tests these against the metric-name alphabet (colons allowed).
  return names.map((n) => (LEGACY_METRIC.test(n) ? n : goQuote(n))).join(', ');
}

function matcherText(m: Matcher): string {
  return (LEGACY_LABEL.test(m.name) ? m.name : goQuote(m.name)) + m.type + goQuote(m.value);
}

/** compareBytes orders strings by their UTF-8 bytes, as Go's sort.Strings does. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * vectorSelector prints `name{matchers}` and, with `modifiers`, its `@`, anchored/smoothed and
 * offset (a matrix selector prints those after its range instead).
 */
function vectorSelector(vs: VectorSelector, modifiers: boolean): string {
  // A name that is not a legacy metric name ({"http.requests"}) stays a __name__ matcher.
  const name = vs.name !== undefined && vs.name !== '' && LEGACY_METRIC.test(vs.name) ? vs.name : '';
  const parts: string[] = [];
  for (const m of vs.matchers) {
    if (name !== '' && m.name === '__name__' && m.type === '=' && m.value === name) continue;
    parts.push(matcherText(m));
  }
  let s = name;
  if (parts.length > 0) s += `{${parts.sort(compareBytes).join(',')}}`;
  if (modifiers) s += at(vs) + anchoring(vs) + offset(vs);
  return s;
}

function anchoring(vs: VectorSelector): string {
  if (vs.anchored) return ' anchored';
  if (vs.smoothed) return ' smoothed';
  return '';
}

function at(n: { at?: number; atMode?: 'start' | 'end' }): string {
  if (n.at !== undefined) return ` @ ${(n.at / 1000).toFixed(3)}`;
  if (n.atMode !== undefined) return ` @ ${n.atMode}()`;
  return '';
}

function offset(n: { originalOffset: number; originalOffsetExpr?: DurationExpr }): string {
  if (n.originalOffsetExpr !== undefined) return ` offset ${offsetExpr(n.originalOffsetExpr)}`;
  if (n.originalOffset > 0) return ` offset ${formatDuration(n.originalOffset)}`;
  if (n.originalOffset < 0) return ` offset -${formatDuration(-n.originalOffset)}`;
  return '';
}

function subquerySuffix(e: Subquery): string {
  const range = e.rangeExpr ? durationExpr(e.rangeExpr) : formatDuration(e.range);
  let step = '';
  if (e.step !== 0) step = formatDuration(e.step);
  else if (e.stepExpr) step = durationExpr(e.stepExpr);
  return `[${range}:${step}]${at(e)}${offset(e)}`;
}

function numberLiteral(e: NumberLiteral): string {
  // Prometheus 3.x marks a literal written as a duration (`time() - 5m`) and prints it back as
  // one; our parser does not record that yet, so this only acts once it does.
  if ((e as NumberLiteral & { duration?: boolean }).duration === true && Number.isFinite(e.val)) {
    const ms = Math.trunc(Math.round(Math.abs(e.val) * 1e9) / 1e6);
    return (e.val < 0 ? '-' : '') + formatDuration(ms);
  }
  return formatGoFloatF(e.val);
}

// --- duration arithmetic --------------------------------------------------------------------

const DUR_PREC: Record<string, number> = { '+': 4, '-': 4, '*': 5, '/': 5, '%': 5, '^': 6 };
const UNARY = 7;
const ATOM = 8;

function durPrec(d: DurationExpr): number {
  if (d.type === 'DurBinary') return DUR_PREC[d.op]!;
  if (d.type === 'DurUnary') return UNARY;
  return ATOM;
}

/**
 * durationExpr prints duration arithmetic (`step() * 2`, `-min_of(1m, range())`). Our tree keeps
 * no parentheses, so they are printed where the grammar needs them: around a looser operand, a
 * right operand of equal precedence (except for the right-associative `^`), and a negated base
 * of `^` (`-a ^ b` means `-(a ^ b)`).
 */
function durationExpr(d: DurationExpr): string {
  switch (d.type) {
    case 'DurNumber':
      return d.ms !== undefined ? (d.ms < 0 ? `-${formatDuration(-d.ms)}` : formatDuration(d.ms)) : formatGoFloatF(d.val);
    case 'DurCall':
      return `${d.fn}()`;
    case 'DurMinMax':
      return `${d.fn}(${durationExpr(d.lhs)}, ${durationExpr(d.rhs)})`;
    case 'DurUnary': {
      // The operand of a sign takes `^` but nothing looser; Prometheus drops a `+`.
      const inner = durPrec(d.expr) < DUR_PREC['^']! ? `(${durationExpr(d.expr)})` : durationExpr(d.expr);
      return d.op === '-' ? `-${inner}` : inner;
    }
    case 'DurBinary': {
      const p = DUR_PREC[d.op]!;
      const lp = durPrec(d.lhs);
      const rp = durPrec(d.rhs);
      const lParen = lp < p || (d.op === '^' && (lp === p || lp === UNARY));
      const rParen = rp < p || (rp === p && d.op !== '^');
      const l = lParen ? `(${durationExpr(d.lhs)})` : durationExpr(d.lhs);
      const r = rParen ? `(${durationExpr(d.rhs)})` : durationExpr(d.rhs);
      return `${l} ${d.op} ${r}`;
    }
  }
}

/** offsetExpr prints an offset: the grammar takes signs and one operand, else parentheses. */
function offsetExpr(d: DurationExpr): string {
  if (d.type === 'DurUnary') {
    const inner = durPrec(d.expr) === ATOM ? durationExpr(d.expr) : `(${durationExpr(d.expr)})`;
    return d.op === '-' ? `-${inner}` : inner;
  }
  return durPrec(d) === ATOM ? durationExpr(d) : `(${durationExpr(d)})`;
}

