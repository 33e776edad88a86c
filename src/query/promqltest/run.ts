/**
 * The promqltest runner: executes Prometheus' PromQL test scripts against Sluice's engine and
 * an in-memory store, and checks every eval the way Prometheus' harness does (values within a
 * relative 1e-6, exact label sets, order for `expect ordered`, errors and annotations).
 *
 * Evals that need native histograms (a `{{…}}` expected value, or a select that meets histogram
 * samples) are counted as skipped, never as passed: Sluice stores floats only.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { compareLabels, type Labels } from '../../model/labels.js';
import { inspect, type Expr } from '../promql/ast.js';
import { Engine, type EngineOptions, type QueryValue, type RawResult } from '../promql/engine.js';
import { parseExpr } from '../promql/parse.js';
import type { Querier } from '../promql/storage.js';
import { almostEqual } from '../promql/quantile.js';
import { formatFloat, formatLabels, labelsKey } from '../promql/value.js';
import { MemoryStorage } from './memory.js';
import { parseScript, type AnnotationExpectation, type EvalCommand } from './script.js';
import { isStaleNaN, type Slot } from './series.js';

/** EvalResult is the outcome of one eval: true, false, or 'skip' (with the reason). */
export interface EvalResult {
  id: string;
  ok: boolean | 'skip';
  message?: string;
  expr?: string;
}

/** RunSummary is the outcome of a set of scripts. */
export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  results: EvalResult[];
}

/** RunOptions tunes a run. */
export interface RunOptions {
  engine?: EngineOptions;
  /**
   * extraChecks (default true) repeats every passing instant eval the way Prometheus' harness
   * does: as a range query around its time, and with `@ <time>` added to its selectors at
   * several other evaluation times.
   */
  extraChecks?: boolean;
}

/** floatEqual compares a result value with an expected one as the harness does. */
export function floatEqual(expected: number, actual: number): boolean {
  const es = isStaleNaN(expected);
  const as = isStaleNaN(actual);
  if (es || as) return es && as;
  if (expected !== expected || actual !== actual) return expected !== expected && actual !== actual;
  return almostEqual(expected, actual, 1e-6);
}

function checkAnnotations(kind: 'warning' | 'info', expect: AnnotationExpectation[] | undefined, required: boolean, got: string[]): string | null {
  if (required && got.length === 0) return `expected ${kind} annotations but got none`;
  if (expect === undefined) return null;
  if (expect.length === 0) {
    return got.length > 0 ? `unexpected ${kind} annotations: ${JSON.stringify(got)}` : null;
  }
  const matches = (e: AnnotationExpectation, g: string): boolean =>
    e.msg !== undefined ? g === e.msg : e.regex ? e.regex.test(g) : true;
  for (const e of expect) {
    if (!got.some((g) => matches(e, g))) {
      const what = e.msg !== undefined ? `${JSON.stringify(e.msg)}` : e.regex ? `matching ${e.regex}` : 'any';
      return `expected ${kind} annotation ${what}, got ${JSON.stringify(got)}`;
    }
  }
  for (const g of got) {
    if (!expect.some((e) => matches(e, g))) return `unexpected ${kind} annotation ${JSON.stringify(g)}`;
  }
  return null;
}

function fmtSlots(t: number[], v: number[]): string {
  return t.map((x, i) => `${formatFloat(v[i]!)}@${x / 1000}`).join(' ');
}

/** compareMatrix compares a matrix with expected series whose slots map to start + i·step. */
function compareMatrix(series: { metric: Labels; t: number[]; v: number[] }[], expected: { labels: Labels; slots: Slot[] }[], start: number, end: number, step: number): string | null {
  for (let i = 1; i < series.length; i++) {
    if (compareLabels(series[i - 1]!.metric, series[i]!.metric) > 0) return 'matrix result is not sorted by labels';
  }
  const byKey = new Map(series.map((s) => [labelsKey(s.metric), s]));
  const nSteps = step > 0 ? Math.floor((end - start) / step) + 1 : 1;
  for (const e of expected) {
    if (e.slots.length > nSteps) return `expected ${e.slots.length} values for ${formatLabels(e.labels)} but the range has ${nSteps} steps`;
    const s = byKey.get(labelsKey(e.labels));
    const et: number[] = [];
    const ev: number[] = [];
    e.slots.forEach((slot, i) => {
      if (slot.kind === 'float') {
        et.push(start + i * step);
        ev.push(slot.v);
      }
    });
    if (!s) {
      if (et.length === 0) continue;
      return `expected series ${formatLabels(e.labels)} not found in result`;
    }
    byKey.delete(labelsKey(e.labels));
    let same = s.t.length === et.length;
    for (let i = 0; same && i < et.length; i++) {
      if (s.t[i] !== et[i] || !floatEqual(ev[i]!, s.v[i]!)) same = false;
    }
    if (!same) return `series ${formatLabels(e.labels)}: expected ${fmtSlots(et, ev)}, got ${fmtSlots(s.t, s.v)}`;
  }
  for (const s of byKey.values()) {
    if (s.t.length > 0) return `unexpected series ${formatLabels(s.metric)}: ${fmtSlots(s.t, s.v)}`;
  }
  return null;
}

function compareResult(cmd: EvalCommand, value: QueryValue): string | null {
  if (cmd.expectString !== undefined) {
    if (value.type !== 'string') return `expected string result, got ${value.type}`;
    return value.v === cmd.expectString ? null : `expected string ${JSON.stringify(cmd.expectString)}, got ${JSON.stringify(value.v)}`;
  }
  if (cmd.scalar !== undefined) {
    if (value.type !== 'scalar') return `expected scalar result, got ${value.type}`;
    return floatEqual(cmd.scalar, value.v) ? null : `expected scalar ${formatFloat(cmd.scalar)}, got ${formatFloat(value.v)}`;
  }
  if (cmd.rangeVector) {
    if (value.type !== 'matrix') return `expected range vector result, got ${value.type}`;
    const rv = cmd.rangeVector;
    return compareMatrix(value.series, cmd.series, rv.start, rv.end, rv.step);
  }
  if (!cmd.instant) {
    if (cmd.ordered) return 'expect ordered is only allowed for instant queries';
    if (value.type !== 'matrix') return `expected matrix result, got ${value.type}`;
    return compareMatrix(value.series, cmd.series, cmd.start, cmd.end, cmd.step);
  }
  if (value.type === 'scalar') {
    if (cmd.series.length === 0) return `expected empty vector, got scalar ${formatFloat(value.v)}`;
    return `expected vector result, got scalar ${formatFloat(value.v)}`;
  }
  if (value.type !== 'vector') return `expected vector result, got ${value.type}`;
  const got = value.series;
  const want = cmd.series.filter((e) => e.slots[0]!.kind === 'float');
  if (got.length !== want.length) {
    return `expected ${want.length} samples, got ${got.length}: ${got.map((s) => `${formatLabels(s.metric)} ${formatFloat(s.v)}`).join(', ')}`;
  }
  const index = new Map(got.map((s, i) => [labelsKey(s.metric), i]));
  for (let i = 0; i < want.length; i++) {
    const e = want[i]!;
    const gi = index.get(labelsKey(e.labels));
    if (gi === undefined) return `expected sample ${formatLabels(e.labels)} not found in result`;
    if (cmd.ordered && gi !== i) return `expected ${formatLabels(e.labels)} at position ${i + 1}, found at ${gi + 1}`;
    const ev = (e.slots[0] as { v: number }).v;
    const gv = got[gi]!.v;
    if (!floatEqual(ev, gv)) return `${formatLabels(e.labels)}: expected ${formatFloat(ev)}, got ${formatFloat(gv)}`;
  }
  return null;
}

/** checkEval returns null when the eval's expectations hold, else the reason. */
export function checkEval(cmd: EvalCommand, res: RawResult | null, err: unknown): string | null {
  if (err !== null && err !== undefined) {
    const msg = err instanceof Error ? err.message : String(err);
    if (!cmd.fail) return `unexpected error: ${msg}`;
    if (cmd.failMsg !== undefined && msg !== cmd.failMsg) return `expected error ${JSON.stringify(cmd.failMsg)}, got ${JSON.stringify(msg)}`;
    if (cmd.failRegex && !cmd.failRegex.test(msg)) return `expected error matching ${cmd.failRegex}, got ${JSON.stringify(msg)}`;
    return null;
  }
  if (cmd.fail) return 'expected an error, got none';
  const r = res!;
  return checkAnnotations('warning', cmd.warn, cmd.requireWarn, r.warnings)
    ?? checkAnnotations('info', cmd.info, cmd.requireInfo, r.infos)
    ?? compareResult(cmd, r.value);
}

const AT_UNSAFE = new Set([
  'days_in_month', 'day_of_month', 'day_of_week', 'day_of_year', 'hour', 'minute', 'month', 'year',
  'predict_linear', 'time', 'timestamp', 'start', 'end', 'range', 'step',
]);

/** usesQueryContext tells an expression that calls start(), end(), range() or step(), durations included. */
function usesQueryContext(text: string): boolean {
  return /\b(?:start|end|range|step)\s*\(/i.test(text);
}

function callsAny(e: Expr, names: ReadonlySet<string>): boolean {
  let found = false;
  inspect(e, (n) => {
    if (n.type === 'Call' && names.has(n.func.name)) found = true;
  });
  return found;
}

/** withAt adds `@ t` to every selector and subquery without one, outside subqueries with one. */
function withAt(e: Expr, t: number): Expr {
  inspect(e, (n, path) => {
    if (path.some((p) => p.type === 'Subquery' && (p.at !== undefined || p.atMode))) return;
    if (n.type === 'VectorSelector' || n.type === 'Subquery') {
      if (n.at === undefined && !n.atMode) n.at = t;
    } else if (n.type === 'MatrixSelector') {
      if (n.vs.at === undefined && !n.vs.atMode) n.vs.at = t;
    }
  });
  return e;
}

/**
 * extraChecks runs an instant eval again as a range query around its time and, for
 * time-independent expressions, with `@` at other evaluation times; returns the first failure.
 */
async function extraChecks(engine: Engine, storage: MemoryStorage, cmd: EvalCommand): Promise<string | null> {
  const parsed = parseExpr(cmd.expr);
  const t = cmd.start;
  // Range consistency: the point at t of a range query from t-1m to t+1m.
  if (!cmd.fail && !cmd.rangeVector && cmd.expectString === undefined && !usesQueryContext(cmd.expr)) {
    let hist = false;
    const q = storage.querier(() => { hist = true; });
    let res: RawResult | null = null;
    let err: unknown = null;
    try {
      res = await engine.exec(q, cmd.expr, t - 60_000, t + 60_000, 60_000);
    } catch (e) {
      err = e;
    }
    if (!hist) {
      if (err) return `range check: unexpected error: ${(err as Error).message}`;
      if (!cmd.ordered) {
        const v = res!.value;
        if (v.type !== 'matrix') return `range check: expected matrix, got ${v.type}`;
        const series = v.series.flatMap((s) => {
          const i = s.t.indexOf(t);
          return i < 0 ? [] : [{ metric: s.metric, t, v: s.v[i]! }];
        });
        const asInstant: QueryValue = cmd.scalar !== undefined
          ? (series.length === 1 && series[0]!.metric.length === 0 ? { type: 'scalar', t, v: series[0]!.v } : { type: 'vector', series })
          : { type: 'vector', series };
        const why = compareResult(cmd, asInstant);
        if (why) return `range check: ${why}`;
      }
    }
  }
  // Step invariance: with @ t everywhere, the result must not depend on the evaluation time.
  if (!callsAny(parsed, AT_UNSAFE) && !usesQueryContext(cmd.expr)) {
    const times = t === 0 ? [-1000, 0, 1000] : [-10 * t, 0, Math.trunc(t / 5), t, 10 * t];
    for (const at of times) {
      let hist = false;
      const q: Querier = storage.querier(() => { hist = true; });
      let res: RawResult | null = null;
      let err: unknown = null;
      try {
        res = await engine.execExpr(q, withAt(parseExpr(cmd.expr), t), at, at, 0);
      } catch (e) {
        err = e;
      }
      if (hist) continue;
      const why = checkEval(cmd, res, err);
      if (why) return `@ check at ${at / 1000}s: ${why}`;
    }
  }
  return null;
}

/** runScript runs one script's text; `name` prefixes the result ids. */
export async function runScript(name: string, text: string, opts: RunOptions = {}): Promise<EvalResult[]> {
  const results: EvalResult[] = [];
  const cmds = parseScript(text);
  const storage = new MemoryStorage();
  // Prometheus' test engine delays name removal; the corpus relies on it.
  const engine = new Engine({ delayedNameRemoval: true, ...opts.engine });
  for (const cmd of cmds) {
    if (cmd.kind === 'clear') {
      storage.clear();
      continue;
    }
    if (cmd.kind === 'load') {
      storage.load(cmd);
      continue;
    }
    const id = `${name}:${cmd.line}`;
    if (cmd.histogramExpected) {
      results.push({ id, ok: 'skip', message: 'native histogram expected', expr: cmd.expr });
      continue;
    }
    let sawHistogram = false;
    const q = storage.querier(() => { sawHistogram = true; });
    let res: RawResult | null = null;
    let err: unknown = null;
    try {
      res = await engine.exec(q, cmd.expr, cmd.start, cmd.end, cmd.step);
    } catch (e) {
      err = e;
    }
    if (sawHistogram) {
      results.push({ id, ok: 'skip', message: 'native histogram data', expr: cmd.expr });
      continue;
    }
    let why = checkEval(cmd, res, err);
    if (why === null && cmd.instant && opts.extraChecks !== false) why = await extraChecks(engine, storage, cmd);
    results.push(why === null ? { id, ok: true, expr: cmd.expr } : { id, ok: false, message: why, expr: cmd.expr });
  }
  return results;
}

/** runPromqlTest runs promqltest scripts; ids are `<file basename>:<line of the eval>`. */
export async function runPromqlTest(files: string[], opts: RunOptions = {}): Promise<RunSummary> {
  const results: EvalResult[] = [];
  for (const f of files) {
    const text = await readFile(f, 'utf8');
    try {
      results.push(...(await runScript(basename(f), text, opts)));
    } catch (e) {
      results.push({ id: `${basename(f)}:0`, ok: false, message: `script error: ${(e as Error).message}` });
    }
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const r of results) {
    if (r.ok === true) passed++;
    else if (r.ok === 'skip') skipped++;
    else failed++;
  }
  return { passed, failed, skipped, results };
}

/**
 * promqltestMain is `sluice promqltest FILE…`: prints one line per failing eval
 * (`file:line: expr: reason`), then `N passed, M failed, K skipped`; returns 1 if any failed.
 * `--skipped` also lists skipped evals with their reason.
 */
export async function promqltestMain(argv: string[]): Promise<number> {
  const showSkipped = argv.includes('--skipped');
  const files = argv.filter((a) => !a.startsWith('--'));
  if (files.length === 0) {
    process.stderr.write('usage: sluice promqltest [--skipped] FILE...\n');
    return 2;
  }
  const sum = await runPromqlTest(files);
  for (const r of sum.results) {
    if (r.ok === false) process.stdout.write(`${r.id}: ${r.expr ?? ''}: ${r.message ?? ''}\n`);
    else if (r.ok === 'skip' && showSkipped) process.stdout.write(`${r.id}: ${r.expr ?? ''}: skipped: ${r.message ?? ''}\n`);
  }
  process.stdout.write(`${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped\n`);
  return sum.failed > 0 ? 1 : 0;
}
