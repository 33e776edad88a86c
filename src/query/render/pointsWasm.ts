/**
 * The points of a range-query series rendered as JSON by WebAssembly (source: points.wat):
 * `[t,"v"],[t,"v"],…` (no brackets around), the bytes answerJson's matrixSeriesJson writes for
 * them, from one call per series instead of one string per point. Values are printed with the
 * shortest round-trip digits (what String(v) prints) in Prometheus' style (`1e-07`, `+Inf`), and
 * timestamps as String(t/1000). Touches only its own module instance; one per thread.
 */
import { POINTS_WASM_BASE64 } from './pointsWasm.bytes.js';

/** The parts of the WebAssembly API used here (its typings live in TypeScript's DOM lib). */
interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type PointsFn = (n: number, tp: number, vp: number, cache: number, out: number) => number;

const PAGE = 65536;
/**
 * Bytes of memory per point: its timestamp and value (8 each), its timestamp cache slot (32) and
 * its output (48: `[` + 21 for `-t.ttt` + `,"` + 24 for `-d.dddddddddddddddde-308` + `"],`).
 */
const BYTES_PER_POINT = 8 + 8 + 32 + 48;
/** Room after the output, for the module's 8-byte-wide stores past its end. */
const SLACK = 64;
/** MIN_CAPACITY is the fewest points the first layout holds. */
const MIN_CAPACITY = 4096;

let compiled: object | undefined;

/**
 * PointsWriter is one instance of the module. The memory past the module's own data holds, for a
 * capacity of `cap` points: the timestamps, the values, the timestamp cache (kept between calls:
 * a range query's series share their timestamps, and each is printed once) and the output.
 */
export class PointsWriter {
  private readonly memory: WasmMemory;
  private readonly fn: PointsFn;
  private readonly heap: number;
  private cap = 0;
  private tOff = 0;
  private vOff = 0;
  private cacheOff = 0;
  private outOff = 0;
  private u8!: Uint8Array;
  /** times is where the timestamps (ms) of the next render() go; valid until ensure() grows it. */
  times!: Float64Array;
  /** values is where the values of the next render() go; valid until ensure() grows it. */
  values!: Float64Array;

  constructor() {
    compiled ??= new WA.Module(Buffer.from(POINTS_WASM_BASE64, 'base64'));
    const inst = new WA.Instance(compiled, {});
    this.memory = inst.exports['memory'] as WasmMemory;
    this.fn = inst.exports['points'] as PointsFn;
    this.heap = (inst.exports['heap'] as { value: number }).value;
    this.ensure(MIN_CAPACITY);
  }

  /** ensure makes room for n points; it may replace `times` and `values` (re-read them after). */
  ensure(n: number): void {
    if (n <= this.cap) return;
    let cap = Math.max(MIN_CAPACITY, this.cap);
    while (cap < n) cap *= 2;
    const need = this.heap + cap * BYTES_PER_POINT + SLACK;
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / PAGE));
    const buf = this.memory.buffer;
    this.cap = cap;
    this.tOff = this.heap;
    this.vOff = this.tOff + cap * 8;
    this.cacheOff = this.vOff + cap * 8;
    this.outOff = this.cacheOff + cap * 32;
    this.u8 = new Uint8Array(buf);
    this.times = new Float64Array(buf, this.tOff, cap);
    this.values = new Float64Array(buf, this.vOff, cap);
    // An empty slot holds NaN, which equals no timestamp (the slots moved: start over).
    new Float64Array(buf, this.cacheOff, cap * 4).fill(NaN);
  }

  /**
   * render renders the first n entries of `times` and `values` (filled by the caller after
   * ensure(n)) and returns the bytes: a view of the module's memory, valid until the next call.
   * Undefined when a timestamp is not an integral number of milliseconds, or its magnitude reaches
   * 2^43 s (year ~280000): the caller prints that series in JavaScript.
   */
  render(n: number): Uint8Array | undefined {
    const len = this.fn(n, this.tOff, this.vOff, this.cacheOff, this.outOff);
    return len < 0 ? undefined : this.u8.subarray(this.outOff, this.outOff + len);
  }

  /**
   * write copies the first n timestamps (ms) and values in and renders them (see render: the
   * result is valid until the next call; undefined means "print this series in JavaScript").
   */
  write(t: ArrayLike<number>, v: ArrayLike<number>, n: number): Uint8Array | undefined {
    this.ensure(n);
    const times = this.times;
    const values = this.values;
    if (t.length === n) times.set(t);
    else for (let k = 0; k < n; k++) times[k] = t[k]!;
    if (v.length === n) values.set(v);
    else for (let k = 0; k < n; k++) values[k] = v[k]!;
    return this.render(n);
  }
}
