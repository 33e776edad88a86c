/**
 * The PromQL lexer, after Prometheus' promql/parser/lex.go: three modes (expression, inside
 * `{…}` where keywords are plain identifiers, inside `[…]` where only duration arithmetic is
 * allowed). Keywords are not decided here: the parser looks at identifiers in context, so that
 * metric names such as `fill` or `start` keep working.
 */

/** TokKind names a token; punctuation and operators are their own text. */
export type TokKind =
  | 'ident' | 'number' | 'duration' | 'string' | 'eof' | 'error'
  | '(' | ')' | '{' | '}' | '[' | ']' | ',' | ':' | '@'
  | '=' | '!=' | '=~' | '!~' | '==' | '<' | '>' | '<=' | '>=' | '</' | '>/'
  | '+' | '-' | '*' | '/' | '%' | '^';

/** Token is one lexeme; `pos`/`end` are offsets into the input. For errors, `v` is the message. */
export interface Token {
  k: TokKind;
  v: string;
  pos: number;
  end: number;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean =>
  c !== undefined && (c === '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
const isAlnum = (c: string | undefined): boolean => isAlpha(c) || isDigit(c);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/** lex splits a PromQL expression into tokens; the last one is `eof` or `error`. */
export function lex(input: string): Token[] {
  const toks: Token[] = [];
  let p = 0;
  let mode: 'expr' | 'braces' | 'brackets' = 'expr';
  let parenDepth = 0;
  let bracketParens = 0;

  const push = (k: TokKind, start: number, v = input.slice(start, p)): void => {
    toks.push({ k, v, pos: start, end: p });
  };
  const fail = (msg: string, at: number): Token[] => {
    toks.push({ k: 'error', v: msg, pos: at, end: at });
    return toks;
  };

  // scanNumber follows lex.go's scanNumber: decimal or hex, with `_` separators, one dot and one
  // exponent; it must not be followed by an alphanumeric character.
  const scanNumber = (): boolean => {
    const initial = p;
    let digits = '0123456789';
    if (input[p] === '0' && (input[p + 1] === 'x' || input[p + 1] === 'X')) {
      p += 2;
      if (input[p] === '_') p++;
      digits = '0123456789abcdefABCDEF';
    }
    const isD = (c: string | undefined): boolean => c !== undefined && digits.includes(c);
    if (input[p] === '.') p++;
    if (isD(input[p])) p++;
    let dot = false;
    let exp = false;
    while (isD(input[p]) || input[p] === '.' || input[p] === '_' || input[p] === 'e' || input[p] === 'E') {
      const c = input[p]!;
      if (c === '.') {
        if (dot) { p++; return false; }
        dot = true;
        p++;
        if (input[p] === '_' || input[p] === '.') { p++; return false; }
        if (digits.length > 10) return false;
        continue;
      }
      if ((c === 'e' || c === 'E') && digits.length === 10) {
        if (exp) { p++; return false; }
        exp = true;
        p++;
        if (input[p] === '+' || input[p] === '-') p++;
        if (input[p] === undefined || '._eE'.includes(input[p]!)) { if (input[p] !== undefined) p++; return false; }
        continue;
      }
      if (c === '_') {
        p++;
        if (input[p] === undefined || '._eE'.includes(input[p]!)) { if (input[p] !== undefined) p++; return false; }
        continue;
      }
      while (isD(input[p])) p++;
    }
    if (p === initial) return false;
    return !isAlnum(input[p]);
  };

  // acceptRemainingDuration: after a number, unit letters and further number+unit pairs.
  const acceptRemainingDuration = (): boolean => {
    if (!'smhdwy'.includes(input[p] ?? '#')) return false;
    p++;
    if (input[p] === 's') p++;
    while (isDigit(input[p])) {
      while (isDigit(input[p])) p++;
      if (!'smhdw'.includes(input[p] ?? '#')) return false;
      p++;
      if (input[p] === 's') p++;
    }
    return !isAlnum(input[p]);
  };

  const lexNumberOrDuration = (): string | null => {
    const start = p;
    if (scanNumber()) {
      push('number', start);
      return null;
    }
    if (acceptRemainingDuration()) {
      push('duration', start);
      return null;
    }
    return `bad number or duration syntax: ${JSON.stringify(input.slice(start, p + 1))}`;
  };

  const lexString = (q: string): string | null => {
    const start = p;
    p++;
    if (q === '`') {
      while (p < input.length && input[p] !== '`') p++;
      if (p >= input.length) return 'unterminated raw string';
      p++;
      push('string', start);
      return null;
    }
    while (true) {
      const c = input[p];
      if (c === undefined || c === '\n') return 'unterminated quoted string';
      if (c === '\\') {
        p += 2;
        continue;
      }
      p++;
      if (c === q) break;
    }
    push('string', start);
    return null;
  };

  while (true) {
    if (mode === 'braces') {
      while (isSpace(input[p])) p++;
      if (input[p] === '#') {
        while (p < input.length && input[p] !== '\n' && input[p] !== '\r') p++;
        continue;
      }
      const start = p;
      const c = input[p];
      if (c === undefined) return fail('unexpected end of input inside braces', p);
      if (isAlpha(c)) {
        while (isAlnum(input[p])) p++;
        push('ident', start);
      } else if (c === ',') {
        p++;
        push(',', start);
      } else if (c === '"' || c === "'" || c === '`') {
        const err = lexString(c);
        if (err) return fail(err, start);
      } else if (c === '=') {
        p++;
        if (input[p] === '~') { p++; push('=~', start); } else push('=', start);
      } else if (c === '!') {
        p++;
        const n = input[p];
        if (n === '~') { p++; push('!~', start); } else if (n === '=') { p++; push('!=', start); } else {
          return fail(`unexpected character after '!' inside braces: ${JSON.stringify(n ?? '')}`, start);
        }
      } else if (c === '{') {
        return fail(`unexpected left brace '{'`, start);
      } else if (c === '}') {
        p++;
        push('}', start);
        mode = 'expr';
      } else {
        return fail(`unexpected character inside braces: ${JSON.stringify(c)}`, start);
      }
      continue;
    }

    if (mode === 'brackets') {
      while (isSpace(input[p])) p++;
      const start = p;
      const c = input[p];
      if (c === undefined) return fail('unexpected end of input in duration expression', p);
      if (c === ']') {
        p++;
        push(']', start);
        mode = 'expr';
      } else if ('+-*/%^,:'.includes(c)) {
        p++;
        push(c as TokKind, start);
      } else if (c === '(') {
        p++;
        bracketParens++;
        push('(', start);
      } else if (c === ')') {
        p++;
        bracketParens--;
        if (bracketParens < 0) return fail(`unexpected right parenthesis ')'`, start);
        push(')', start);
      } else if (isDigit(c) || (c === '.' && isDigit(input[p + 1]))) {
        const err = lexNumberOrDuration();
        if (err) return fail(err, start);
      } else if (isAlpha(c)) {
        while (isAlnum(input[p])) p++;
        push('ident', start);
      } else {
        return fail(`unexpected character in duration expression: ${JSON.stringify(c)}`, start);
      }
      continue;
    }

    // Expression mode.
    while (isSpace(input[p])) p++;
    if (input[p] === '#') {
      while (p < input.length && input[p] !== '\n' && input[p] !== '\r') p++;
      continue;
    }
    const start = p;
    const c = input[p];
    if (c === undefined) {
      if (parenDepth > 0) return fail('unclosed left parenthesis', p);
      push('eof', p, '');
      return toks;
    }
    switch (c) {
      case ',': case '*': case '/': case '%': case '+': case '-': case '^': case '@':
        p++;
        push(c, start);
        break;
      case '=':
        p++;
        if (input[p] === '=') { p++; push('==', start); } else if (input[p] === '~') {
          return fail(`unexpected character after '=': '~'`, start);
        } else push('=', start);
        break;
      case '!':
        p++;
        if (input[p] !== '=') return fail(`unexpected character after '!': ${JSON.stringify(input[p] ?? '')}`, start);
        p++;
        push('!=', start);
        break;
      case '<':
        p++;
        if (input[p] === '=') { p++; push('<=', start); } else if (input[p] === '/') { p++; push('</', start); } else push('<', start);
        break;
      case '>':
        p++;
        if (input[p] === '=') { p++; push('>=', start); } else if (input[p] === '/') { p++; push('>/', start); } else push('>', start);
        break;
      case '"': case "'": case '`': {
        const err = lexString(c);
        if (err) return fail(err, start);
        break;
      }
      case '(':
        p++;
        parenDepth++;
        push('(', start);
        break;
      case ')':
        p++;
        parenDepth--;
        if (parenDepth < 0) return fail(`unexpected right parenthesis ')'`, start);
        push(')', start);
        break;
      case '{':
        p++;
        push('{', start);
        mode = 'braces';
        break;
      case '[':
        p++;
        push('[', start);
        mode = 'brackets';
        bracketParens = 0;
        break;
      case ']':
        return fail(`unexpected right bracket ']'`, start);
      case '}':
        return fail(`unexpected right brace '}'`, start);
      default:
        if (isDigit(c) || (c === '.' && isDigit(input[p + 1]))) {
          const err = lexNumberOrDuration();
          if (err) return fail(err, start);
        } else if (isAlpha(c) || c === ':') {
          while (isAlnum(input[p]) || input[p] === ':') p++;
          const word = input.slice(start, p);
          const lw = word.toLowerCase();
          push(lw === 'inf' || lw === 'nan' ? 'number' : 'ident', start, word);
        } else {
          return fail(`unexpected character: ${JSON.stringify(c)}`, start);
        }
    }
  }
}

/** tokenDesc describes a token the way Prometheus' "unexpected …" errors do. */
export function tokenDesc(t: Token): string {
  switch (t.k) {
    case 'eof': return 'end of input';
    case 'ident': return `identifier ${JSON.stringify(t.v)}`;
    case 'number': return `number ${JSON.stringify(t.v)}`;
    case 'duration': return `duration ${JSON.stringify(t.v)}`;
    case 'string': return `string ${JSON.stringify(t.v)}`;
    case 'error': return t.v;
    case '+': case '-': case '*': case '/': case '%': case '^': case '==': case '!=':
    case '<': case '>': case '<=': case '>=': case '=~': case '!~': case '</': case '>/':
      return `<op:${t.v}>`;
    default: return JSON.stringify(t.v);
  }
}

/**
 * numberValue reads a number token as Prometheus does: strconv.ParseInt(s, 0, 64) first (hex,
 * and octal for a leading 0), then ParseFloat; `_` separates digits.
 */
export function numberValue(text: string): number {
  const lw = text.toLowerCase();
  if (lw === 'inf' || lw === '+inf') return Infinity;
  if (lw === '-inf') return -Infinity;
  if (lw === 'nan') return NaN;
  const clean = text.replace(/_/g, '');
  // strconv.ParseInt(s, 0, 64) first: hex, and octal for a leading 0.
  if (/^0[xX][0-9a-fA-F]+$/.test(clean)) return parseInt(clean.slice(2), 16);
  if (/^0[0-7]+$/.test(clean)) return parseInt(clean.slice(1), 8);
  if (/^0[0-9]+$/.test(clean)) throw new Error(`error parsing number: strconv.ParseFloat: parsing ${JSON.stringify(text)}: invalid syntax`);
  const v = Number(clean);
  if (Number.isNaN(v)) throw new Error(`error parsing number: strconv.ParseFloat: parsing ${JSON.stringify(text)}: invalid syntax`);
  return v;
}
