import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError, parseExpr } from '../../../src/query/promql/parse.js';
import type { Binary, Expr, MatrixSelector, NumberLiteral, Subquery, VectorSelector } from '../../../src/query/promql/ast.js';
import { compileAnchored, expandTemplate, translateRe2 } from '../../../src/model/regex.js';
import { goQuote, unquote } from '../../../src/query/promql/strings.js';
import { parseDuration, formatDuration } from '../../../src/query/promql/durations.js';

function fails(input: string, msg: string | RegExp): void {
  assert.throws(() => parseExpr(input), (e: unknown) => {
    assert.ok(e instanceof ParseError, `${input}: not a ParseError: ${String(e)}`);
    if (typeof msg === 'string') assert.equal(e.message, msg, input);
    else assert.match(e.message, msg, input);
    return true;
  });
}

const num = (e: Expr): number => (e as NumberLiteral).val;

test('numbers: decimal, hex, octal, exponent, Inf/NaN in any case, durations as seconds', () => {
  assert.equal(num(parseExpr('12.34e6')), 12340000);
  assert.equal(num(parseExpr('.2')), 0.2);
  assert.equal(num(parseExpr('2.')), 2);
  assert.equal(num(parseExpr('0x1F')), 31);
  assert.equal(num(parseExpr('010')), 8);
  assert.equal(num(parseExpr('1_000')), 1000);
  assert.equal(num(parseExpr('inF')), Infinity);
  assert.equal(num(parseExpr('-Inf')), -Infinity);
  assert.ok(Number.isNaN(num(parseExpr('nan'))));
  assert.equal(num(parseExpr('1m30s')), 90);
  assert.equal(num(parseExpr('- - -1')), -1);
});

test('operator precedence: ^ is right-associative and binds tighter than unary minus', () => {
  const b = parseExpr('1 + 2 * 3') as Binary;
  assert.equal(b.op, '+');
  assert.equal((b.rhs as Binary).op, '*');
  const p = parseExpr('2 ^ 3 ^ 2') as Binary;
  assert.equal(p.op, '^');
  assert.equal((p.rhs as Binary).op, '^');
  const u = parseExpr('-a ^ 2');
  assert.equal(u.type, 'Unary');
  const m = parseExpr('-a * 2') as Binary;
  assert.equal(m.op, '*');
  assert.equal(m.lhs.type, 'Unary');
  const s = parseExpr('a or b and c unless d') as Binary;
  assert.equal(s.op, 'or');
  assert.equal((s.rhs as Binary).op, 'unless');
});

test('offset and @ bind to the selector before them; offset takes one duration term', () => {
  const b = parseExpr('metric offset 100 + 2') as Binary;
  assert.equal((b.lhs as VectorSelector).originalOffset, 100_000);
  const c = parseExpr('metric offset -2 ^ 2') as Binary;
  assert.equal(c.op, '^');
  assert.equal((c.lhs as VectorSelector).originalOffset, -2000);
  const d = parseExpr('metric offset (2 * 2)') as VectorSelector;
  assert.equal(d.originalOffset, 4000);
  const ms = parseExpr('foo[5m] offset 1m @ 100') as MatrixSelector;
  assert.equal(ms.range, 300_000);
  assert.equal(ms.vs.originalOffset, 60_000);
  assert.equal(ms.vs.at, 100_000);
  const at = parseExpr('foo @ 1.234') as VectorSelector;
  assert.equal(at.at, 1234);
  assert.equal((parseExpr('foo @ start()') as VectorSelector).atMode, 'start');
});

test('duration arithmetic in ranges, subqueries and offsets', () => {
  assert.equal((parseExpr('foo[26m+4m]') as MatrixSelector).range, 1_800_000);
  assert.equal((parseExpr('foo[1h30m % 1h]') as MatrixSelector).range, 1_800_000);
  assert.equal((parseExpr('foo[-5m+35m]') as MatrixSelector).range, 1_800_000);
  assert.equal((parseExpr('foo[1001ms]') as MatrixSelector).range, 1001);
  const sq = parseExpr('foo[29s+1s:5s+5s]') as Subquery;
  assert.equal(sq.range, 30_000);
  assert.equal(sq.step, 10_000);
  const dyn = parseExpr('foo[1+(STep()-5)*2]') as MatrixSelector;
  assert.ok(dyn.rangeExpr, 'step() is resolved when the query runs');
  assert.ok((parseExpr('foo offset min_of(step(), 1s)') as VectorSelector).originalOffsetExpr);
  assert.equal((parseExpr('rate(x[5m:])') as unknown as { args: Subquery[] }).args[0]!.step, 0);
});

test('keywords are case-insensitive; fill and start stay usable as metric names', () => {
  assert.equal(parseExpr('SUM BY (job) (x)').type, 'Aggregate');
  assert.equal(parseExpr('sum(x) BY (job)').type, 'Aggregate');
  assert.equal(parseExpr('x OFFSET 5m').type, 'VectorSelector');
  const f = parseExpr('fill + fill(0) other') as Binary;
  assert.equal((f.lhs as VectorSelector).name, 'fill');
  assert.equal(f.matching?.fillLeft, 0);
  assert.equal(f.matching?.fillRight, 0);
  const g = parseExpr('a + fill_left(1) fill_right(2) b') as Binary;
  assert.deepEqual([g.matching?.fillLeft, g.matching?.fillRight], [1, 2]);
  assert.equal((parseExpr('start') as VectorSelector).name, 'start');
  assert.equal(parseExpr('start()').type, 'Call');
});

test('matchers, quoted names and the metric name', () => {
  const vs = parseExpr('foo{a="b", c!~"d.*", e=~\'x\', f!=`y`}') as VectorSelector;
  assert.deepEqual(vs.matchers.map((m) => [m.name, m.type, m.value]), [
    ['a', '=', 'b'], ['c', '!~', 'd.*'], ['e', '=~', 'x'], ['f', '!=', 'y'], ['__name__', '=', 'foo'],
  ]);
  const q = parseExpr('{"my.metric", "a.b"="c"}') as VectorSelector;
  assert.equal(q.name, 'my.metric');
  assert.deepEqual(q.matchers[0], { type: '=', name: 'a.b', value: 'c' });
});

test('vector matching and grouping modifiers', () => {
  const b = parseExpr('a * on(x, y) group_left(z) b') as Binary;
  assert.deepEqual(b.matching, { card: 'many-to-one', on: true, labels: ['x', 'y'], include: ['z'] });
  const c = parseExpr('a / ignoring(x) group_right b') as Binary;
  assert.equal(c.matching?.card, 'one-to-many');
  assert.equal((parseExpr('a and b') as Binary).matching?.card, 'many-to-many');
  assert.equal((parseExpr('a > bool 1') as Binary).bool, true);
  assert.equal((parseExpr('a + 1') as Binary).matching, undefined);
});

test('parse errors read like Prometheus\'', () => {
  fails('', '1:1: parse error: no expression found in input');
  fails('foo offset 1m [5m]', '1:15: parse error: no offset modifiers allowed before range');
  fails('sum(x) offset 5m', '1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery');
  fails('rate(x[5m], 1)', '1:1: parse error: expected 1 argument(s) in call to "rate", got 2');
  fails('rate(x)', '1:6: parse error: expected type range vector in call to function "rate", got instant vector');
  fails('{}', '1:1: parse error: vector selector must contain at least one non-empty matcher');
  fails('{a=~".*"}', /vector selector must contain at least one non-empty matcher/);
  fails('foo{__name__="bar"}', '1:1: parse error: metric name must not be set twice: "foo" or "bar"');
  fails('1 > 2', /comparisons between scalars must use BOOL modifier/);
  fails('x + on(a) group_left(a) y', /label "a" must not occur in ON and GROUP clause at once/);
  fails('x and 1', /set operator "and" not allowed in binary scalar expression/);
  fails('foo[5m][5m:]', /subquery is only allowed on instant vector, got matrix instead/);
  fails('no_such_function(x)', '1:1: parse error: unknown function with name "no_such_function"');
  fails('foo{a="b"', /unexpected end of input inside braces/);
  fails('(foo', /unclosed left parenthesis/);
  fails('"a" + 1', /binary expression must contain only scalar and instant vector types/);
  fails('sum(a, b)', /wrong number of arguments for aggregate expression provided, expected 1, got 2/);
  fails('topk(a)', /wrong number of arguments for aggregate expression provided, expected 2, got 1/);
  fails('foo[0s]', /duration must be greater than 0/);
  fails('foo{a=~"(x"}', /error parsing regexp: missing closing \)/);
  fails('a + bool b', /bool modifier can only be used on comparison operators/);
  fails('foo @ 1 @ 2', /@ <timestamp> may not be set multiple times/);
  fails('foo offset 1m offset 2m', /offset may not be set multiple times/);
  fails('vector(1,)', /trailing commas not allowed in function call args/);
  fails('count_values(1, x)', /expected type string in aggregation parameter, got scalar/);
  fails('1 +', /unexpected end of input/);
  fails('foo\n  +', '2:4: parse error: unexpected end of input');
});

test('strings: Go escapes, raw strings, and bytes that are not UTF-8', () => {
  assert.equal(unquote('"a\\x41\\u00e9\\n"').val, 'aAé\n');
  assert.equal(unquote("'it\\'s'").val, "it's");
  assert.equal(unquote('`raw\\n`').val, 'raw\\n');
  const bad = unquote('"a\\xc5z"');
  assert.equal(bad.validUtf8, false);
  assert.equal(goQuote(bad.bytes), '"a\\xc5z"');
  assert.throws(() => unquote('"\\q"'), /unknown escape sequence/);
});

test('RE2 patterns run on JavaScript: inline flags, classes, anchors, templates', () => {
  assert.ok(compileAnchored('(?i:PRO).*').test('production'));
  assert.ok(compileAnchored('.*((?i)DUC).*').test('production'));
  assert.ok(!compileAnchored('(?i:PRO)').test('production'));
  assert.ok(compileAnchored('a.b').test('a\nb'), 'dot matches newline, as Prometheus compiles (?s:...)');
  assert.ok(compileAnchored('[[:digit:]]+').test('123'));
  assert.ok(compileAnchored('\\Qa.b\\E').test('a.b'));
  assert.ok(!compileAnchored('\\Qa.b\\E').test('axb'));
  assert.ok(compileAnchored('(?P<x>a)b').test('ab'));
  assert.throws(() => translateRe2('(.*'), /missing closing \)/);
  assert.throws(() => translateRe2('a**'), /invalid nested repetition operator/);
  const m = compileAnchored('(.*)-value-(.*)').exec('source-value-10')!;
  assert.equal(expandTemplate('$1-value-$2', m), 'source-value-10');
  assert.equal(expandTemplate('${1}x $1x $$', m), 'sourcex  $');
});

test('durations', () => {
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('10s53ms'), 10_053);
  assert.throws(() => parseDuration('1s1h'), /not a valid duration string/);
  assert.equal(formatDuration(5_400_000), '1h30m');
});
