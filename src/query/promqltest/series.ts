/**
 * The series notation of promqltest scripts: `name{label="v"} 0+10x100 _ stale 3x2 {{…}}` for
 * loaded data and expected results. A value list expands into one slot per step; a slot holds a
 * float, the stale marker, a native-histogram sample (kept opaque: Sluice's engine is float only)
 * or nothing.
 */
import type { Labels } from '../../model/labels.js';
import { unquote } from '../promql/strings.js';
import { parseDuration } from '../promql/durations.js';

/** STALE_NAN is Prometheus' staleness marker, a NaN with bits 0x7ff0000000000002. */
export const STALE_NAN = (() => {
  const b = new DataView(new ArrayBuffer(8));
  b.setUint32(0, 0x7ff00000);
  b.setUint32(4, 0x00000002);
  return b.getFloat64(0);
})();

const bitsView = new DataView(new ArrayBuffer(8));

/** isStaleNaN tells the staleness marker from any other NaN. */
export function isStaleNaN(v: number): boolean {
  if (v === v) return false;
  bitsView.setFloat64(0, v);
  return bitsView.getUint32(0) === 0x7ff00000 && bitsView.getUint32(4) === 2;
}

/** Slot is one expanded value: a float, a histogram placeholder, or an empty step. */
export type Slot = { kind: 'float'; v: number } | { kind: 'histogram'; text: string } | { kind: 'empty' };

/** SeriesLine is a parsed `<series> <values>` line. */
export interface SeriesLine {
  labels: Labels;
  slots: Slot[];
  /** startTimestamps is set for `@st` lines: per-slot offsets in ms, or undefined for `_`. */
  isStartTimestamps: boolean;
}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;

class Cursor {
  p = 0;
  readonly s: string;
  constructor(s: string) {
    this.s = s;
  }
  ws(): void {
    while (this.p < this.s.length && /\s/.test(this.s[this.p]!)) this.p++;
  }
  peek(): string {
    return this.s[this.p] ?? '';
  }
  fail(msg: string): never {
    throw new Error(`${msg} at position ${this.p + 1} of ${JSON.stringify(this.s)}`);
  }
  readString(): string {
    const q = this.peek();
    const start = this.p;
    this.p++;
    if (q === '`') {
      while (this.p < this.s.length && this.s[this.p] !== '`') this.p++;
    } else {
      while (this.p < this.s.length && this.s[this.p] !== q) {
        if (this.s[this.p] === '\\') this.p++;
        this.p++;
      }
    }
    if (this.p >= this.s.length) this.fail('unterminated string');
    this.p++;
    return unquote(this.s.slice(start, this.p)).val;
  }
}

/**
 * parseLabelSet reads `name{l="v", …}`, `name` or `{…}` from the cursor; the metric name becomes
 * `__name__`. Labels come back sorted.
 */
function parseLabelSet(c: Cursor): Labels {
  const out = new Map<string, string>();
  c.ws();
  if (NAME_START.test(c.peek())) {
    const st = c.p;
    while (c.p < c.s.length && NAME_CHAR.test(c.s[c.p]!)) c.p++;
    out.set('__name__', c.s.slice(st, c.p));
  }
  if (c.peek() === '{') {
    c.p++;
    for (;;) {
      c.ws();
      if (c.peek() === '}') {
        c.p++;
        break;
      }
      let name: string;
      if (c.peek() === '"' || c.peek() === "'" || c.peek() === '`') {
        name = c.readString();
      } else {
        const st = c.p;
        while (c.p < c.s.length && /[a-zA-Z0-9_]/.test(c.s[c.p]!)) c.p++;
        name = c.s.slice(st, c.p);
        if (name === '') c.fail('expected label name');
      }
      c.ws();
      if (c.peek() !== '=') {
        // {"metric"}: a quoted metric name.
        out.set('__name__', name);
      } else {
        c.p++;
        c.ws();
        out.set(name, c.readString());
      }
      c.ws();
      if (c.peek() === ',') c.p++;
      else if (c.peek() !== '}') c.fail('expected "," or "}"');
    }
  }
  return [...out.entries()].filter(([, v]) => v !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const NUM = String.raw`(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF]|[nN][aA][nN])`;
const ITEM_RE = new RegExp(`^([+-]?${NUM})(?:([+-])(${NUM}))?(?:x(\\d+))?$`);
const DUR = String.raw`(?:\d+(?:y|w|d|h|ms|m|s))+|0`;
const ST_ITEM_RE = new RegExp(`^([+-]?(?:${DUR}))(?:([+-])(${DUR}))?(?:x(\\d+))?$`);

function parseNum(s: string): number {
  const lw = s.toLowerCase().replace(/^\+/, '');
  if (lw === 'inf') return Infinity;
  if (lw === '-inf') return -Infinity;
  if (lw === 'nan' || lw === '-nan') return NaN;
  return Number(s);
}

function parseSignedDuration(s: string): number {
  if (s.startsWith('-')) return -parseDuration(s.slice(1));
  if (s.startsWith('+')) return parseDuration(s.slice(1));
  return parseDuration(s);
}

/** splitItems splits a value list on whitespace, keeping `{{…}}` histogram literals whole. */
function splitItems(s: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    let j = i;
    while (j < s.length && !/\s/.test(s[j]!)) {
      if (s.startsWith('{{', j)) {
        const close = s.indexOf('}}', j + 2);
        if (close < 0) throw new Error(`unterminated histogram literal in ${JSON.stringify(s)}`);
        j = close + 2;
      } else {
        j++;
      }
    }
    items.push(s.slice(i, j));
    i = j;
  }
  return items;
}

/** expandValues expands a value list (`0+10x3 _ stale`) into slots. */
export function expandValues(s: string): Slot[] {
  const out: Slot[] = [];
  for (const item of splitItems(s)) {
    if (item === '_') {
      out.push({ kind: 'empty' });
      continue;
    }
    const blank = /^_x(\d+)$/.exec(item);
    if (blank) {
      for (let k = 0; k < Number(blank[1]); k++) out.push({ kind: 'empty' });
      continue;
    }
    if (item === 'stale') {
      out.push({ kind: 'float', v: STALE_NAN });
      continue;
    }
    if (item.startsWith('{{')) {
      // {{H}}, {{H}}xK, {{H}}+{{D}}xK, {{H}}-{{D}}xK: only the count of samples matters here.
      const m = /^(\{\{.*?\}\})(?:([+-])(\{\{.*?\}\}))?(?:x(\d+))?$/.exec(item);
      if (!m) throw new Error(`bad histogram item ${JSON.stringify(item)}`);
      const n = m[4] === undefined ? 1 : Number(m[4]) + 1;
      for (let k = 0; k < n; k++) out.push({ kind: 'histogram', text: item });
      continue;
    }
    const m = ITEM_RE.exec(item);
    if (!m) throw new Error(`bad value ${JSON.stringify(item)}`);
    const a = parseNum(m[1]!);
    if (m[4] === undefined) {
      if (m[2] !== undefined) throw new Error(`bad value ${JSON.stringify(item)}: missing xN`);
      out.push({ kind: 'float', v: a });
      continue;
    }
    const k = Number(m[4]);
    const d = m[2] === undefined ? 0 : (m[2] === '-' ? -1 : 1) * parseNum(m[3]!);
    let v = a;
    for (let j = 0; j <= k; j++) {
      out.push({ kind: 'float', v });
      v += d;
    }
  }
  return out;
}

/** expandStartTimestamps expands the offsets of an `@st` line (ms; undefined for `_`). */
export function expandStartTimestamps(s: string): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  for (const item of splitItems(s)) {
    if (item === '_') {
      out.push(undefined);
      continue;
    }
    const blank = /^_x(\d+)$/.exec(item);
    if (blank) {
      for (let k = 0; k < Number(blank[1]); k++) out.push(undefined);
      continue;
    }
    const m = ST_ITEM_RE.exec(item);
    if (!m) throw new Error(`bad start timestamp offset ${JSON.stringify(item)}`);
    const a = parseSignedDuration(m[1]!);
    if (m[4] === undefined) {
      out.push(a);
      continue;
    }
    const d = m[2] === undefined ? 0 : (m[2] === '-' ? -1 : 1) * parseDuration(m[3]!);
    let v = a;
    for (let j = 0; j <= Number(m[4]); j++) {
      out.push(v);
      v += d;
    }
  }
  return out;
}

/** parseSeriesLine parses `<series> <values>` (or `<series>@st <offsets>`). */
export function parseSeriesLine(line: string): SeriesLine & { stOffsets?: (number | undefined)[] } {
  const c = new Cursor(line);
  const labels = parseLabelSet(c);
  if (c.s.startsWith('@st', c.p)) {
    c.p += 3;
    return { labels, slots: [], isStartTimestamps: true, stOffsets: expandStartTimestamps(c.s.slice(c.p)) };
  }
  return { labels, slots: expandValues(c.s.slice(c.p)), isStartTimestamps: false };
}
