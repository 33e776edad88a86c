/**
 * Parsers for the text promtool prints: Go-quoted strings (strconv.Quote) and the lines of
 * `promtool tsdb dump`: `{name="value", …} <value %g> <timestamp ms>`.
 */

/** DumpLine is one parsed dump line. */
export interface DumpLine {
  labels: [string, string][];
  value: number;
  t: number;
}

/** parseGoQuoted parses the Go-quoted string starting at s[p] (the opening quote); returns it and the index after it. */
export function parseGoQuoted(s: string, p: number): [string, number] {
  if (s[p] !== '"') throw new Error(`expected '"' at ${p} in ${s}`);
  p++;
  const bytes: number[] = [];
  const pushStr = (x: string): void => {
    for (const b of Buffer.from(x, 'utf8')) bytes.push(b);
  };
  while (s[p] !== '"') {
    if (p >= s.length) throw new Error(`unterminated string in ${s}`);
    const c = s[p]!;
    if (c !== '\\') {
      const cp = s.codePointAt(p)!;
      pushStr(String.fromCodePoint(cp));
      p += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = s[p + 1]!;
    p += 2;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (e in simple) pushStr(simple[e]!);
    else if (e === 'x') {
      bytes.push(parseInt(s.slice(p, p + 2), 16));
      p += 2;
    } else if (e === 'u') {
      pushStr(String.fromCodePoint(parseInt(s.slice(p, p + 4), 16)));
      p += 4;
    } else if (e === 'U') {
      pushStr(String.fromCodePoint(parseInt(s.slice(p, p + 8), 16)));
      p += 8;
    } else throw new Error(`unknown escape \\${e} in ${s}`);
  }
  return [Buffer.from(bytes).toString('utf8'), p + 1];
}

/** parseGoFloat parses Go's %g / FormatFloat output. */
export function parseGoFloat(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const v = Number(s);
  if (Number.isNaN(v)) throw new Error(`not a float: ${s}`);
  return v;
}

/** parseDumpLine parses one line of `promtool tsdb dump`. */
export function parseDumpLine(line: string): DumpLine {
  if (line[0] !== '{') throw new Error(`bad dump line: ${line}`);
  const labels: [string, string][] = [];
  let p = 1;
  while (line[p] !== '}') {
    const eq = line.indexOf('=', p);
    const name = line.slice(p, eq);
    const [value, q] = parseGoQuoted(line, eq + 1);
    labels.push([name, value]);
    p = q;
    if (line.startsWith(', ', p)) p += 2;
  }
  const rest = line.slice(p + 2).split(' ');
  if (rest.length !== 2) throw new Error(`bad dump line tail: ${line}`);
  return { labels, value: parseGoFloat(rest[0]!), t: Number(rest[1]) };
}
