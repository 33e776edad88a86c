/**
 * Hand-written protobuf encoder of remote-write 1.0 WriteRequests (prometheus.WriteRequest,
 * src/proto/remote.proto) for forwarding series to peers. Series arrive as label blobs
 * (src/model/labels.ts: name ‖ 0xFF ‖ value ‖ 0xFF …) and samples as the decoder's arrays
 * (timestamps as doubles, values as their two u32 words, so NaN payloads such as the stale marker
 * travel bit for bit); nothing is decoded to strings.
 *
 * Wire layout written (field numbers from remote.proto):
 *
 *   WriteRequest  = { 0x0A len TimeSeries }*
 *   TimeSeries    = { 0x0A len Label }* { 0x12 len Sample }*
 *   Label         = 0x0A len name  0x12 len value
 *   Sample        = 0x09 value(8 bytes LE)  0x10 timestamp(varint, int64 two's complement)
 *
 * Lengths are computed before bytes are written (one extra scan of each blob), so every varint is
 * minimal. One buffer per encoder, grown geometrically and reused; nothing is allocated per series
 * or per sample. Pure; touches nothing.
 */
import { LABEL_SEP } from '../model/labels.js';

const TWO32 = 4294967296;

/** WriteRequestEncoder builds one WriteRequest at a time into its own buffer. Not thread-safe. */
export class WriteRequestEncoder {
  private buf: Uint8Array;
  private len = 0;
  /** Per label of the series being added: name start, name length, value length. */
  private labels: Int32Array = new Int32Array(3 * 64);
  /** seriesCount is the number of series added since the last reset(). */
  seriesCount = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = new Uint8Array(initialBytes);
  }

  /** reset starts a new, empty request (the previous finish() result becomes invalid). */
  reset(): void {
    this.len = 0;
    this.seriesCount = 0;
  }

  /**
   * addSeries appends one TimeSeries: labels from `blob[off, off + len)` (a label blob; labels are
   * written in blob order) and samples s0 ≤ k < s1 with timestamp `ts[k]` (integer ms, |t| < 2^53)
   * and value bits `vw[2k]` (low word), `vw[2k + 1]` (high word).
   */
  addSeries(blob: Uint8Array, off: number, len: number, ts: Float64Array, vw: Uint32Array, s0: number, s1: number): void {
    const end = off + len;
    // Pass 1: find the labels (name start, name length, value length) and size everything.
    let lab = this.labels;
    let nLabels = 0;
    let body = 0;
    let p = off;
    while (p < end) {
      const nameStart = p;
      while (blob[p] !== LABEL_SEP) p++;
      const nl = p - nameStart;
      const valueStart = ++p;
      while (blob[p] !== LABEL_SEP) p++;
      const vl = p - valueStart;
      p++;
      if (3 * nLabels + 3 > lab.length) lab = this.growLabels();
      lab[3 * nLabels] = nameStart;
      lab[3 * nLabels + 1] = nl;
      lab[3 * nLabels + 2] = vl;
      nLabels++;
      const m = 2 + varintLen(nl) + nl + varintLen(vl) + vl;
      body += 1 + varintLen(m) + m;
    }
    for (let k = s0; k < s1; k++) body += 12 + int64Len(ts[k]!); // tag, length, 10 + timestamp bytes
    this.ensure(1 + varintLen(body) + body);

    // Pass 2: bytes.
    const b = this.buf;
    let q = this.len;
    b[q++] = 0x0a;
    q = writeVarint(b, q, body);
    for (let i = 0; i < nLabels; i++) {
      const nameStart = lab[3 * i]!, nl = lab[3 * i + 1]!, vl = lab[3 * i + 2]!;
      const valueStart = nameStart + nl + 1;
      b[q++] = 0x0a;
      q = writeVarint(b, q, 2 + varintLen(nl) + nl + varintLen(vl) + vl);
      b[q++] = 0x0a;
      q = writeVarint(b, q, nl);
      q = copy(b, q, blob, nameStart, nl);
      b[q++] = 0x12;
      q = writeVarint(b, q, vl);
      q = copy(b, q, blob, valueStart, vl);
    }
    for (let k = s0; k < s1; k++) {
      const t = ts[k]!;
      b[q++] = 0x12;
      b[q++] = 10 + int64Len(t);
      b[q++] = 0x09;
      const lo = vw[2 * k]!, hi = vw[2 * k + 1]!;
      b[q++] = lo & 0xff; b[q++] = (lo >>> 8) & 0xff; b[q++] = (lo >>> 16) & 0xff; b[q++] = lo >>> 24;
      b[q++] = hi & 0xff; b[q++] = (hi >>> 8) & 0xff; b[q++] = (hi >>> 16) & 0xff; b[q++] = hi >>> 24;
      b[q++] = 0x10;
      q = writeInt64(b, q, t);
    }
    this.len = q;
    this.seriesCount++;
  }

  /** growLabels doubles the label scratch array. */
  private growLabels(): Int32Array {
    const next = new Int32Array(this.labels.length * 2);
    next.set(this.labels);
    this.labels = next;
    return next;
  }

  /** finish returns the encoded request: a view of the encoder's buffer, valid until reset(). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** ensure makes room for `extra` more bytes (doubling; the bytes so far are kept). */
  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
}

/** copy copies `n` bytes of `src` from `from` into `b` at `q`; returns the new position. */
function copy(b: Uint8Array, q: number, src: Uint8Array, from: number, n: number): number {
  if (n <= 48) {
    for (let i = 0; i < n; i++) b[q + i] = src[from + i]!;
  } else {
    b.set(src.subarray(from, from + n), q);
  }
  return q + n;
}

/** varintLen returns the bytes of the varint of a non-negative integer below 2^53. */
function varintLen(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  if (v < 0x800000000) return 5;
  if (v < 0x40000000000) return 6;
  if (v < 0x2000000000000) return 7;
  return 8;
}

/**
 * writeVarint writes a non-negative integer below 2^53 as a varint at `q`; returns the new
 * position. `v & 0x7f` is exact for any integer double (ToInt32 keeps the low 32 bits), and
 * dividing by 128 is exact, so large values need no float modulo.
 */
function writeVarint(b: Uint8Array, q: number, v: number): number {
  while (v > 0x7fffffff) {
    b[q++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  while (v >= 0x80) {
    b[q++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[q++] = v;
  return q;
}

/** int64Len returns the varint bytes of an int64 (negative values take 10, two's complement). */
function int64Len(t: number): number {
  return t < 0 ? 10 : varintLen(t);
}

/** writeInt64 writes an integer |t| < 2^53 as a protobuf int64 varint. */
function writeInt64(b: Uint8Array, q: number, t: number): number {
  if (t >= 0) return writeVarint(b, q, t);
  // Two's complement over 64 bits, as (hi, lo) u32 words.
  const hiSigned = Math.floor(t / TWO32);
  let lo = t - hiSigned * TWO32;
  let hi = hiSigned >>> 0;
  for (let i = 0; i < 9; i++) {
    b[q++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  b[q++] = lo & 0x01;
  return q;
}
