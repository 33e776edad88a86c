/**
 * Prometheus-compatible XOR chunk encoding (chunkenc.EncXOR = 1), byte for byte, so that chunks
 * built in the head can be written into TSDB blocks unchanged. See docs/format/chunks-xor.md.
 *
 * Layout: `num_samples <u16 big-endian>` followed by a bit stream (MSB first):
 *   sample 0:  t as zigzag varint, v as 64 raw bits
 *   sample 1:  t - t0 as uvarint, v xor-encoded
 *   sample n:  delta-of-delta of t in a prefix code, v xor-encoded
 *
 * Memory model: the head keeps millions of series, so neither the appender state nor the chunk
 * bytes are JS objects. The appender state is XOR_STATE_BYTES bytes at a caller-chosen offset of
 * a caller-owned buffer (typically a SharedArrayBuffer arena), accessed through a Float64Array
 * and an Int32Array view of that same buffer; the chunk bytes are a caller-owned byte region.
 * Appending allocates nothing.
 *
 * Timestamps are integer milliseconds held in JS doubles and must lie within ±2^53 (as must the
 * differences between them); values are passed as their two 32-bit words so NaN payloads (the
 * Prometheus stale marker 0x7ff0000000000002) survive bit-exactly.
 *
 * Concurrency: one thread appends; any thread may iterate the bytes at the same time. The append
 * writes the sample's bits first and the count header last (with Atomics, low byte before high
 * byte), so a reader that loads the header (high byte first) never sees a count larger than the
 * number of complete samples in the bytes. Bits are only ever added below earlier bits.
 */
import { BitReader, bitWrite, bitWrite64 } from './bstream.js';

/** XOR_STATE_BYTES is the size of one appender state (a multiple of 8). */
export const XOR_STATE_BYTES = 40;

/** XOR_MAX_SAMPLES is the largest sample count the u16 header can hold. */
export const XOR_MAX_SAMPLES = 0xffff;

// State layout, relative to the state's byte offset `so`:
//   bytes  0..7   f64  t       last timestamp
//   bytes  8..15  f64  tDelta  last timestamp delta
//   bytes 16..19  i32  vLo     last value, low word
//   bytes 20..23  i32  vHi     last value, high word
//   bytes 24..27  i32  leading current value window: leading zeros, or 0xff = no window yet
//   bytes 28..31  i32  trailing current value window: trailing zeros
//   bytes 32..35  i32  bits    bits written after the 2-byte header
//   bytes 36..39  i32  num     samples appended
const F_T = 0;
const F_TDELTA = 1;
const I_VLO = 4;
const I_VHI = 5;
const I_LEAD = 6;
const I_TRAIL = 7;
const I_BITS = 8;
const I_NUM = 9;

/** NO_WINDOW marks "no (leading, trailing) window chosen yet", as Prometheus does. */
const NO_WINDOW = 0xff;

const TWO32 = 4294967296;

// Scratch for varints (first two samples only). Module level: allocated once.
const varintBuf = new Uint8Array(10);
let varintLen = 0;

/**
 * putUvarint64 encodes the u64 `hi:lo` as a Go binary.PutUvarint into varintBuf (varintLen bytes).
 */
function putUvarint64(hi: number, lo: number): void {
  hi >>>= 0;
  lo >>>= 0;
  let n = 0;
  while (hi !== 0 || lo >= 0x80) {
    varintBuf[n++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  varintBuf[n++] = lo;
  varintLen = n;
}

// Value-encoding plan, filled by planValue and consumed by writeValue (module level so the hot
// path returns several results without allocating).
let planMode = 0; // 0: same value, 1: reuse window, 2: new window, 3: already written
let planLead = 0;
let planTrail = 0;

/**
 * planValue decides how the xor `xh:xl` of the new and previous value words is encoded given the
 * current window in the state at i32 index `ii`, and returns the number of bits it takes.
 */
function planValue(i32: Int32Array, ii: number, xh: number, xl: number): number {
  if ((xh | xl) === 0) {
    planMode = 0;
    return 1;
  }
  let lead = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
  // The 5-bit field cannot hold 32+; Prometheus clamps to 31 (and then sends a few zero bits).
  if (lead > 31) lead = 31;
  // Count trailing zeros: x & -x isolates the lowest set bit.
  const trail = xl !== 0 ? 31 - Math.clz32(xl & -xl) : 63 - Math.clz32(xh & -xh);
  const pLead = i32[ii + I_LEAD];
  if (pLead !== NO_WINDOW && lead >= pLead && trail >= i32[ii + I_TRAIL]) {
    planMode = 1;
    return 2 + 64 - pLead - i32[ii + I_TRAIL];
  }
  planMode = 2;
  planLead = lead;
  planTrail = trail;
  return 2 + 5 + 6 + 64 - lead - trail;
}

/**
 * writeValue writes the value as planned by planValue and updates the window in the state.
 * Control bits and payload go out in one bitWrite when they fit in 32 bits (the common case).
 */
function writeValue(d: Uint8Array, base: number, pos: number, i32: Int32Array, ii: number, xh: number, xl: number): number {
  if (planMode === 0) return bitWrite(d, base, pos, 0, 1);
  let lead: number;
  let trail: number;
  let ctl: number; // control bits
  let ctlBits: number;
  if (planMode === 1) {
    // '10': reuse the window.
    lead = i32[ii + I_LEAD];
    trail = i32[ii + I_TRAIL];
    ctl = 0b10;
    ctlBits = 2;
  } else {
    // '11', 5 bits of leading zeros, 6 bits of significant-bit count (64 is sent as 0).
    lead = planLead;
    trail = planTrail;
    i32[ii + I_LEAD] = lead;
    i32[ii + I_TRAIL] = trail;
    ctl = (0b11 << 11) | (lead << 6) | ((64 - lead - trail) & 63);
    ctlBits = 13;
  }
  const sig = 64 - lead - trail;
  // Shift the xor right by `trail` (JS shifts are mod 32, so the three cases are explicit).
  let sh: number;
  let sl: number;
  if (trail === 0) {
    sh = xh;
    sl = xl;
  } else if (trail < 32) {
    sl = (xl >>> trail) | (xh << (32 - trail));
    sh = xh >>> trail;
  } else {
    sl = xh >>> (trail - 32);
    sh = 0;
  }
  if (ctlBits + sig <= 32) {
    // sig <= 30 here, so the payload is all in `sl` and fits below the control bits.
    return bitWrite(d, base, pos, (ctl << sig) | (sl & ((1 << sig) - 1)), ctlBits + sig);
  }
  pos = bitWrite(d, base, pos, ctl, ctlBits);
  return bitWrite64(d, base, pos, sh, sl, sig);
}

/**
 * setCount publishes the sample count `n` (previous count + 1): low byte first, then the high
 * byte, which only changes when the low byte wraps to 0 (and is set on the first sample, since
 * the region may hold garbage). Both are sequentially consistent atomic stores, so a reader that
 * loads the count (high byte first) with Atomics also sees every bit written before it, and never
 * a count above the samples present: at a wrap the intermediate state is (old high, 0).
 * Skipping the unchanged high byte halves the atomic stores, which cost ~10 ns each.
 */
function setCount(data: Uint8Array, off: number, n: number): void {
  const low = n & 0xff;
  Atomics.store(data, off + 1, low);
  if (low === 0 || n === 1) Atomics.store(data, off, n >>> 8);
}

/** xorStateInit resets the appender state at byte offset `so` (8-aligned) for an empty chunk. */
export function xorStateInit(f64: Float64Array, i32: Int32Array, so: number): void {
  const fi = so >>> 3;
  const ii = so >>> 2;
  f64[fi + F_T] = 0;
  f64[fi + F_TDELTA] = 0;
  i32[ii + I_VLO] = 0;
  i32[ii + I_VHI] = 0;
  i32[ii + I_LEAD] = NO_WINDOW;
  i32[ii + I_TRAIL] = 0;
  i32[ii + I_BITS] = 0;
  i32[ii + I_NUM] = 0;
}

/**
 * xorChunkInit writes the empty-chunk header (count 0) at `data[off]`. xorAppend writes the header
 * itself, so this is only needed when a region may be read before its first sample is appended.
 */
export function xorChunkInit(data: Uint8Array, off: number): void {
  Atomics.store(data, off + 1, 0);
  Atomics.store(data, off, 0);
}

/**
 * xorAppend appends (t, v) to the chunk whose bytes start at `data[off]` (2-byte count header,
 * then the bit stream), with `v` given as its exact 64 bits (`vLo`, `vHi` u32 words).
 * Returns false, changing nothing, if the result would not fit in `cap` bytes: the caller then
 * copies xorByteLength() bytes to a bigger region and retries there. Timestamps must not
 * decrease (the caller rejects out-of-order samples; a decreasing t would still round-trip but
 * encodes badly). Throws RangeError when the chunk already holds XOR_MAX_SAMPLES samples.
 */
export function xorAppend(
  f64: Float64Array,
  i32: Int32Array,
  so: number,
  data: Uint8Array,
  off: number,
  cap: number,
  t: number,
  vLo: number,
  vHi: number,
): boolean {
  const fi = so >>> 3;
  const ii = so >>> 2;
  const num = i32[ii + I_NUM];
  let pos = i32[ii + I_BITS];
  const limit = (cap - 2) * 8;
  const base = off + 2;

  if (num >= 2) {
    // Hot path.
    if (num >= XOR_MAX_SAMPLES) throw new RangeError('xor chunk is full (65535 samples)');
    const delta = t - f64[fi + F_T];
    const dod = delta - f64[fi + F_TDELTA];
    // Prometheus' bitRange(x, n): -(2^(n-1) - 1) <= x <= 2^(n-1).
    let tBits: number;
    if (dod === 0) tBits = 1;
    else if (dod >= -8191 && dod <= 8192) tBits = 16;
    else if (dod >= -65535 && dod <= 65536) tBits = 20;
    else if (dod >= -524287 && dod <= 524288) tBits = 24;
    else tBits = 68;
    const xh = vHi ^ i32[ii + I_VHI];
    const xl = vLo ^ i32[ii + I_VLO];
    const vBits = planValue(i32, ii, xh, xl);
    if (pos + tBits + vBits > limit) return false;

    // Prefix and payload go out in one write where they fit in 32 bits; `dod & mask` is the
    // two's-complement field because ToInt32 wraps negative integers.
    switch (tBits) {
      case 1:
        if (planMode === 0) {
          // Same interval, same value: '0' '0', the most common sample of all.
          pos = bitWrite(data, base, pos, 0, 2);
          planMode = 3; // written
        } else {
          pos = bitWrite(data, base, pos, 0, 1);
        }
        break;
      case 16:
        pos = bitWrite(data, base, pos, (0b10 << 14) | (dod & 0x3fff), 16);
        break;
      case 20:
        pos = bitWrite(data, base, pos, (0b110 << 17) | (dod & 0x1ffff), 20);
        break;
      case 24:
        pos = bitWrite(data, base, pos, (0b1110 << 20) | (dod & 0xfffff), 24);
        break;
      default: {
        pos = bitWrite(data, base, pos, 0b1111, 4);
        // 64-bit two's complement of an integer |dod| <= 2^53: floor division gives the signed
        // high word and a non-negative low word.
        const hi = Math.floor(dod / TWO32);
        pos = bitWrite64(data, base, pos, hi | 0, (dod - hi * TWO32) >>> 0, 64);
      }
    }
    if (planMode !== 3) pos = writeValue(data, base, pos, i32, ii, xh, xl);
    f64[fi + F_T] = t;
    f64[fi + F_TDELTA] = delta;
    i32[ii + I_VLO] = vLo;
    i32[ii + I_VHI] = vHi;
    i32[ii + I_BITS] = pos;
    i32[ii + I_NUM] = num + 1;
    setCount(data, off, num + 1);
    return true;
  }

  if (num === 0) {
    // Zigzag (Go binary.PutVarint) on the 64-bit two's complement of t, in 32-bit halves.
    const hi = Math.floor(t / TWO32) | 0;
    const lo = (t - Math.floor(t / TWO32) * TWO32) >>> 0;
    const sign = hi >> 31;
    putUvarint64(((hi << 1) | (lo >>> 31)) ^ sign, (lo << 1) ^ sign);
    if (pos + varintLen * 8 + 64 > limit) return false;
    for (let k = 0; k < varintLen; k++) pos = bitWrite(data, base, pos, varintBuf[k], 8);
    pos = bitWrite64(data, base, pos, vHi, vLo, 64);
    f64[fi + F_T] = t;
    f64[fi + F_TDELTA] = 0;
    i32[ii + I_VLO] = vLo;
    i32[ii + I_VHI] = vHi;
    i32[ii + I_BITS] = pos;
    i32[ii + I_NUM] = 1;
    setCount(data, off, 1);
    return true;
  }

  // num === 1: t - t0 as a uvarint of its 64-bit two's complement (Go: uint64(t - a.t)).
  const delta = t - f64[fi + F_T];
  const dhi = Math.floor(delta / TWO32);
  putUvarint64(dhi | 0, (delta - dhi * TWO32) >>> 0);
  const xh = vHi ^ i32[ii + I_VHI];
  const xl = vLo ^ i32[ii + I_VLO];
  const vBits = planValue(i32, ii, xh, xl);
  if (pos + varintLen * 8 + vBits > limit) return false;
  for (let k = 0; k < varintLen; k++) pos = bitWrite(data, base, pos, varintBuf[k], 8);
  pos = writeValue(data, base, pos, i32, ii, xh, xl);
  f64[fi + F_T] = t;
  f64[fi + F_TDELTA] = delta;
  i32[ii + I_VLO] = vLo;
  i32[ii + I_VHI] = vHi;
  i32[ii + I_BITS] = pos;
  i32[ii + I_NUM] = 2;
  setCount(data, off, 2);
  return true;
}

// Float64 <-> words scratch. The word order inside a Float64Array element follows the platform's
// endianness, detected once.
const f64Scratch = new Float64Array(1);
const u32Scratch = new Uint32Array(f64Scratch.buffer);
const LO = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
const HI = 1 - LO;

/**
 * xorAppendFloat is xorAppend for a JS number value. Convenience for tests and tools: a NaN that
 * went through JS arithmetic may not keep its payload, so ingestion passes the wire words to
 * xorAppend instead.
 */
export function xorAppendFloat(
  f64: Float64Array,
  i32: Int32Array,
  so: number,
  data: Uint8Array,
  off: number,
  cap: number,
  t: number,
  v: number,
): boolean {
  f64Scratch[0] = v;
  return xorAppend(f64, i32, so, data, off, cap, t, u32Scratch[LO], u32Scratch[HI]);
}

/** xorNumSamples returns the number of samples appended through the state at `so`. */
export function xorNumSamples(i32: Int32Array, so: number): number {
  return i32[(so >>> 2) + I_NUM];
}

/** xorByteLength returns the chunk's length in bytes: the 2-byte header plus the bit stream rounded up to whole bytes. */
export function xorByteLength(i32: Int32Array, so: number): number {
  return 2 + ((i32[(so >>> 2) + I_BITS] + 7) >>> 3);
}

/** xorLastTimestamp returns the timestamp of the last appended sample (meaningless when empty). */
export function xorLastTimestamp(f64: Float64Array, so: number): number {
  return f64[(so >>> 3) + F_T];
}

/** xorLastValueLo / xorLastValueHi return the two words of the last appended value. */
export function xorLastValueLo(i32: Int32Array, so: number): number {
  return i32[(so >>> 2) + I_VLO];
}
export function xorLastValueHi(i32: Int32Array, so: number): number {
  return i32[(so >>> 2) + I_VHI];
}

/**
 * XorIterator decodes a chunk's bytes. It reads only the bytes (never an appender state), so it
 * may run in another thread while the chunk is appended to: it decodes the number of samples
 * the count header held when reset() read it. Reusable: reset() allocates nothing.
 */
export class XorIterator {
  /** t is the current sample's timestamp (ms). */
  t = 0;
  /** vLo is the low 32 bits of the current sample's value (u32). */
  vLo = 0;
  /** vHi is the high 32 bits of the current sample's value (u32). */
  vHi = 0;
  /** err is set when the bytes end before the announced samples do (a corrupt chunk). */
  err = false;
  /** numTotal is the sample count read from the header at reset(). */
  numTotal = 0;
  /** numRead is how many samples next() has produced. */
  numRead = 0;

  /** tDelta is the last timestamp delta (decoder state). */
  tDelta = 0;
  /** leading is the current value window's leading zero count (decoder state). */
  leading = 0;
  /** trailing is the current value window's trailing zero count (decoder state). */
  trailing = 0;
  /** windowSet records whether any sample chose a window (decoder state, used to resume appending). */
  windowSet = false;
  /** start is the byte index where the bit stream starts. */
  start = 0;

  private readonly br = new BitReader();

  /** reset points the iterator at the chunk of `len` bytes at `data[off]`. */
  reset(data: Uint8Array, off: number, len: number): void {
    // High byte first: the appender stores the low byte first (see module comment).
    this.numTotal = len >= 2 ? (Atomics.load(data, off) << 8) | Atomics.load(data, off + 1) : 0;
    this.start = off + 2;
    this.br.reset(data, off + 2, off + len);
    this.numRead = 0;
    this.t = 0;
    this.vLo = 0;
    this.vHi = 0;
    this.tDelta = 0;
    this.leading = 0;
    this.trailing = 0;
    this.windowSet = false;
    this.err = false;
  }

  /** v returns the current value as a JS number. */
  get v(): number {
    u32Scratch[LO] = this.vLo;
    u32Scratch[HI] = this.vHi;
    return f64Scratch[0];
  }

  /** bitsRead returns how many bits of the stream the samples produced so far occupy. */
  bitsRead(): number {
    return this.br.consumed(this.start);
  }

  /** next advances to the next sample; false at the end or on a corrupt chunk (see err). */
  next(): boolean {
    if (this.numRead >= this.numTotal || this.err) return false;
    const br = this.br;
    const n = this.numRead;
    if (n >= 2) {
      // Delta-of-delta prefix: up to four bits, stopping at the first 0.
      let dod = 0;
      if (br.read(1) !== 0) {
        let sz: number;
        if (br.read(1) === 0) sz = 14;
        else if (br.read(1) === 0) sz = 17;
        else if (br.read(1) === 0) sz = 20;
        else sz = 64;
        if (sz === 64) {
          const hi = br.read32(32) | 0;
          dod = hi * TWO32 + br.read32(32);
        } else {
          dod = br.read(sz);
          // Fields are two's complement with the asymmetric range of bitRange: values above
          // 2^(sz-1) are negative.
          if (dod > 1 << (sz - 1)) dod -= 1 << sz;
        }
      }
      this.tDelta += dod;
      this.t += this.tDelta;
      this.readValue();
    } else if (n === 0) {
      this.readUvarint();
      // Undo zigzag: n = (u >>> 1) ^ -(u & 1), on 32-bit halves.
      const neg = -(uvLo & 1);
      const lo = ((uvLo >>> 1) | (uvHi << 31)) ^ neg;
      const hi = (uvHi >>> 1) ^ neg;
      this.t = (hi | 0) * TWO32 + (lo >>> 0);
      this.vHi = br.read32(32);
      this.vLo = br.read32(32);
    } else {
      this.readUvarint();
      this.tDelta = (uvHi | 0) * TWO32 + (uvLo >>> 0);
      this.t += this.tDelta;
      this.readValue();
    }
    if (this.err || br.overrun()) {
      this.err = true;
      return false;
    }
    this.numRead = n + 1;
    return true;
  }

  /** readUvarint reads a Go uvarint into uvHi:uvLo. */
  private readUvarint(): void {
    const br = this.br;
    let lo = 0;
    let hi = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      const b = br.read(8);
      const x = b & 0x7f;
      if (shift < 32) {
        lo |= x << shift;
        if (shift > 25) hi |= x >>> (32 - shift);
      } else {
        hi |= x << (shift - 32);
      }
      if (b < 0x80) break;
    }
    uvLo = lo >>> 0;
    uvHi = hi >>> 0;
  }

  /** readValue decodes one xor-encoded value into vHi:vLo. */
  private readValue(): void {
    const br = this.br;
    if (br.read(1) === 0) return;
    if (br.read(1) !== 0) {
      // New window: 5 bits of leading zeros, 6 bits of significant-bit count (0 means 64).
      const lead = br.read(5);
      let sig = br.read(6);
      if (sig === 0) sig = 64;
      this.leading = lead;
      this.trailing = 64 - lead - sig;
      this.windowSet = true;
      if (this.trailing < 0) {
        // leading + sig > 64 is impossible from a valid encoder.
        this.err = true;
        this.trailing = 0;
        return;
      }
    }
    const trail = this.trailing;
    const sig = 64 - this.leading - trail;
    let h = 0;
    let l: number;
    if (sig > 32) {
      h = br.read32(sig - 32);
      l = br.read32(32);
    } else {
      l = br.read32(sig);
    }
    // Shift the significant bits left by `trail` into place, then xor into the previous value.
    if (trail >= 32) {
      h = l << (trail - 32);
      l = 0;
    } else if (trail > 0) {
      h = (h << trail) | (l >>> (32 - trail));
      l <<= trail;
    }
    this.vHi = (this.vHi ^ h) >>> 0;
    this.vLo = (this.vLo ^ l) >>> 0;
  }
}

// readUvarint's result (module level: no allocation).
let uvLo = 0;
let uvHi = 0;

const loadIt = new XorIterator();

/**
 * xorStateFromChunk rebuilds the appender state at `so` from an existing chunk's `len` bytes at
 * `data[off]` (e.g. after a restart), so that further appends produce exactly the bytes an
 * uninterrupted appender would have. Returns false if the chunk is corrupt (state undefined).
 */
export function xorStateFromChunk(f64: Float64Array, i32: Int32Array, so: number, data: Uint8Array, off: number, len: number): boolean {
  const it = loadIt;
  it.reset(data, off, len);
  while (it.next()) {
    // decode to the end
  }
  if (it.err) return false;
  const fi = so >>> 3;
  const ii = so >>> 2;
  f64[fi + F_T] = it.t;
  f64[fi + F_TDELTA] = it.tDelta;
  i32[ii + I_VLO] = it.vLo;
  i32[ii + I_VHI] = it.vHi;
  // An appender that never chose a window still has none; Prometheus' Appender() would start
  // from (0, 0) here instead, which is valid but not what the original appender would write.
  i32[ii + I_LEAD] = it.windowSet ? it.leading : NO_WINDOW;
  i32[ii + I_TRAIL] = it.windowSet ? it.trailing : 0;
  i32[ii + I_BITS] = it.numTotal === 0 ? 0 : it.bitsRead();
  i32[ii + I_NUM] = it.numTotal;
  return true;
}
