/**
 * renderMatrixPart (src/query/render/matrixBytes.ts) must give the bytes and offsets of the
 * JavaScript path, partAnswer(labels, matrixSeriesJson(series)): labels needing escapes or
 * several UTF-8 bytes, empty series and label sets, NaN/±Inf/-0 and exponent values, a series
 * whose timestamps the module declines, and a part larger than the first buffer's guess; and
 * renderMatrixAnswer, the whole envelope, must give utf8Bytes(answerJson(result)).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMatrixAnswer, renderMatrixPart } from '../../../src/query/render/matrixBytes.js';
import { answerJson, matrixSeriesJson, utf8Bytes } from '../../../src/query/answerJson.js';
import { partAnswer } from '../../../src/query/split.js';
import type { Labels } from '../../../src/model/labels.js';
import { Rng } from '../../helpers/prng.js';

const ODD = ['quote " back \\ slash', 'nl \n tab \t cr \r', 'é ü ß', '日本語', '🙂 astral', '\u0000\u001f ctl', '<&> \u2028', ''];
/** Series is a matrix series as the engine gives it. */
interface Series {
  metric: Labels;
  t: number[];
  v: number[];
}

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-7, 1.5e21, 5e-324, Number.MAX_VALUE, 0.1 + 0.2, -42];

/** reference is what the JavaScript path writes for these series. */
function reference(series: Series[]): { bytes: Uint8Array; offs: Uint32Array } {
  return partAnswer(series.map((s) => s.metric), matrixSeriesJson(series), [], []);
}

function assertSame(series: Series[], what: string, warnings: string[] = [], infos: string[] = []): void {
  const got = renderMatrixPart(series);
  const want = reference(series);
  assert.deepEqual([...got.offs], [...want.offs], `${what}: offsets`);
  assert.equal(Buffer.from(got.bytes).toString('utf8'), Buffer.from(want.bytes).toString('utf8'), `${what}: text`);
  assert.ok(Buffer.from(got.bytes).equals(Buffer.from(want.bytes)), `${what}: bytes`);
  const body = renderMatrixAnswer(series, warnings, infos);
  const wantBody = utf8Bytes(answerJson({ value: { type: 'matrix', series }, warnings, infos }));
  assert.equal(Buffer.from(body).toString('utf8'), wantBody.toString('utf8'), `${what}: answer`);
  assert.equal(body.byteOffset, 0, `${what}: an ArrayBuffer of its own`);
  assert.equal(body.buffer.byteLength, body.length, `${what}: an ArrayBuffer of its own`);
}

test('equals matrixSeriesJson + partAnswer on random series with odd labels and values', () => {
  const rng = new Rng(21);
  for (let iter = 0; iter < 40; iter++) {
    const series: Series[] = [];
    const start = 1_795_232_100_000 + rng.int(0, 999) * (rng.chance(0.5) ? 1 : 0);
    const count = rng.int(0, 30);
    for (let i = 0; i < count; i++) {
      const metric: Labels = [];
      const nl = rng.int(0, 6);
      for (let l = 0; l < nl; l++) {
        metric.push([rng.chance(0.1) ? rng.pick(ODD) : `l${l}_${rng.asciiString(8)}`,
          rng.chance(0.3) ? rng.pick(ODD) : rng.chance(0.2) ? rng.string(12) : rng.asciiString(20)]);
      }
      const n = rng.chance(0.1) ? 0 : rng.int(1, 600);
      const t: number[] = [];
      const v: number[] = [];
      // Series of a range query mostly share the steps; some start later.
      const from = rng.chance(0.3) ? rng.int(0, 20) : 0;
      for (let k = 0; k < n; k++) {
        t.push(start + (from + k) * 15_000);
        v.push(rng.chance(0.1) ? rng.pick(SPECIAL) : rng.chance(0.3) ? rng.int(0, 1e6) : rng.next() * 10 ** rng.int(-10, 12));
      }
      series.push({ metric, t, v });
    }
    const annos = (): string[] => (rng.chance(0.3) ? ['PromQL warning: "x" \u0000', rng.pick(ODD)] : []);
    assertSame(series, `iteration ${iter}`, annos(), annos());
  }
});

test('a series with fractional-millisecond timestamps falls back to JavaScript, the others do not', () => {
  const series: Series[] = [
    { metric: [['job', 'a']], t: [1000, 2000], v: [1, 2] },
    { metric: [['job', 'b"\\']], t: [1000.5, 2000], v: [NaN, -0] },
    { metric: [], t: [], v: [] },
    { metric: [['job', 'c']], t: [-1500, 3000], v: [Infinity, 1e-7] },
  ];
  assertSame(series, 'mixed');
  const text = Buffer.from(renderMatrixPart(series).bytes).toString();
  assert.ok(text.includes('{"metric":{"job":"b\\"\\\\"},"values":[[1.0005,"NaN"],[2,"-0"]]}'), text);
  assert.ok(text.includes('[-1.5,"+Inf"],[3,"1e-07"]'), text);
});

test('a part larger than the first guess (long label values) grows its buffer', () => {
  const big = 'é'.repeat(20_000);
  const series: Series[] = Array.from({ length: 5 }, (_, i) => ({
    metric: [['big', big + i], ['i', String(i)]],
    t: Array.from({ length: 50 }, (_, k) => 1_795_232_100_000 + k * 30_000),
    v: Array.from({ length: 50 }, (_, k) => k / 3),
  }));
  assertSame(series, 'big labels');
  assert.deepEqual(renderMatrixPart([]).offs, new Uint32Array(1));
});
