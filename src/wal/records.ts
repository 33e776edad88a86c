/**
 * WAL record codec: the bytes inside a WAL record (what src/wal/segment.ts frames into pages).
 * The first byte is the record type. Layouts follow the Prometheus TSDB WAL records for series
 * and float samples; see docs/format/wal.md.
 */
import { ErrorCode, SluiceError } from '../errors.js';

/** RecordType lists the record types (the first byte of a record). */
export const RecordType = {
  /** Series: ref and label set of each new series. */
  Series: 1,
  /** Samples: float samples, delta-encoded against the first one. */
  Samples: 2,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** WalCorruptionError reports bytes of the WAL that cannot be decoded; `offset` is where. */
export class WalCorruptionError extends SluiceError {
  readonly segment: number;
  readonly offset: number;
  readonly reason: string;
  constructor(reason: string, segment: number, offset: number) {
    super(ErrorCode.Internal, `WAL corruption in segment ${segment} at byte ${offset}: ${reason}`);
    this.segment = segment;
    this.offset = offset;
    this.reason = reason;
    this.name = 'WalCorruptionError';
  }
}

const TWO32 = 4294967296;
/** Deltas are kept below 2^52 in magnitude so that their zigzag form is a safe integer. */
const MAX_DELTA = 2 ** 52;

/**
 * RecordEncoder builds records in one reusable, growable buffer. Start a record with
 * `beginSeries` or `beginSamples`, add entries, then `finish()` returns a view of the bytes that
 * stays valid until the next `begin*` call (copy it, or log it, before that).
 */
export class RecordEncoder {
  private buf: Buffer;
  private pos = 0;
  private first = true;
  private firstRef = 0;
  private firstT = 0;

  constructor(initialCapacity: number = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(64, initialCapacity));
  }

  /** beginSeries starts a Series record. */
  beginSeries(): void {
    this.pos = 0;
    this.buf[this.pos++] = RecordType.Series;
  }

  /**
   * series adds one series: `ref` (a non-negative safe integer) and its labels as a flat list
   * `[name0, value0, name1, value1, ...]`.
   */
  series(ref: number, labels: readonly string[]): void {
    const n = labels.length >>> 1;
    this.ensure(8 + 10);
    this.putRef(ref);
    this.putUvarint(n);
    for (let i = 0; i < 2 * n; i++) this.putString(labels[i]!);
  }

  /** beginSamples starts a Samples record; the first sample added sets the base ref and time. */
  beginSamples(): void {
    this.pos = 0;
    this.buf[this.pos++] = RecordType.Samples;
    this.first = true;
  }

  /**
   * sample adds one float sample: series `ref`, timestamp `t` in ms (a safe integer, may be
   * negative) and the value's IEEE-754 bits as two 32-bit words `lo`, `hi`, so that NaN payloads
   * such as the stale marker (hi 0x7ff00000, lo 0x00000002) survive unchanged.
   */
  sample(ref: number, t: number, lo: number, hi: number): void {
    this.ensure(16 + 10 + 10 + 8);
    const b = this.buf;
    if (this.first) {
      this.first = false;
      this.firstRef = ref;
      this.firstT = t;
      this.putRef(ref);
      const th = Math.floor(t / TWO32);
      b.writeUInt32BE(th >>> 0, this.pos);
      b.writeUInt32BE((t - th * TWO32) >>> 0, this.pos + 4);
      this.pos += 8;
    }
    this.putVarint(ref - this.firstRef);
    this.putVarint(t - this.firstT);
    let p = this.pos;
    b[p++] = hi >>> 24;
    b[p++] = hi >>> 16;
    b[p++] = hi >>> 8;
    b[p++] = hi;
    b[p++] = lo >>> 24;
    b[p++] = lo >>> 16;
    b[p++] = lo >>> 8;
    b[p++] = lo;
    this.pos = p;
  }

  /** finish returns the record built since the last `begin*` (a view of the internal buffer). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private putRef(ref: number): void {
    if (!(ref >= 0 && ref <= Number.MAX_SAFE_INTEGER && Math.floor(ref) === ref)) {
      throw new SluiceError(ErrorCode.Internal, `series ref ${ref} is not a non-negative safe integer`);
    }
    const hi = Math.floor(ref / TWO32);
    this.buf.writeUInt32BE(hi, this.pos);
    this.buf.writeUInt32BE(ref - hi * TWO32, this.pos + 4);
    this.pos += 8;
  }

  private putUvarint(v: number): void {
    const b = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      if (v < 0x80000000) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      } else {
        b[p++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
    }
    b[p++] = v;
    this.pos = p;
  }

  private putVarint(d: number): void {
    if (!(d > -MAX_DELTA && d < MAX_DELTA)) {
      throw new SluiceError(ErrorCode.Internal, `delta ${d} does not fit a WAL samples record`);
    }
    this.putUvarint(d >= 0 ? d * 2 : -d * 2 - 1);
  }

  private putString(s: string): void {
    const n = s.length;
    // Short strings: copy ASCII by hand (cheaper than an encoder call); fall back on any non-ASCII.
    if (n < 128) {
      this.ensure(1 + n);
      const b = this.buf;
      const p0 = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p0 + i] = c;
      }
      if (i === n) {
        b[this.pos] = n;
        this.pos = p0 + n;
        return;
      }
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.ensure(5 + len);
    this.putUvarint(len);
    this.buf.write(s, this.pos, len, 'utf8');
    this.pos += len;
  }
}

/**
 * SampleBatch holds decoded samples in reusable typed arrays: entry i is series `refs[i]`, time
 * `ts[i]` (ms) and value bits `lo[i]`, `hi[i]`. `length` is the number of valid entries; arrays
 * grow as needed and are replaced then, so re-read the fields after each decode.
 */
export class SampleBatch {
  refs: Float64Array;
  ts: Float64Array;
  lo: Uint32Array;
  hi: Uint32Array;
  length = 0;

  constructor(capacity: number = 1024) {
    this.refs = new Float64Array(capacity);
    this.ts = new Float64Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.hi = new Uint32Array(capacity);
  }

  /** grow makes room for at least `n` entries, keeping the first `length`. */
  grow(n: number): void {
    if (n <= this.refs.length) return;
    const cap = Math.max(n, this.refs.length * 2);
    const refs = new Float64Array(cap);
    const ts = new Float64Array(cap);
    const lo = new Uint32Array(cap);
    const hi = new Uint32Array(cap);
    refs.set(this.refs.subarray(0, this.length));
    ts.set(this.ts.subarray(0, this.length));
    lo.set(this.lo.subarray(0, this.length));
    hi.set(this.hi.subarray(0, this.length));
    this.refs = refs;
    this.ts = ts;
    this.lo = lo;
    this.hi = hi;
  }
}

/** recordType returns the type byte of a record (0 for an empty one). */
export function recordType(rec: Uint8Array): number {
  return rec.length > 0 ? rec[0]! : 0;
}

/** bad throws the decode error of a malformed record at byte `off`. */
function bad(reason: string, off: number): never {
  throw new WalCorruptionError(reason, -1, off);
}

function readRef(rec: Uint8Array, p: number): number {
  const hi = ((rec[p]! << 24) | (rec[p + 1]! << 16) | (rec[p + 2]! << 8) | rec[p + 3]!) >>> 0;
  const lo = ((rec[p + 4]! << 24) | (rec[p + 5]! << 16) | (rec[p + 6]! << 8) | rec[p + 7]!) >>> 0;
  if (hi >= 0x200000) bad('series ref above 2^53', p);
  return hi * TWO32 + lo;
}

/** cur is the read position shared by the readers of one decode call (single-threaded). */
let cur = 0;

function readUvarint(rec: Uint8Array, end: number): number {
  let p = cur;
  let v = 0;
  let mul = 1;
  for (;;) {
    if (p >= end) bad('truncated varint', p);
    const b = rec[p++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 128;
    if (mul > 2 ** 56) bad('varint too long', p);
  }
  cur = p;
  return v;
}

function readVarint(rec: Uint8Array, end: number): number {
  // Fast path: one or two bytes, the common case for sample deltas.
  const p = cur;
  if (p + 1 < end) {
    const b0 = rec[p]!;
    if (b0 < 0x80) {
      cur = p + 1;
      return (b0 >>> 1) ^ -(b0 & 1);
    }
    const b1 = rec[p + 1]!;
    if (b1 < 0x80) {
      cur = p + 2;
      const z = (b0 & 0x7f) | (b1 << 7);
      return (z >>> 1) ^ -(z & 1);
    }
  }
  const z = readUvarint(rec, end);
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readString(rec: Uint8Array, end: number): string {
  const n = readUvarint(rec, end);
  const p = cur;
  if (p + n > end) bad('string runs past the record', p);
  cur = p + n;
  if (n <= 32) {
    let s = '';
    for (let i = p; i < p + n; i++) {
      const c = rec[i]!;
      if (c >= 0x80) return decodeUtf8(rec, p, p + n);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decodeUtf8(rec, p, p + n);
}

function decodeUtf8(rec: Uint8Array, s: number, e: number): string {
  try {
    return utf8.decode(rec.subarray(s, e));
  } catch {
    return bad('invalid UTF-8 in label', s);
  }
}

/**
 * decodeSeries calls `onSeries(ref, labels)` for each series of a Series record; `labels` is a
 * fresh flat `[name, value, ...]` array the callback may keep. Throws WalCorruptionError (segment
 * -1, offset within the record) on malformed bytes.
 */
export function decodeSeries(rec: Uint8Array, onSeries: (ref: number, labels: string[]) => void): void {
  if (rec[0] !== RecordType.Series) bad(`not a series record (type ${rec[0]})`, 0);
  const end = rec.length;
  let p = 1;
  while (p < end) {
    if (p + 8 > end) bad('truncated series ref', p);
    const ref = readRef(rec, p);
    cur = p + 8;
    const n = readUvarint(rec, end);
    if (n > end) bad('label count exceeds record', p);
    const labels = new Array<string>(2 * n);
    for (let i = 0; i < 2 * n; i++) labels[i] = readString(rec, end);
    p = cur;
    onSeries(ref, labels);
  }
}

/**
 * decodeSamples decodes a Samples record into `out` (appending after `out.length` when `append`
 * is true, else replacing) and returns the number of samples in the record. Throws
 * WalCorruptionError on malformed bytes.
 */
export function decodeSamples(rec: Uint8Array, out: SampleBatch, append: boolean = false): number {
  if (rec[0] !== RecordType.Samples) bad(`not a samples record (type ${rec[0]})`, 0);
  const end = rec.length;
  if (!append) out.length = 0;
  if (end === 1) return 0;
  if (end < 17) bad('truncated samples header', 1);
  const baseRef = readRef(rec, 1);
  const th = (rec[9]! << 24) | (rec[10]! << 16) | (rec[11]! << 8) | rec[12]!;
  const tl = ((rec[13]! << 24) | (rec[14]! << 16) | (rec[15]! << 8) | rec[16]!) >>> 0;
  const baseT = th * TWO32 + tl;
  // Each sample takes at least 1 + 1 + 8 bytes: size the arrays once for the worst case.
  const start = out.length;
  out.grow(start + Math.floor((end - 17) / 10));
  const { refs, ts, lo, hi } = out;
  let i = start;
  cur = 17;
  while (cur < end) {
    refs[i] = baseRef + readVarint(rec, end);
    ts[i] = baseT + readVarint(rec, end);
    const p = cur;
    if (p + 8 > end) bad('truncated sample value', p);
    hi[i] = (rec[p]! << 24) | (rec[p + 1]! << 16) | (rec[p + 2]! << 8) | rec[p + 3]!;
    lo[i] = (rec[p + 4]! << 24) | (rec[p + 5]! << 16) | (rec[p + 6]! << 8) | rec[p + 7]!;
    cur = p + 8;
    i++;
  }
  out.length = i;
  return i - start;
}
