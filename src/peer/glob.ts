/**
 * Tenant glob patterns with the semantics of Go's `path/filepath.Match` on Unix, which Thanos uses
 * for `"tenant_matcher_type": "glob"`: `*` (any run of characters except `/`), `?` (one character
 * except `/`), `[…]` / `[^…]` classes with `a-z` ranges, and `\` escapes. Characters are Unicode
 * code points (Go matches runes). Patterns are compiled once, when the hashring file is loaded, so a
 * malformed pattern is a configuration error instead of a failed request. Pure; touches nothing.
 */

/** Token kinds of a compiled pattern. */
const Tok = { LITERAL: 0, ANY: 1, STAR: 2, CLASS: 3 } as const;

interface Token {
  kind: number;
  /** LITERAL: the code point. */
  cp: number;
  /** CLASS: true for `[^…]`. */
  negate: boolean;
  /** CLASS: inclusive ranges as [lo0, hi0, lo1, hi1, …]. */
  ranges: number[];
}

const SEPARATOR = 0x2f; // '/'

/** GlobPattern is a compiled tenant pattern. */
export class GlobPattern {
  /** source is the pattern as written. */
  readonly source: string;
  private readonly tokens: Token[];

  /** Compiles `pattern`; throws Error (message says why) if it is malformed. */
  constructor(pattern: string) {
    this.source = pattern;
    this.tokens = compile(pattern);
  }

  /** matches tells whether the whole of `name` matches the pattern. */
  matches(name: string): boolean {
    const cps: number[] = [];
    for (const ch of name) cps.push(ch.codePointAt(0)!);
    return matchFrom(this.tokens, 0, cps, 0);
  }
}

/** compile turns a pattern into tokens, rejecting what Go reports as ErrBadPattern. */
function compile(p: string): Token[] {
  const cps: number[] = [];
  for (const ch of p) cps.push(ch.codePointAt(0)!);
  const out: Token[] = [];
  let i = 0;
  const tok = (kind: number, cp = 0): Token => ({ kind, cp, negate: false, ranges: [] });
  while (i < cps.length) {
    const c = cps[i]!;
    if (c === 0x2a /* * */) {
      // Consecutive stars behave as one.
      if (out.length === 0 || out[out.length - 1]!.kind !== Tok.STAR) out.push(tok(Tok.STAR));
      i++;
    } else if (c === 0x3f /* ? */) {
      out.push(tok(Tok.ANY));
      i++;
    } else if (c === 0x5c /* \ */) {
      if (i + 1 >= cps.length) throw new Error('pattern ends with an unfinished escape "\\"');
      out.push(tok(Tok.LITERAL, cps[i + 1]!));
      i += 2;
    } else if (c === 0x5b /* [ */) {
      const t = tok(Tok.CLASS);
      i++;
      if (i < cps.length && cps[i] === 0x5e /* ^ */) { t.negate = true; i++; }
      let closed = false;
      while (i < cps.length) {
        if (cps[i] === 0x5d /* ] */ && t.ranges.length > 0) { closed = true; i++; break; }
        const lo = classChar(cps, i);
        i = lo.next;
        let hi = lo.cp;
        if (i < cps.length && cps[i] === 0x2d /* - */) {
          const h = classChar(cps, i + 1);
          hi = h.cp;
          i = h.next;
        }
        t.ranges.push(lo.cp, hi);
      }
      if (!closed) throw new Error('character class "[" is not closed by "]"');
      out.push(t);
    } else {
      out.push(tok(Tok.LITERAL, c));
      i++;
    }
  }
  return out;
}

/** classChar reads one (possibly escaped) character of a class at `i`, as Go's getEsc does. */
function classChar(cps: number[], i: number): { cp: number; next: number } {
  if (i >= cps.length) throw new Error('character class "[" is not closed by "]"');
  let c = cps[i]!;
  if (c === 0x2d /* - */ || c === 0x5d /* ] */) throw new Error(`unexpected "${String.fromCodePoint(c)}" in a character class`);
  if (c === 0x5c /* \ */) {
    i++;
    if (i >= cps.length) throw new Error('character class ends with an unfinished escape "\\"');
    c = cps[i]!;
  }
  // A class character must be followed by more of the class (at least its closing "]").
  if (i + 1 >= cps.length) throw new Error('character class "[" is not closed by "]"');
  return { cp: c, next: i + 1 };
}

/** matchFrom matches tokens[t…] against name[n…], backtracking over stars. */
function matchFrom(tokens: Token[], t: number, name: number[], n: number): boolean {
  while (t < tokens.length) {
    const k = tokens[t]!;
    if (k.kind === Tok.STAR) {
      // Try every split point that does not cross a separator.
      for (let m = n; m <= name.length; m++) {
        if (matchFrom(tokens, t + 1, name, m)) return true;
        if (m < name.length && name[m] === SEPARATOR) return false;
      }
      return false;
    }
    if (n >= name.length) return false;
    const c = name[n]!;
    if (k.kind === Tok.LITERAL) {
      if (c !== k.cp) return false;
    } else if (k.kind === Tok.ANY) {
      if (c === SEPARATOR) return false;
    } else {
      let inside = false;
      for (let r = 0; r < k.ranges.length; r += 2) {
        if (k.ranges[r]! <= c && c <= k.ranges[r + 1]!) { inside = true; break; }
      }
      if (inside === k.negate) return false;
    }
    t++;
    n++;
  }
  return n === name.length;
}
