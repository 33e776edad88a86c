/**
 * Go RE2 regular expressions on JavaScript's engine. PromQL regexes are RE2 syntax (label
 * matchers, label_replace); Node 20's RegExp lacks RE2's inline flags (`(?i:PRO)`, `(?s)`), POSIX
 * classes, `\z`, `\Q…\E` and `(?P<name>…)`. translateRe2 rewrites a pattern into an equivalent JS
 * pattern: case-insensitive scopes become explicit case classes (`[pP][rR][oO]`), `.` becomes
 * `[\s\S]` or `[^\n]` by the `s` flag in scope, and `^`/`$` follow the `m` flag in scope.
 * Matching is anchored by the callers exactly as Prometheus does (`^(?s:re)$`).
 */

/** Re2Error is a pattern RE2 would refuse; its message follows Go's `error parsing regexp: …`. */
export class Re2Error extends Error {
  constructor(msg: string, pattern: string) {
    super(`error parsing regexp: ${msg}: \`${pattern}\``);
    this.name = 'Re2Error';
  }
}

interface Flags {
  i: boolean;
  s: boolean;
  m: boolean;
  U: boolean;
}

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7f', blank: '\\t ', cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~', space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

const JS_SPECIAL = new Set(['\\', '^', '$', '.', '|', '?', '*', '+', '(', ')', '[', ']', '{', '}', '/']);

function escapeLiteral(c: string): string {
  return JS_SPECIAL.has(c) ? `\\${c}` : c;
}

function escapeInClass(c: string): string {
  return c === '\\' || c === ']' || c === '[' || c === '-' || c === '^' ? `\\${c}` : c;
}

function caseVariants(c: string): string[] {
  const lo = c.toLowerCase();
  const up = c.toUpperCase();
  const out = [c];
  if (lo !== c && [...lo].length === 1) out.push(lo);
  if (up !== c && [...up].length === 1) out.push(up);
  // RE2 folds k/K with the Kelvin sign and s/S with the long s.
  if (lo === 'k') out.push('\u212a');
  if (lo === 's') out.push('\u017f');
  return out;
}

function literal(c: string, f: Flags): string {
  if (f.i) {
    const v = caseVariants(c);
    if (v.length > 1) return `[${v.map(escapeInClass).join('')}]`;
  }
  return escapeLiteral(c);
}

/** Translation is a JS pattern and whether it needs the `u` flag. */
export interface Translation {
  source: string;
  unicode: boolean;
}

/** translateRe2 turns an RE2 pattern into a JavaScript one; throws Re2Error on a bad pattern. */
export function translateRe2(pattern: string): Translation {
  const p = [...pattern];
  let i = 0;
  let out = '';
  let unicode = false;
  // Each open group keeps the flags to restore when it closes.
  const stack: Flags[] = [];
  let f: Flags = { i: false, s: false, m: false, U: false };
  let lastAtomEnd = -1; // index in `out` after which a quantifier is legal (-1: none)
  const groupStarts: number[] = [];

  const parseFlags = (spec: string): Flags => {
    const nf = { ...f };
    let neg = false;
    for (const ch of spec) {
      if (ch === '-') {
        if (neg) throw new Re2Error('invalid or unsupported Perl syntax', pattern);
        neg = true;
        continue;
      }
      if (ch !== 'i' && ch !== 's' && ch !== 'm' && ch !== 'U') throw new Re2Error('invalid or unsupported Perl syntax', pattern);
      nf[ch] = !neg;
    }
    return nf;
  };

  const readEscape = (inClass: boolean): { text: string; chars?: string[] } => {
    // p[i] is the character after the backslash.
    const c = p[i];
    if (c === undefined) throw new Re2Error('trailing backslash at end of expression', pattern);
    i++;
    switch (c) {
      case 'd': case 'D': case 'w': case 'W': return { text: `\\${c}` };
      case 's': return { text: inClass ? '\\t\\n\\f\\r ' : '[\\t\\n\\f\\r ]' };
      case 'S': return { text: inClass ? '\\S' : '[^\\t\\n\\f\\r ]' };
      case 'b': case 'B':
        if (inClass) throw new Re2Error(`invalid escape sequence: \`\\${c}\``, pattern);
        return { text: `\\${c}` };
      case 'A': return { text: '^' };
      case 'z': return { text: '$' };
      case 'a': return { text: '\\x07', chars: ['\x07'] };
      case 'f': return { text: '\\f', chars: ['\f'] };
      case 't': return { text: '\\t', chars: ['\t'] };
      case 'n': return { text: '\\n', chars: ['\n'] };
      case 'r': return { text: '\\r', chars: ['\r'] };
      case 'v': return { text: '\\v', chars: ['\v'] };
      case 'x': {
        let hex = '';
        if (p[i] === '{') {
          const close = p.indexOf('}', i);
          if (close < 0) throw new Re2Error('invalid escape sequence: `\\x{`', pattern);
          hex = p.slice(i + 1, close).join('');
          i = close + 1;
        } else {
          hex = (p[i] ?? '') + (p[i + 1] ?? '');
          i += 2;
        }
        if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) throw new Re2Error('invalid escape sequence: `\\x`', pattern);
        const ch = String.fromCodePoint(parseInt(hex, 16));
        return { text: inClass ? escapeInClass(ch) : escapeLiteral(ch), chars: [ch] };
      }
      case 'p': case 'P': {
        let name = '';
        if (p[i] === '{') {
          const close = p.indexOf('}', i);
          if (close < 0) throw new Re2Error('invalid character class range: `\\p{`', pattern);
          name = p.slice(i + 1, close).join('');
          i = close + 1;
        } else {
          name = p[i] ?? '';
          i++;
        }
        let neg = c === 'P';
        if (name.startsWith('^')) {
          neg = !neg;
          name = name.slice(1);
        }
        unicode = true;
        const jsName = name === 'Any' ? null : name;
        if (jsName === null) return { text: neg ? '[]' : '[\\s\\S]' };
        const isScript = !/^(?:L|Lu|Ll|Lt|Lm|Lo|M|Mn|Mc|Me|N|Nd|Nl|No|P|Pc|Pd|Ps|Pe|Pi|Pf|Po|S|Sm|Sc|Sk|So|Z|Zs|Zl|Zp|C|Cc|Cf|Cs|Co|Cn)$/.test(jsName);
        return { text: `\\${neg ? 'P' : 'p'}{${isScript ? `Script=${jsName}` : jsName}}` };
      }
      case 'Q': {
        // Literal text up to \E (or the end).
        let lit = '';
        while (i < p.length && !(p[i] === '\\' && p[i + 1] === 'E')) lit += p[i++];
        if (i < p.length) i += 2;
        return { text: '', chars: [...lit] };
      }
      default:
        if (c >= '0' && c <= '7') {
          // Octal: \1 is a backreference in Perl, which RE2 refuses, except \0.
          if (c !== '0' && !(p[i] && p[i]! >= '0' && p[i]! <= '7')) throw new Re2Error(`invalid escape sequence: \`\\${c}\``, pattern);
          let oct = c;
          while (oct.length < 3 && p[i] && p[i]! >= '0' && p[i]! <= '7') oct += p[i++];
          const ch = String.fromCharCode(parseInt(oct, 8));
          return { text: inClass ? escapeInClass(ch) : escapeLiteral(ch), chars: [ch] };
        }
        if (/[0-9A-Za-z]/.test(c)) throw new Re2Error(`invalid escape sequence: \`\\${c}\``, pattern);
        return { text: inClass ? escapeInClass(c) : escapeLiteral(c), chars: [c] };
    }
  };

  const readClass = (): string => {
    // p[i-1] was '['.
    let neg = false;
    if (p[i] === '^') {
      neg = true;
      i++;
    }
    const parts: string[] = [];
    let first = true;
    let prevChar: string | null = null; // last single char, for ranges
    while (true) {
      const c = p[i];
      if (c === undefined) throw new Re2Error('missing closing ]', pattern);
      if (c === ']' && !first) {
        i++;
        break;
      }
      first = false;
      if (c === '[' && p[i + 1] === ':') {
        const close = p.indexOf(']', i + 2);
        const spec = close > 0 ? p.slice(i + 2, close).join('') : '';
        if (spec.endsWith(':')) {
          let name = spec.slice(0, -1);
          let pneg = false;
          if (name.startsWith('^')) {
            pneg = true;
            name = name.slice(1);
          }
          const cls = POSIX[name];
          if (cls === undefined) throw new Re2Error(`invalid character class range: \`[:${spec}]\``, pattern);
          if (pneg) {
            // Only reachable inside a class; approximate with a nested negated class via lookahead is
            // impossible, so expand to the complement by hand for the common cases.
            throw new Re2Error(`invalid character class range: \`[:${spec}]\``, pattern);
          }
          parts.push(f.i && (name === 'lower' || name === 'upper') ? 'A-Za-z' : cls);
          i = close + 1;
          prevChar = null;
          continue;
        }
      }
      let chars: string[] | undefined;
      let text: string;
      if (c === '\\') {
        i++;
        const e = readEscape(true);
        text = e.text;
        chars = e.chars;
      } else {
        i++;
        chars = [c];
        text = escapeInClass(c);
      }
      if (chars && chars.length === 1 && p[i] === '-' && p[i + 1] !== undefined && p[i + 1] !== ']') {
        // A range lo-hi.
        i++;
        let hiChar: string;
        if (p[i] === '\\') {
          i++;
          const e = readEscape(true);
          if (!e.chars || e.chars.length !== 1) throw new Re2Error('invalid character class range', pattern);
          hiChar = e.chars[0]!;
        } else {
          hiChar = p[i]!;
          i++;
        }
        const lo = chars[0]!;
        if (hiChar.codePointAt(0)! < lo.codePointAt(0)!) throw new Re2Error(`invalid character class range: \`${lo}-${hiChar}\``, pattern);
        parts.push(`${escapeInClass(lo)}-${escapeInClass(hiChar)}`);
        if (f.i) parts.push(...foldRange(lo.codePointAt(0)!, hiChar.codePointAt(0)!));
        prevChar = null;
        continue;
      }
      if (chars) {
        for (const ch of chars) {
          if (f.i) for (const v of caseVariants(ch)) parts.push(escapeInClass(v));
          else parts.push(escapeInClass(ch));
        }
        prevChar = chars[chars.length - 1] ?? null;
      } else {
        parts.push(text);
        prevChar = null;
      }
    }
    void prevChar;
    if (parts.length === 0) return neg ? '[\\s\\S]' : '[]';
    return `[${neg ? '^' : ''}${parts.join('')}]`;
  };

  while (i < p.length) {
    const c = p[i]!;
    switch (c) {
      case '\\': {
        i++;
        const start = out.length;
        const e = readEscape(false);
        if (e.chars) out += e.chars.map((ch) => literal(ch, f)).join('');
        else out += e.text;
        lastAtomEnd = e.text === '^' || e.text === '$' || e.text === '' ? -1 : start;
        break;
      }
      case '[': {
        i++;
        const start = out.length;
        out += readClass();
        lastAtomEnd = start;
        break;
      }
      case '(': {
        i++;
        const start = out.length;
        if (p[i] === '?') {
          i++;
          if (p[i] === 'P' && p[i + 1] === '<') {
            i += 2;
            const close = p.indexOf('>', i);
            if (close < 0) throw new Re2Error('invalid named capture', pattern);
            out += `(?<${p.slice(i, close).join('')}>`;
            i = close + 1;
            stack.push(f);
          } else if (p[i] === '<') {
            i++;
            const close = p.indexOf('>', i);
            if (close < 0) throw new Re2Error('invalid named capture', pattern);
            out += `(?<${p.slice(i, close).join('')}>`;
            i = close + 1;
            stack.push(f);
          } else {
            let spec = '';
            while (i < p.length && p[i] !== ')' && p[i] !== ':') spec += p[i++];
            if (i >= p.length) throw new Re2Error('missing closing )', pattern);
            if (p[i] === ')') {
              // (?flags) applies to the rest of the enclosing group.
              i++;
              f = parseFlags(spec);
              lastAtomEnd = -1;
              break;
            }
            i++; // ':'
            stack.push(f);
            f = parseFlags(spec);
            out += '(?:';
          }
        } else {
          out += '(';
          stack.push(f);
        }
        lastAtomEnd = -2 - start; // open group: remember where it started
        groupStarts.push(start);
        break;
      }
      case ')': {
        i++;
        if (stack.length === 0) throw new Re2Error('unexpected )', pattern);
        f = stack.pop()!;
        out += ')';
        lastAtomEnd = groupStarts.pop()!;
        break;
      }
      case '.':
        i++;
        lastAtomEnd = out.length;
        out += f.s ? '[\\s\\S]' : '[^\\n]';
        break;
      case '^':
        i++;
        out += f.m ? '(?:^|(?<=\\n))' : '^';
        lastAtomEnd = -1;
        break;
      case '$':
        i++;
        out += f.m ? '(?:$|(?=\\n))' : '$';
        lastAtomEnd = -1;
        break;
      case '|':
        i++;
        out += '|';
        lastAtomEnd = -1;
        break;
      case '*': case '+': case '?': {
        i++;
        if (lastAtomEnd === -1 || lastAtomEnd < -1) throw new Re2Error(`missing argument to repetition operator: \`${c}\``, pattern);
        out += c;
        let lazy = false;
        if (p[i] === '?') {
          lazy = true;
          i++;
        }
        if (lazy !== f.U) out += '?';
        if (p[i] === '*' || p[i] === '+' || (p[i] === '?' && !lazy)) throw new Re2Error(`invalid nested repetition operator: \`${c}${p[i]}\``, pattern);
        lastAtomEnd = -1;
        break;
      }
      case '{': {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i).join(''));
        if (!m) {
          i++;
          lastAtomEnd = out.length;
          out += '\\{';
          break;
        }
        if (lastAtomEnd === -1 || lastAtomEnd < -1) throw new Re2Error(`missing argument to repetition operator: \`${m[0]}\``, pattern);
        const lo = Number(m[1]);
        const hi = m[3] === undefined || m[3] === '' ? (m[2] ? Infinity : lo) : Number(m[3]);
        if (lo > 1000 || (hi !== Infinity && hi > 1000) || hi < lo) throw new Re2Error(`invalid repeat count: \`${m[0]}\``, pattern);
        i += m[0].length;
        out += m[0];
        let lazy = false;
        if (p[i] === '?') {
          lazy = true;
          i++;
        }
        if (lazy !== f.U) out += '?';
        lastAtomEnd = -1;
        break;
      }
      default:
        i++;
        lastAtomEnd = out.length;
        out += literal(c, f);
    }
  }
  if (stack.length > 0) throw new Re2Error('missing closing )', pattern);
  return { source: out, unicode };
}
function foldRange(lo: number, hi: number): string[] {
  const out: string[] = [];
  const a = Math.max(lo, 0x61);
  const b = Math.min(hi, 0x7a);
  if (a <= b) out.push(`${String.fromCharCode(a - 32)}-${String.fromCharCode(b - 32)}`);
  const c = Math.max(lo, 0x41);
  const d = Math.min(hi, 0x5a);
  if (c <= d) out.push(`${String.fromCharCode(c + 32)}-${String.fromCharCode(d + 32)}`);
  return out;
}

/**
 * compileAnchored compiles an RE2 pattern the way Prometheus compiles matchers and label_replace
 * regexes: `^(?s:pattern)$`. Throws Re2Error on a bad pattern.
 */
export function compileAnchored(pattern: string): RegExp {
  const t = translateRe2(`(?s:${pattern})`);
  try {
    // Always by code point, as Go matches: without `u`, `.` or a negated class would match half of
    // a surrogate pair (an emoji in a label value would need `..`).
    return new RegExp(`^${t.source}$`, 'u');
  } catch (e) {
    throw new Re2Error((e as Error).message, pattern);
  }
}

/**
 * matcherFn compiles a label matcher's value test with Prometheus' semantics: RE2 regexes fully
 * anchored with `.` matching newlines, a missing label read as ''. Storage implementations can use
 * it instead of JavaScript regexes, which reject RE2-only syntax such as `(?i:…)` on Node 20.
 */
export function matcherFn(m: { type: string; value: string }): (v: string) => boolean {
  switch (m.type) {
    case '=': return (v) => v === m.value;
    case '!=': return (v) => v !== m.value;
    case '=~': {
      const re = compileAnchored(m.value);
      return (v) => re.test(v);
    }
    case '!~': {
      const re = compileAnchored(m.value);
      return (v) => !re.test(v);
    }
    default: throw new Re2Error(`unknown match type ${JSON.stringify(m.type)}`, m.value);
  }
}

/**
 * expandTemplate expands `$1`, `${1}`, `$name`, `${name}` and `$$` as Go's Regexp.Expand does: a
 * bare `$name` takes the longest run of letters, digits and underscores, and an unknown group
 * expands to the empty string.
 */
export function expandTemplate(template: string, m: RegExpExecArray): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$' || i + 1 >= template.length) {
      out += c;
      continue;
    }
    const n = template[i + 1]!;
    if (n === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string;
    if (n === '{') {
      const close = template.indexOf('}', i + 2);
      const inner = close < 0 ? '' : template.slice(i + 2, close);
      if (close < 0 || !/^[A-Za-z0-9_]+$/.test(inner)) {
        out += c;
        continue;
      }
      name = inner;
      i = close;
    } else {
      const mm = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
      if (!mm) {
        out += c;
        continue;
      }
      name = mm[0];
      i += name.length;
    }
    if (/^[0-9]+$/.test(name)) {
      const idx = Number(name);
      if (idx < m.length) out += m[idx] ?? '';
    } else {
      out += m.groups?.[name] ?? '';
    }
  }
  return out;
}
