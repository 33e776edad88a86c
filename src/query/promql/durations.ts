/**
 * Durations: Prometheus' duration strings (`1h30m`, `5m`, `250ms`) and the duration arithmetic of
 * range selectors, subqueries and offsets (`[5m+1m]`, `offset -step()`), evaluated once the
 * query's step and range are known.
 */
import type { DurationExpr } from './ast.js';

const UNIT_MS: Record<string, number> = {
  y: 365 * 24 * 3600_000, w: 7 * 24 * 3600_000, d: 24 * 3600_000, h: 3600_000, m: 60_000, s: 1000, ms: 1,
};
const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_UNITS = ['y', 'w', 'd', 'h', 'm', 's', 'ms'] as const;

/**
 * parseDuration reads a Prometheus duration (model.ParseDuration) into milliseconds. Units run
 * from largest to smallest, each at most once; a bare `0` is allowed. Throws on anything else.
 */
export function parseDuration(s: string): number {
  if (s === '0') return 0;
  if (s === '') throw new Error('empty duration string');
  const m = DURATION_RE.exec(s);
  if (!m) throw new Error(`not a valid duration string: ${JSON.stringify(s)}`);
  let ms = 0;
  for (let i = 0; i < DURATION_UNITS.length; i++) {
    const g = m[i + 1];
    if (g !== undefined) ms += Number(g) * UNIT_MS[DURATION_UNITS[i]!]!;
  }
  if (!Number.isSafeInteger(ms)) throw new Error(`duration out of range: ${JSON.stringify(s)}`);
  return ms;
}

/**
 * formatDuration prints milliseconds as Prometheus' model.Duration.String() does: `1h30m`, `0s`;
 * years and weeks only when they divide exactly what is left (`90d`, not `12w6d`).
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let out = ms < 0 ? '-' : '';
  let r = Math.abs(ms);
  for (const u of DURATION_UNITS) {
    const mult = UNIT_MS[u]!;
    if ((u === 'y' || u === 'w') && r % mult !== 0) continue;
    const n = Math.floor(r / mult);
    if (n > 0) {
      out += `${n}${u}`;
      r -= n * mult;
    }
  }
  return out;
}

/** DurationContext carries what `step()` and `range()` mean for the query being prepared. */
export interface DurationContext {
  stepMs: number;
  rangeMs: number;
}

function evalSeconds(e: DurationExpr, ctx: DurationContext): number {
  switch (e.type) {
    case 'DurNumber': return e.val;
    case 'DurCall': return (e.fn === 'step' ? ctx.stepMs : ctx.rangeMs) / 1000;
    case 'DurUnary': return e.op === '-' ? -evalSeconds(e.expr, ctx) : evalSeconds(e.expr, ctx);
    case 'DurMinMax': {
      const a = evalSeconds(e.lhs, ctx);
      const b = evalSeconds(e.rhs, ctx);
      if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
      return e.fn === 'min_of' ? Math.min(a, b) : Math.max(a, b);
    }
    case 'DurBinary': {
      const a = evalSeconds(e.lhs, ctx);
      const b = evalSeconds(e.rhs, ctx);
      switch (e.op) {
        case '+': return a + b;
        case '-': return a - b;
        case '*': return a * b;
        case '/':
          if (b === 0) throw new Error('division by zero');
          return a / b;
        case '%':
          if (b === 0) throw new Error('modulo by zero');
          return a % b;
        case '^': return Math.pow(a, b);
      }
    }
  }
}

/**
 * evalDuration evaluates a duration expression into milliseconds, truncating toward zero as
 * Prometheus does. Ranges and steps must be positive; offsets may be negative.
 */
export function evalDuration(e: DurationExpr, ctx: DurationContext, allowNegative: boolean): number {
  if (e.type === 'DurNumber' && e.ms !== undefined) {
    if (!(e.ms > 0) && !allowNegative) throw new Error('duration must be greater than 0');
    return e.ms;
  }
  if (e.type === 'DurUnary' && e.op === '-' && e.expr.type === 'DurNumber' && e.expr.ms !== undefined && allowNegative) {
    return -e.expr.ms;
  }
  const sec = evalSeconds(e, ctx);
  if (!(sec > 0) && !allowNegative) throw new Error('duration must be greater than 0');
  if (!Number.isFinite(sec) || Math.abs(sec) > 9.2e15) throw new Error('duration is out of range');
  return Math.trunc(sec * 1000);
}

/** isConstantDuration tells whether a duration expression does not depend on the query. */
export function isConstantDuration(e: DurationExpr): boolean {
  switch (e.type) {
    case 'DurNumber': return true;
    case 'DurCall': return false;
    case 'DurUnary': return isConstantDuration(e.expr);
    case 'DurMinMax':
    case 'DurBinary': return isConstantDuration(e.lhs) && isConstantDuration(e.rhs);
  }
}
