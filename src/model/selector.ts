/**
 * Series selectors as the Prometheus HTTP API takes them in `match[]`:
 * `metric_name{label="value", other=~"re.*"}`, `{__name__=~"x.*"}`, or a bare metric name.
 * The full PromQL grammar lives in src/query; this is the small subset the metadata endpoints need.
 */
import { ErrorCode, SluiceError } from '../errors.js';
import { MatchType, compileMatcher, type Matcher } from './matchers.js';

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;

function bad(msg: string): never {
  throw new SluiceError(ErrorCode.BadRequest, msg);
}

/** parseSelector parses one series selector into matchers; it must select something. */
export function parseSelector(input: string): Matcher[] {
  let p = 0;
  const s = input;
  const ws = (): void => { while (p < s.length && /\s/.test(s[p]!)) p++; };
  const ident = (): string => {
    const st = p;
    if (p < s.length && NAME_START.test(s[p]!)) { p++; while (p < s.length && NAME_CHAR.test(s[p]!)) p++; }
    return s.slice(st, p);
  };
  const str = (): string => {
    const q = s[p];
    if (q !== '"' && q !== "'" && q !== '`') bad(`parse error at char ${p + 1}: expected string, got ${JSON.stringify(s.slice(p, p + 1) || 'end of input')}`);
    p++;
    let out = '';
    while (p < s.length && s[p] !== q) {
      const c = s[p++]!;
      if (c === '\\' && q !== '`') {
        const e = s[p++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case '\\': out += '\\'; break;
          case '"': out += '"'; break;
          case "'": out += "'"; break;
          case 'a': out += '\x07'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'v': out += '\v'; break;
          case 'x': out += String.fromCharCode(parseInt(s.slice(p, p + 2), 16)); p += 2; break;
          case 'u': out += String.fromCodePoint(parseInt(s.slice(p, p + 4), 16)); p += 4; break;
          case 'U': out += String.fromCodePoint(parseInt(s.slice(p, p + 8), 16)); p += 8; break;
          default:
            if (e !== undefined && e >= '0' && e <= '7') { out += String.fromCharCode(parseInt(s.slice(p - 1, p + 2), 8)); p += 2; break; }
            bad(`parse error: unknown escape sequence \\${e ?? ''}`);
        }
      } else out += c;
    }
    if (p >= s.length) bad('parse error: unterminated quoted string');
    p++;
    return out;
  };

  const matchers: Matcher[] = [];
  ws();
  const name = ident();
  if (name !== '') matchers.push({ type: MatchType.EQ, name: '__name__', value: name });
  ws();
  if (s[p] === '{') {
    p++;
    ws();
    while (p < s.length && s[p] !== '}') {
      let lname: string;
      if (s[p] === '"') lname = str(); else lname = ident();
      if (lname === '') bad(`parse error at char ${p + 1}: unexpected character in label matching: ${JSON.stringify(s[p])}`);
      ws();
      let type: MatchType;
      if (s.startsWith('=~', p)) { type = MatchType.RE; p += 2; }
      else if (s.startsWith('!~', p)) { type = MatchType.NRE; p += 2; }
      else if (s.startsWith('!=', p)) { type = MatchType.NEQ; p += 2; }
      else if (s[p] === '=') { type = MatchType.EQ; p += 1; }
      else bad(`parse error at char ${p + 1}: unexpected character in label matching`);
      ws();
      matchers.push({ type, name: lname, value: str() });
      ws();
      if (s[p] === ',') { p++; ws(); } else if (s[p] !== '}') bad(`parse error at char ${p + 1}: unexpected character inside braces`);
    }
    if (s[p] !== '}') bad('parse error: unexpected end of input inside braces');
    p++;
  }
  ws();
  if (p !== s.length) bad(`parse error at char ${p + 1}: unexpected ${JSON.stringify(s.slice(p, p + 10))}`);
  if (matchers.length === 0) bad('parse error: vector selector must contain at least one non-empty matcher');
  // Prometheus refuses selectors in which every matcher matches the empty string.
  const nonEmpty = matchers.map(compileMatcher).some((m) => !m.matches(''));
  if (!nonEmpty) bad('vector selector must contain at least one non-empty matcher');
  return matchers;
}
