/**
 * Go string literals: PromQL strings are Go-quoted ("…" and '…' with Go escapes, `…` raw) and
 * denote bytes, so `"\xff"` is a one-byte string that is not UTF-8. unquote keeps track of that;
 * goQuote prints a value as Go's %q does, for error messages.
 */

const enc = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lossyUtf8 = new TextDecoder('utf-8', { fatal: false });

/** Unquoted is an unquoted string: its value, whether its bytes are UTF-8, and the raw bytes. */
export interface Unquoted {
  val: string;
  validUtf8: boolean;
  bytes: Uint8Array;
}

/** unquote reads a Go-quoted string literal (with its quotes); throws on a bad escape. */
export function unquote(raw: string): Unquoted {
  const q = raw[0];
  const body = raw.slice(1, -1);
  if (q === '`') {
    const bytes = enc.encode(body);
    return { val: body, validUtf8: true, bytes };
  }
  const out: number[] = [];
  const pushStr = (s: string): void => {
    for (const b of enc.encode(s)) out.push(b);
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      pushStr(ch);
      i += ch.length - 1;
      continue;
    }
    const e = body[++i];
    switch (e) {
      case 'a': out.push(7); break;
      case 'b': out.push(8); break;
      case 'f': out.push(12); break;
      case 'n': out.push(10); break;
      case 'r': out.push(13); break;
      case 't': out.push(9); break;
      case 'v': out.push(11); break;
      case '\\': out.push(92); break;
      case '"': case "'":
        if (e !== q) throw new Error(`unknown escape sequence U+00${e.charCodeAt(0).toString(16).toUpperCase()} '${e}'`);
        out.push(e.charCodeAt(0));
        break;
      case 'x': {
        const h = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Error('illegal character in escape sequence');
        out.push(parseInt(h, 16));
        i += 2;
        break;
      }
      case 'u': case 'U': {
        const n = e === 'u' ? 4 : 8;
        const h = body.slice(i + 1, i + 1 + n);
        if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) throw new Error('illegal character in escape sequence');
        const cp = parseInt(h, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) throw new Error('escape sequence is an invalid Unicode code point');
        pushStr(String.fromCodePoint(cp));
        i += n;
        break;
      }
      default:
        if (e !== undefined && e >= '0' && e <= '7') {
          const o = body.slice(i, i + 3);
          if (!/^[0-7]{3}$/.test(o)) throw new Error('illegal character in escape sequence');
          const v = parseInt(o, 8);
          if (v > 255) throw new Error('escape sequence is an invalid Unicode code point');
          out.push(v);
          i += 2;
          break;
        }
        throw new Error(e === undefined ? 'escape sequence not terminated' : `unknown escape sequence U+${(e.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')} '${e}'`);
    }
  }
  const bytes = Uint8Array.from(out);
  try {
    return { val: strictUtf8.decode(bytes), validUtf8: true, bytes };
  } catch {
    return { val: lossyUtf8.decode(bytes), validUtf8: false, bytes };
  }
}

/** goQuote prints bytes (or a string) the way Go's strconv.Quote does. */
export function goQuote(v: string | Uint8Array): string {
  const bytes = typeof v === 'string' ? enc.encode(v) : v;
  let out = '"';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let len = 0;
    let cp = -1;
    if (b < 0x80) { len = 1; cp = b; } else if (b >= 0xc2 && b < 0xe0) len = 2;
    else if (b >= 0xe0 && b < 0xf0) len = 3;
    else if (b >= 0xf0 && b < 0xf5) len = 4;
    if (len > 1) {
      try {
        const s = strictUtf8.decode(bytes.subarray(i, i + len));
        cp = s.codePointAt(0)!;
        if (s.length !== (cp > 0xffff ? 2 : 1)) cp = -1;
      } catch {
        cp = -1;
      }
    }
    if (cp < 0) {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i++;
      continue;
    }
    i += len;
    switch (cp) {
      case 7: out += '\\a'; break;
      case 8: out += '\\b'; break;
      case 12: out += '\\f'; break;
      case 10: out += '\\n'; break;
      case 13: out += '\\r'; break;
      case 9: out += '\\t'; break;
      case 11: out += '\\v'; break;
      case 34: out += '\\"'; break;
      case 92: out += '\\\\'; break;
      default:
        if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
        else if (cp >= 0x80 && cp < 0xa0) out += `\\u${cp.toString(16).padStart(4, '0')}`;
        else out += String.fromCodePoint(cp);
    }
  }
  return `${out}"`;
}

/** isValidLabelName tells a legal label name (any valid UTF-8, as Prometheus 3.x accepts). */
export function isValidLabelName(name: string, validUtf8 = true): boolean {
  return name.length > 0 && validUtf8;
}

/** isLegacyLabelName tells a name matching [a-zA-Z_][a-zA-Z0-9_]*. */
export function isLegacyLabelName(name: string): boolean {
  return /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name);
}
