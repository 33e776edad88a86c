/**
 * Micro benchmark: rendering a split range query's part, 100 series × 479 points (a 4 h panel at
 * 30 s steps) with the labels of a rate() result, as JSON bytes with offsets. The JavaScript path
 * (matrixSeriesJson + partAnswer) against renderMatrixPart, whose points are printed by
 * WebAssembly; then the value printing alone: JSON.stringify of each series' values against one
 * PointsWriter call per series. Both paths' bytes are compared first. Seeded; about 3 s.
 */
import { pathToFileURL } from 'node:url';
import { matrixSeriesJson, type MatrixSeries } from '../../src/query/answerJson.js';
import { partAnswer } from '../../src/query/split.js';
import { pointsWriter, renderMatrixPart } from '../../src/query/render/matrixBytes.js';
import type { Labels } from '../../src/model/labels.js';

/** PointsRenderResult is what main() measured, in milliseconds per part (best run). */
export interface PointsRenderResult {
  jsMs: number;
  wasmMs: number;
  ratio: number;
  stringifyMs: number;
  pointsMs: number;
}

const SERIES = 100;
const POINTS = 479;
const START = 1_795_232_100_000;
const STEP = 30_000;

/** part builds the series: rates (full-precision doubles), a few gauges of integers and zeros. */
function part(): MatrixSeries[] {
  let seed = 7;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const t = Array.from({ length: POINTS }, (_, k) => START + k * STEP);
  const out: MatrixSeries[] = [];
  for (let i = 0; i < SERIES; i++) {
    const metric: Labels = [
      ['cluster', `prod-eu-${i % 7}`], ['container', 'app'], ['instance', `10.0.${i % 256}.${(i * 7) % 256}:8080`],
      ['job', 'kubernetes-pods'], ['namespace', `team-${i % 12}`], ['pod', `app-${i}-7d9f8c6b5-x${(i * 2654435761 >>> 0).toString(36)}`],
    ];
    const kind = i % 10; // 0: integer gauge, 1: mostly zero, else a rate
    let level = rnd() * 1000;
    const v = new Array<number>(POINTS);
    for (let k = 0; k < POINTS; k++) {
      if (kind === 0) v[k] = Math.floor(level + rnd() * 20);
      else if (kind === 1) v[k] = rnd() < 0.9 ? 0 : rnd() / 15;
      else {
        level = Math.max(0, level + (rnd() - 0.5) * 10);
        v[k] = Math.floor(level * 4 * 30 + rnd() * 30) / 120; // increase over 4 scrapes / 120 s
      }
    }
    out.push({ metric, t, v });
  }
  return out;
}

/** bestMs runs fn repeatedly for about `ms` milliseconds and returns the fastest run. */
function bestMs(ms: number, fn: () => number): number {
  let sink = 0;
  let best = Infinity;
  const stop = performance.now() + ms;
  do {
    const t0 = performance.now();
    sink += fn();
    best = Math.min(best, performance.now() - t0);
  } while (performance.now() < stop);
  if (sink === 0.5) console.log(''); // keep `sink` observable
  return best;
}

/** main runs the benchmark and prints one line per measurement. */
export function main(): PointsRenderResult {
  const series = part();
  const labels = series.map((s) => s.metric);
  const js = (): number => partAnswer(labels, matrixSeriesJson(series), [], []).bytes.length;
  const wasm = (): number => renderMatrixPart(series).bytes.length;
  const a = partAnswer(labels, matrixSeriesJson(series), [], []);
  const b = renderMatrixPart(series);
  if (!Buffer.from(a.bytes).equals(Buffer.from(b.bytes))) throw new Error('points-render: the two paths differ');

  const w = pointsWriter();
  const stringify = (): number => {
    let n = 0;
    for (const s of series) n += JSON.stringify(s.v).length;
    return n;
  };
  const points = (): number => {
    let n = 0;
    for (const s of series) n += w.write(s.t, s.v, POINTS)!.length;
    return n;
  };

  // Warm up both so the measured phase runs optimized code.
  bestMs(300, js);
  bestMs(300, wasm);
  const jsMs = bestMs(800, js);
  const wasmMs = bestMs(800, wasm);
  bestMs(100, stringify);
  bestMs(100, points);
  const stringifyMs = bestMs(400, stringify);
  const pointsMs = bestMs(400, points);
  const ratio = jsMs / wasmMs;
  console.log(`points render: ${SERIES} series × ${POINTS} points, ${(a.bytes.length / 1e6).toFixed(2)} MB`);
  console.log(`  matrixSeriesJson + partAnswer (js)   ${jsMs.toFixed(2)} ms`);
  console.log(`  renderMatrixPart (wasm points)       ${wasmMs.toFixed(2)} ms`);
  console.log(`  ratio js/wasm                        ${ratio.toFixed(2)}x`);
  console.log(`  values only: JSON.stringify          ${stringifyMs.toFixed(2)} ms`);
  console.log(`  points only: PointsWriter.write      ${pointsMs.toFixed(2)} ms (timestamps included)`);
  return { jsMs, wasmMs, ratio, stringifyMs, pointsMs };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
