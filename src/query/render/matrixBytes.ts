/**
 * A range query's series rendered straight to UTF-8, each as `{"metric":{…},"values":[…]}`, into
 * one buffer with their offsets: the bytes of partAnswer(labels, matrixSeriesJson(series)) (see
 * src/query/answerJson.ts and split.ts), but with each series' points printed by one WebAssembly
 * call (pointsWasm.ts) instead of one string per point. A series whose timestamps the module
 * declines (not whole milliseconds) is rendered by matrixSeriesJson instead. renderMatrixAnswer
 * wraps them in the success envelope, for a range query answered by one thread; answerBytes is
 * the response body of any query result. Touches only the
 * buffers it returns and this thread's PointsWriter.
 */
import { answerJson, matrixSeriesJson, metricJson, utf8Bytes, type MatrixSeries } from '../answerJson.js';
import { mergeParts } from '../split.js';
import type { RawResult } from '../promql/engine.js';
import { PointsWriter } from './pointsWasm.js';

/**
 * RenderedSeries is series i's JSON at bytes[offs[i], offs[i+1]) (UTF-8). `bytes` may be a view
 * of a larger ArrayBuffer (transferring its buffer moves the unused tail too).
 */
export interface RenderedSeries {
  bytes: Uint8Array;
  offs: Uint32Array;
}

/** The first buffer's guess: bytes per point and per series (metric and brackets). */
const GUESS_PER_POINT = 32;
const GUESS_PER_SERIES = 256;

let writer: PointsWriter | undefined;

/** pointsWriter is this thread's PointsWriter (created on first use). */
export function pointsWriter(): PointsWriter {
  writer ??= new PointsWriter();
  return writer;
}

/** grown returns a buffer of at least `need` bytes holding buf's first `used` bytes. */
function grown(buf: Buffer, used: number, need: number): Buffer {
  let cap = buf.length * 2;
  while (cap < need) cap *= 2;
  const out = Buffer.allocUnsafeSlow(cap);
  buf.copy(out, 0, 0, used);
  return out;
}

/**
 * renderMatrixPart renders `series` in the order given (see the header): the same bytes and
 * offsets as partAnswer(series.map((s) => s.metric), matrixSeriesJson(series), …).
 */
export function renderMatrixPart(series: readonly MatrixSeries[]): RenderedSeries {
  const w = pointsWriter();
  let guess = 64 + series.length * GUESS_PER_SERIES;
  for (const s of series) guess += s.t.length * GUESS_PER_POINT;
  let buf: Buffer = Buffer.allocUnsafeSlow(guess);
  let off = 0;
  const offs = new Uint32Array(series.length + 1);
  for (let i = 0; i < series.length; i++) {
    const s = series[i]!;
    const points = w.write(s.t, s.v, s.v.length);
    if (points === undefined) {
      const json = matrixSeriesJson([s])[0]!;
      const need = off + Buffer.byteLength(json, 'utf8');
      if (need > buf.length) buf = grown(buf, off, need);
      off += buf.write(json, off, 'utf8');
    } else {
      const prefix = metricJson(s.metric) + ',"values":[';
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      const need = off + prefix.length * 3 + points.length + 2;
      if (need > buf.length) buf = grown(buf, off, need);
      off += buf.write(prefix, off, 'utf8');
      buf.set(points, off);
      off += points.length;
      buf[off++] = 0x5d; // ]
      buf[off++] = 0x7d; // }
    }
    offs[i + 1] = off;
  }
  return { bytes: buf.subarray(0, off), offs };
}

/**
 * renderMatrixAnswer renders a whole range-query answer (Prometheus' success envelope around the
 * series, in the order given): the bytes of utf8Bytes(answerJson(r)) for a matrix result r, in
 * an ArrayBuffer of its own (to be transferred between threads).
 */
export function renderMatrixAnswer(series: readonly MatrixSeries[], warnings: readonly string[], infos: readonly string[]): Uint8Array {
  const { bytes, offs } = renderMatrixPart(series);
  return mergeParts([{ labels: series.map((s) => s.metric), bytes, offs, warnings: [...warnings], infos: [...infos] }]);
}

/**
 * answerBytes renders a query result as its response body (UTF-8, in an ArrayBuffer of its own):
 * a matrix through renderMatrixAnswer, anything else through answerJson.
 */
export function answerBytes(r: RawResult): Uint8Array {
  const v = r.value;
  return v.type === 'matrix' ? renderMatrixAnswer(v.series, r.warnings, r.infos) : utf8Bytes(answerJson(r));
}
