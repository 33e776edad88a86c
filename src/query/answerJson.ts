/**
 * The JSON body of a PromQL answer (`/api/v1/query`, `/api/v1/query_range`), written directly
 * from the engine's result: the same bytes as building Prometheus' response objects (toApi,
 * resultEnvelope) and passing them to JSON.stringify, without the objects: a 200-series panel over
 * 2 h is ~100k `[t, "v"]` pairs, and building them as arrays cost more than evaluating the query.
 * Label sets are written in their (sorted) order, as Prometheus writes them. Pure: touches nothing.
 */
import { formatFloat } from './promql/value.js';
import type { Labels } from '../model/labels.js';
import type { RawResult } from './promql/engine.js';

/** Parts collects string pieces; one join at the end is cheaper than growing one string. */
type Parts = string[];

/** metricJson opens a series' JSON object with its labels: `{"metric":{…}` (in their order). */
export function metricJson(m: Labels): string {
  let out = '{"metric":{';
  for (let i = 0; i < m.length; i++) {
    const [n, v] = m[i]!;
    out += (i === 0 ? '' : ',') + JSON.stringify(n) + ':' + JSON.stringify(v);
  }
  return out + '}';
}

/** pointJson is one `[t, "v"]` pair: seconds as a JSON number, the value as Prometheus prints it. */
function pointJson(t: number, v: number): string {
  return '[' + String(t / 1000) + ',"' + formatFloat(v) + '"]';
}

/**
 * valueStrings prints a series' values as formatFloat does. JSON.stringify of the whole array
 * turns numbers into text faster than one String() per value (and the same text for finite
 * numbers); what it prints differently is redone one by one: NaN and ±Inf (`null`), exponents
 * (Prometheus writes at least two exponent digits) and -0 (printed `0`).
 */
function valueStrings(v: readonly number[]): string[] {
  if (v.length === 0) return [];
  const js = JSON.stringify(v);
  const vals = js.slice(1, -1).split(',');
  const special = js.includes('e') || js.includes('null');
  for (let k = 0; k < vals.length; k++) if (special || vals[k] === '0') vals[k] = formatFloat(v[k]!);
  return vals;
}

/** resultJson writes the `result` of a query answer. */
function resultJson(p: Parts, r: RawResult): RawResult['value']['type'] {
  const v = r.value;
  switch (v.type) {
    case 'vector':
      p.push('[');
      v.series.forEach((s, i) => {
        if (i > 0) p.push(',');
        p.push(metricJson(s.metric), ',"value":', pointJson(s.t, s.v), '}');
      });
      p.push(']');
      return 'vector';
    case 'matrix':
      p.push('[', matrixSeriesJson(v.series).join(','), ']');
      return 'matrix';
    case 'scalar':
      p.push(pointJson(v.t, v.v));
      return 'scalar';
    case 'string':
      p.push('[', String(v.t / 1000), ',', JSON.stringify(v.v), ']');
      return 'string';
  }
}

/**
 * utf8Bytes encodes an answer in an ArrayBuffer of its own (never Node's shared pool), so that it
 * can be transferred between threads instead of copied.
 */
export function utf8Bytes(s: string): Buffer {
  const b = Buffer.allocUnsafeSlow(Buffer.byteLength(s, 'utf8'));
  b.write(s, 0, 'utf8');
  return b;
}

/** MatrixSeries is one series of a range query's result. */
export interface MatrixSeries {
  metric: Labels;
  t: readonly number[];
  v: readonly number[];
}

/**
 * matrixSeriesJson renders each series of a matrix as its JSON object
 * (`{"metric":{…},"values":[[t,"v"],…]}`), in the order given.
 */
export function matrixSeriesJson(series: readonly MatrixSeries[]): string[] {
  const stamps = new Map<number, string>();
  const out: string[] = new Array(series.length);
  const p: Parts = [];
  for (let i = 0; i < series.length; i++) {
    const s = series[i]!;
    p.length = 0;
    p.push(metricJson(s.metric));
    const vals = valueStrings(s.v);
    const points: string[] = new Array(vals.length);
    for (let k = 0; k < vals.length; k++) {
      // A range query's series share their timestamps: each is printed once.
      const t = s.t[k]!;
      let pre = stamps.get(t);
      if (pre === undefined) {
        pre = '[' + String(t / 1000) + ',"';
        stamps.set(t, pre);
      }
      points[k] = pre + vals[k]! + '"]';
    }
    p.push(',"values":[', points.join(','), ']}');
    out[i] = p.join('');
  }
  return out;
}

/**
 * answerEnvelope wraps a rendered `result` in Prometheus' success envelope, with `warnings` and
 * `infos` at the top level when there are any.
 */
export function answerEnvelope(type: RawResult['value']['type'], result: string, warnings: readonly string[], infos: readonly string[]): string {
  let out = '{"status":"success","data":{"resultType":"' + type + '","result":' + result + '}';
  if (warnings.length > 0) out += ',"warnings":' + JSON.stringify(warnings);
  if (infos.length > 0) out += ',"infos":' + JSON.stringify(infos);
  return out + '}';
}

/**
 * answerJson renders a query result as Prometheus' success envelope:
 * `{"status":"success","data":{"resultType":…,"result":…}}`, with `warnings` and `infos` at the
 * top level when there are any.
 */
export function answerJson(r: RawResult): string {
  const result: Parts = [];
  const type = resultJson(result, r);
  return answerEnvelope(type, result.join(''), r.warnings, r.infos);
}
