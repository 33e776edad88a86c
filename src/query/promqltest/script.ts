/**
 * The promqltest script format (conformance/promql/FORMAT.md): `load`,
 * `load_with_nhcb`, `clear` and `eval` commands with their blocks, parsed into plain data that
 * run.ts executes against the engine.
 */
import type { Labels } from '../../model/labels.js';
import { parseDuration } from '../promql/durations.js';
import { expandValues, parseSeriesLine, type Slot } from './series.js';

/** LoadedSeries is one series of a load block, expanded; `st` holds start-timestamp offsets. */
export interface LoadedSeries {
  labels: Labels;
  slots: Slot[];
  st?: (number | undefined)[];
}

export interface LoadCommand {
  kind: 'load';
  line: number;
  intervalMs: number;
  nhcb: boolean;
  series: LoadedSeries[];
}

export interface ClearCommand {
  kind: 'clear';
  line: number;
}

/** AnnotationExpectation is one `expect warn|info [msg:|regex:] …` line. */
export interface AnnotationExpectation {
  msg?: string;
  regex?: RegExp;
}

/** ExpectedSeries is one expected result line. */
export interface ExpectedSeries {
  labels: Labels;
  slots: Slot[];
}

export interface EvalCommand {
  kind: 'eval';
  line: number;
  expr: string;
  /** instant is true for `eval instant at T`; then start === end === T and step is 0. */
  instant: boolean;
  start: number;
  end: number;
  step: number;
  fail: boolean;
  failMsg?: string;
  failRegex?: RegExp;
  /** warn / info: undefined when not checked, [] for no_warn / no_info. */
  warn?: AnnotationExpectation[];
  info?: AnnotationExpectation[];
  /** requireWarn / requireInfo: the deprecated eval_warn / eval_info forms. */
  requireWarn: boolean;
  requireInfo: boolean;
  ordered: boolean;
  rangeVector?: { start: number; end: number; step: number };
  expectString?: string;
  scalar?: number;
  series: ExpectedSeries[];
  /** histogramExpected is true when an expected value is a native histogram `{{…}}`. */
  histogramExpected: boolean;
}

export type Command = LoadCommand | ClearCommand | EvalCommand;

/** ScriptError is a malformed script line. */
export class ScriptError extends Error {
  readonly line: number;
  constructor(line: number, msg: string) {
    super(`line ${line}: ${msg}`);
    this.name = 'ScriptError';
    this.line = line;
  }
}

const INSTANT_RE = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(\S+?)\s+)?(.+)$/;
const RANGE_RE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+?)\s+(.+)$/;
const LOAD_RE = /^load(_with_nhcb)?\s+(\S+)$/;

function parseTime(s: string, line: number): number {
  try {
    return parseDuration(s);
  } catch (e) {
    throw new ScriptError(line, (e as Error).message);
  }
}

/** parseNumberLine reads a line that is a single number (a scalar expectation), or null. */
function parseNumberLine(s: string): number | null {
  const t = s.trim();
  const lw = t.toLowerCase().replace(/^\+/, '');
  if (lw === 'inf') return Infinity;
  if (lw === '-inf') return -Infinity;
  if (lw === 'nan') return NaN;
  if (/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(t)) return Number(t);
  if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(t)) return Number(t.replace('+', ''));
  return null;
}

function parseAnnotationSpec(rest: string, line: number): AnnotationExpectation {
  const r = rest.trim();
  if (r === '') return {};
  const m = /^(msg|regex):(.*)$/.exec(r);
  if (!m) throw new ScriptError(line, `bad expectation ${JSON.stringify(r)}`);
  const text = m[2]!.trim();
  if (m[1] === 'msg') return { msg: text };
  return { regex: new RegExp(text) };
}

function unquoteExpectString(s: string, line: number): string {
  const t = s.trim();
  if (t.length >= 2 && ((t[0] === '"' && t.endsWith('"')) || (t[0] === '`' && t.endsWith('`')))) return t.slice(1, -1);
  throw new ScriptError(line, `bad expect string ${JSON.stringify(t)}`);
}

/** parseScript splits a script into commands. */
export function parseScript(text: string): Command[] {
  const lines = text.split('\n').map((l) => l.trim());
  const cmds: Command[] = [];
  const isBlank = (l: string | undefined): boolean => l === undefined || l === '' || l.startsWith('#');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (isBlank(l)) continue;
    const lineNo = i + 1;
    if (l === 'clear') {
      cmds.push({ kind: 'clear', line: lineNo });
      continue;
    }
    const lm = LOAD_RE.exec(l);
    if (lm) {
      const cmd: LoadCommand = { kind: 'load', line: lineNo, intervalMs: parseTime(lm[2]!, lineNo), nhcb: lm[1] !== undefined, series: [] };
      const byKey = new Map<string, LoadedSeries>();
      let pendingSt: { key: string; offsets: (number | undefined)[] } | null = null;
      while (!isBlank(lines[i + 1])) {
        i++;
        let s;
        try {
          s = parseSeriesLine(lines[i]!);
        } catch (e) {
          throw new ScriptError(i + 1, (e as Error).message);
        }
        const key = JSON.stringify(s.labels);
        if (s.isStartTimestamps) {
          pendingSt = { key, offsets: s.stOffsets ?? [] };
          continue;
        }
        const ls: LoadedSeries = { labels: s.labels, slots: s.slots };
        if (pendingSt) {
          if (pendingSt.key !== key) throw new ScriptError(i + 1, 'an @st line must be followed by the same series');
          if (pendingSt.offsets.length !== s.slots.length) throw new ScriptError(i + 1, 'the @st line must have as many items as the sample line');
          ls.st = pendingSt.offsets;
          pendingSt = null;
        }
        byKey.set(key, ls);
      }
      cmd.series = [...byKey.values()];
      cmds.push(cmd);
      continue;
    }
    const im = INSTANT_RE.exec(l);
    const rm = im ? null : RANGE_RE.exec(l);
    if (!im && !rm) throw new ScriptError(lineNo, `unknown command ${JSON.stringify(l.split(/\s+/)[0])}`);
    const variant = (im ? im[1] : rm![1]) ?? '';
    const cmd: EvalCommand = {
      kind: 'eval', line: lineNo, expr: '', instant: !!im, start: 0, end: 0, step: 0,
      fail: variant === 'fail', requireWarn: variant === 'warn', requireInfo: variant === 'info',
      ordered: variant === 'ordered', series: [], histogramExpected: false,
    };
    if (im) {
      if (im[2] === undefined) throw new ScriptError(lineNo, 'instant eval needs "at <time>"');
      cmd.start = cmd.end = parseTime(im[2], lineNo);
      cmd.expr = im[3]!;
    } else {
      cmd.start = parseTime(rm![2]!, lineNo);
      cmd.end = parseTime(rm![3]!, lineNo);
      cmd.step = parseTime(rm![4]!, lineNo);
      cmd.expr = rm![5]!;
      if (cmd.end < cmd.start) throw new ScriptError(lineNo, 'end must not be before start');
    }
    let noWarn = false;
    let noInfo = false;
    while (!isBlank(lines[i + 1])) {
      i++;
      const d = lines[i]!;
      const dl = i + 1;
      if (variant === 'fail' && d.startsWith('expected_fail_message ')) {
        cmd.failMsg = d.slice('expected_fail_message '.length).trim();
        break;
      }
      if (variant === 'fail' && d.startsWith('expected_fail_regexp ')) {
        cmd.failRegex = new RegExp(d.slice('expected_fail_regexp '.length).trim());
        break;
      }
      if (d.startsWith('expect ')) {
        const rest = d.slice('expect '.length).trim();
        const word = rest.split(/\s+/)[0]!;
        const after = rest.slice(word.length);
        switch (word) {
          case 'fail': {
            cmd.fail = true;
            const a = parseAnnotationSpec(after, dl);
            if (a.msg !== undefined) cmd.failMsg = a.msg;
            if (a.regex) cmd.failRegex = a.regex;
            break;
          }
          case 'warn':
            (cmd.warn ??= []).push(parseAnnotationSpec(after, dl));
            break;
          case 'info':
            (cmd.info ??= []).push(parseAnnotationSpec(after, dl));
            break;
          case 'no_warn':
            noWarn = true;
            break;
          case 'no_info':
            noInfo = true;
            break;
          case 'ordered':
            cmd.ordered = true;
            break;
          case 'range': {
            const m = /^range\s+vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)$/.exec(rest);
            if (!m) throw new ScriptError(dl, `bad expectation ${JSON.stringify(d)}`);
            cmd.rangeVector = { start: parseTime(m[1]!, dl), end: parseTime(m[2]!, dl), step: parseTime(m[3]!, dl) };
            break;
          }
          case 'string':
            cmd.expectString = unquoteExpectString(after, dl);
            break;
          default:
            throw new ScriptError(dl, `unknown expectation ${JSON.stringify(word)}`);
        }
        continue;
      }
      const num = parseNumberLine(d);
      if (num !== null) {
        cmd.scalar = num;
        break;
      }
      let s;
      try {
        s = parseSeriesLine(d);
      } catch (e) {
        throw new ScriptError(dl, (e as Error).message);
      }
      if (s.slots.some((x) => x.kind === 'histogram')) cmd.histogramExpected = true;
      if (cmd.instant && !cmd.rangeVector && s.slots.length !== 1) {
        throw new ScriptError(dl, `expected exactly one value for an instant eval, got ${s.slots.length}`);
      }
      cmd.series.push({ labels: s.labels, slots: s.slots });
    }
    if (noWarn) {
      if (cmd.warn) throw new ScriptError(lineNo, 'expect warn and expect no_warn in one eval');
      cmd.warn = [];
    }
    if (noInfo) {
      if (cmd.info) throw new ScriptError(lineNo, 'expect info and expect no_info in one eval');
      cmd.info = [];
    }
    cmds.push(cmd);
  }
  return cmds;
}

/** expandExpected is exported for tests: the expanded values of an expected-result line. */
export { expandValues as expandExpectedValues };
