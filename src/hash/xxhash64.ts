/**
 * XXH64 (xxHash, 64-bit variant) in plain JS without BigInt and without allocating per call.
 *
 * Every 64-bit quantity is a pair of int32 words (hi, lo), and the code is shaped so that V8's
 * optimizing compiler keeps all of it in untagged 32-bit registers:
 *
 * - Multiplications are always by one of the five XXH64 primes P. The low 64 bits of x * P are
 *   lo = imul(xl, Pl) and hi = mulHi(xl, Pl) + imul(xh, Pl) + imul(xl, Ph) (mod 2^32), where
 *   mulHi is the high word of the 32x32-bit product xl * Pl. mulHi splits both operands into
 *   16-bit halves (whose products fit in 32 bits) and adds up the partial products' upper parts
 *   plus the carry out of the middle column. (A float version, (a*b - lo) / 2^32 rounded, is
 *   exact too but measured ~2x slower: int/float conversions sit on the critical path.)
 * - Sums are truncated pairwise, `(a + b) | 0`, which compiles to a plain 32-bit add; a longer
 *   chain like `(a + b + c + d) | 0` can fall back to float adds.
 * - 64-bit values pass between phases through an Int32Array (`state`), never through module
 *   `let`s (untyped, and a u32 above 2^31 stored there would box a HeapNumber).
 * - The work is split into small functions (stripes, converge, tail8, finish) so that each stays
 *   within TurboFan's inlining budget for its mulHi calls: a call that is not inlined returns
 *   an untyped value and turns the adds after it into float adds. The 32-byte stripe loop,
 *   where long inputs spend their time, is written out by hand for its four lanes (four
 *   independent dependency chains the CPU can overlap), and its loop variables are seeded with
 *   `| 0` so they are typed int32 from the start.
 *
 * Measured on a 150-byte input (loadtest/micro/hash.bench.ts) this runs at roughly a third of
 * the speed of xxhash-wasm's h64Raw, without BigInt, wasm memory copies or allocation.
 */

/** xxh64Result holds the last xxh64() result as [lo, hi] u32 words. */
export const xxh64Result = new Uint32Array(2);

// Primes as (hi, lo) int32 words, and the 16-bit halves (A low, B high) of each low word.
const P1H = 0x9e3779b1 | 0;
const P1L = 0x85ebca87 | 0;
const P1A = 0xca87;
const P1B = 0x85eb;
const P2H = 0xc2b2ae3d | 0;
const P2L = 0x27d4eb4f | 0;
const P2A = 0xeb4f;
const P2B = 0x27d4;
const P3H = 0x165667b1 | 0;
const P3L = 0x9e3779f9 | 0;
const P3A = 0x79f9;
const P3B = 0x9e37;
const P4H = 0x85ebca77 | 0;
const P4L = 0xc2b2ae63 | 0;
const P5H = 0x27d4eb2f | 0;
const P5L = 0x165667c5 | 0;
const P5A = 0x67c5;
const P5B = 0x1656;
// P1 + P2 and -P1 modulo 2^64, for the lane initialisation.
const P12H = 0x60ea27ee | 0;
const P12L = 0xadc0b5d6 | 0;
const NP1H = 0x61c8864e | 0;
const NP1L = 0x7a143579 | 0;

/** state passes 64-bit values between the phases: [hi, lo] of the accumulator, then the four lanes. */
const state = new Int32Array(10);

/**
 * mulHi returns the high word (int32 bits) of the exact product of the u32 bits of `x` and the
 * u32 constant whose 16-bit halves are `b` (high) and `a` (low).
 */
function mulHi(x: number, a: number, b: number): number {
  const x0 = x & 0xffff;
  const x1 = x >>> 16;
  const m01 = Math.imul(x0, b);
  const m10 = Math.imul(x1, a);
  const mid = ((Math.imul(x0, a) >>> 16) + (m01 & 0xffff) + (m10 & 0xffff)) | 0;
  const hi = (Math.imul(x1, b) + (m01 >>> 16)) | 0;
  return (hi + (m10 >>> 16) + (mid >>> 16)) | 0;
}

/** carry returns 1 if the 32-bit sum `sum` of `b` and another word wrapped around, else 0. */
function carry(sum: number, b: number): number {
  return (sum >>> 0) < (b >>> 0) ? 1 : 0;
}

/**
 * stripes runs XXH64's 32-byte stripe loop from `p` while a whole stripe remains before `end`
 * (at least one must), leaves the four lanes in state[2..9], and returns the position after
 * the last stripe.
 */
function stripes(buf: Uint8Array, p: number, end: number, seedLo: number, seedHi: number): number {
  // Lanes start at seed + P1 + P2, seed + P2, seed, seed - P1.
  let al = (seedLo + P12L) | 0;
  let ah = (((seedHi + P12H) | 0) + carry(al, P12L)) | 0;
  let bl = (seedLo + P2L) | 0;
  let bh = (((seedHi + P2H) | 0) + carry(bl, P2L)) | 0;
  let cl = seedLo | 0;
  let ch = seedHi | 0;
  let dl = (seedLo + NP1L) | 0;
  let dh = (((seedHi + NP1H) | 0) + carry(dl, NP1L)) | 0;
  const limit = end - 32;
  // Scratch for the written-out rounds: round(acc, in) = rotl(acc + in * P2, 31) * P1.
  let iL = 0;
  let iH = 0;
  let x0 = 0;
  let x1 = 0;
  let m01 = 0;
  let m10 = 0;
  let mid = 0;
  let hi = 0;
  let lo = 0;
  let l = 0;
  let h = 0;
  let nh = 0;
  let nl = 0;
  do {
    // lane a: a = round(a, input)
    iL = buf[p + 0]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
    iH = buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24);
    x0 = iL & 0xffff;
    x1 = iL >>> 16;
    m01 = Math.imul(x0, P2B);
    m10 = Math.imul(x1, P2A);
    mid = ((Math.imul(x0, P2A) >>> 16) + (m01 & 0xffff) + (m10 & 0xffff)) | 0;
    hi = (Math.imul(x1, P2B) + (m01 >>> 16)) | 0;
    hi = (hi + (m10 >>> 16) + (mid >>> 16)) | 0;
    hi = (hi + Math.imul(iH, P2L)) | 0;
    hi = (hi + Math.imul(iL, P2H)) | 0;
    lo = Math.imul(iL, P2L);
    l = (al + lo) | 0;
    h = (ah + hi) | 0;
    h = (h + ((l >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
    nh = (h << 31) | (l >>> 1);
    nl = (l << 31) | (h >>> 1);
    x0 = nl & 0xffff;
    x1 = nl >>> 16;
    m01 = Math.imul(x0, P1B);
    m10 = Math.imul(x1, P1A);
    mid = ((Math.imul(x0, P1A) >>> 16) + (m01 & 0xffff) + (m10 & 0xffff)) | 0;
    hi = (Math.imul(x1, P1B) + (m01 >>> 16)) | 0;
    hi = (hi + (m10 >>> 16) + (mid >>> 16)) | 0;
    hi = (hi + Math.imul(nh, P1L)) | 0;
    ah = (hi + Math.imul(nl, P1H)) | 0;
    al = Math.imul(nl, P1L);

    // lane b: b = round(b, input)
    iL = buf[p + 8]! | (buf[p + 9]! << 8) | (buf[p + 10]! << 16) | (buf[p + 11]! << 24);
    iH = buf[p + 12]! | (buf[p + 13]! << 8) | (buf[p + 14]! << 16) | (buf[p + 15]! << 24);
    x0 = iL & 0xffff;
    x1 = iL >>> 16;
    m01 = Math.imul(x0, P2B);
    m10 = Math.imul(x1, P2A);
    mid = ((Math.imul(x0, P2A) >>> 16) + (m01 & 0xffff) + (m10 & 0xffff)) | 0;
    hi = (Math.imul(x1, P2B) + (m01 >>> 16)) | 0;
    hi = (hi + (m10 >>> 16) + (mid >>> 16)) | 0;
    hi = (hi + Math.imul(iH, P2L)) | 0;
    hi = (hi + Math.imul(iL, P2H)) | 0;
    lo = Math.imul(iL, P2L);
    l = (bl + lo) | 0;
    h = (bh + hi) | 0;
    h = (h + ((l >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
    nh = (h << 31) | (l >>> 1);
    nl = (l << 31) | (h >>> 1);
    x0 = nl & 0xffff;
    x1 = nl >>> 16;
    m01 = Math.imul(x0, P1B);
    m10 = Math.imul(x1, P1A);
    mid = ((Math.imul(x0, P1A) >>> 16) + (m01 & 0xffff) + (m10 & 0xffff)) | 0;
    hi = (Math.imul(x1, P1B) + (m01 >>> 16)) | 0;
    hi = (hi + (m10 >>> 16) + (mid >>> 16)) | 0;
    hi = (hi + Math.imul(nh, P1L)) | 0;
    bh = (hi + Math.imul(nl, P1H)) | 0;
    bl = Math.imul(nl, P1L);

    // lane c: c = round(c, input)
    iL = buf[p + 16]! | (buf[p + 17]! << 8) | (buf[p + 18]! << 16) | (buf[p + 19]! << 24);
    iH = buf[p + 20]! | (buf[p + 21]! << 8) | (buf[p + 22]! << 16) | (buf[p + 23]! << 24);
    x0 = iL & 0xffff;
    x1 = iL >>> 16;
    m01 = Math.imul(x0, P2B);
    m10 = Math.imul(x1, P2A);
    mid = ((Math.imul(x0, P2A) >>> 16) + (m01 & 0xffff) + (m10 & 0xffff)) | 0;
    hi = (Math.imul(x1, P2B) + (m01 >>> 16)) | 0;
    hi = (hi + (m10 >>> 16) + (mid >>> 16)) | 0;
    hi = (hi + Math.imul(iH, P2L)) | 0;
    hi = (hi + Math.imul(iL, P2H)) | 0;
    lo = Math.imul(iL, P2L);
    l = (cl + lo) | 0;
    h = (ch + hi) | 0;
    h = (h + ((l >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
    nh = (h << 31) | (l >>> 1);
    nl = (l << 31) | (h >>> 1);
    x0 = nl & 0xffff;
    x1 = nl >>> 16;
    m01 = Math.imul(x0, P1B);
    m10 = Math.imul(x1, P1A);
    mid = ((Math.imul(x0, P1A) >>> 16) + (m01 & 0xffff) + (m10 & 0xffff)) | 0;
    hi = (Math.imul(x1, P1B) + (m01 >>> 16)) | 0;
    hi = (hi + (m10 >>> 16) + (mid >>> 16)) | 0;
    hi = (hi + Math.imul(nh, P1L)) | 0;
    ch = (hi + Math.imul(nl, P1H)) | 0;
    cl = Math.imul(nl, P1L);

    // lane d: d = round(d, input)
    iL = buf[p + 24]! | (buf[p + 25]! << 8) | (buf[p + 26]! << 16) | (buf[p + 27]! << 24);
    iH = buf[p + 28]! | (buf[p + 29]! << 8) | (buf[p + 30]! << 16) | (buf[p + 31]! << 24);
    x0 = iL & 0xffff;
    x1 = iL >>> 16;
    m01 = Math.imul(x0, P2B);
    m10 = Math.imul(x1, P2A);
    mid = ((Math.imul(x0, P2A) >>> 16) + (m01 & 0xffff) + (m10 & 0xffff)) | 0;
    hi = (Math.imul(x1, P2B) + (m01 >>> 16)) | 0;
    hi = (hi + (m10 >>> 16) + (mid >>> 16)) | 0;
    hi = (hi + Math.imul(iH, P2L)) | 0;
    hi = (hi + Math.imul(iL, P2H)) | 0;
    lo = Math.imul(iL, P2L);
    l = (dl + lo) | 0;
    h = (dh + hi) | 0;
    h = (h + ((l >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
    nh = (h << 31) | (l >>> 1);
    nl = (l << 31) | (h >>> 1);
    x0 = nl & 0xffff;
    x1 = nl >>> 16;
    m01 = Math.imul(x0, P1B);
    m10 = Math.imul(x1, P1A);
    mid = ((Math.imul(x0, P1A) >>> 16) + (m01 & 0xffff) + (m10 & 0xffff)) | 0;
    hi = (Math.imul(x1, P1B) + (m01 >>> 16)) | 0;
    hi = (hi + (m10 >>> 16) + (mid >>> 16)) | 0;
    hi = (hi + Math.imul(nh, P1L)) | 0;
    dh = (hi + Math.imul(nl, P1H)) | 0;
    dl = Math.imul(nl, P1L);

    p += 32;
  } while (p <= limit);
  state[2] = ah;
  state[3] = al;
  state[4] = bh;
  state[5] = bl;
  state[6] = ch;
  state[7] = cl;
  state[8] = dh;
  state[9] = dl;
  return p;
}

/** converge folds the four lanes in state[2..9] into the accumulator state[0..1]. */
function converge(): void {
  const ah = state[2]!;
  const al = state[3]!;
  const bh = state[4]!;
  const bl = state[5]!;
  const ch = state[6]!;
  const cl = state[7]!;
  const dh = state[8]!;
  const dl = state[9]!;
  // h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18)
  let hh = (ah << 1) | (al >>> 31);
  let hl = (al << 1) | (ah >>> 31);
  let th = (bh << 7) | (bl >>> 25);
  let tl = (bl << 7) | (bh >>> 25);
  hl = (hl + tl) | 0;
  hh = (((hh + th) | 0) + carry(hl, tl)) | 0;
  th = (ch << 12) | (cl >>> 20);
  tl = (cl << 12) | (ch >>> 20);
  hl = (hl + tl) | 0;
  hh = (((hh + th) | 0) + carry(hl, tl)) | 0;
  th = (dh << 18) | (dl >>> 14);
  tl = (dl << 18) | (dh >>> 14);
  hl = (hl + tl) | 0;
  hh = (((hh + th) | 0) + carry(hl, tl)) | 0;
  // Merge each lane v: h = (h ^ round(0, v)) * P1 + P4.
  for (let j = 2; j < 10; j += 2) {
    const vh = state[j]!;
    const vl = state[j + 1]!;
    // k = round(0, v) = rotl(v * P2, 31) * P1
    let mh = (mulHi(vl, P2A, P2B) + Math.imul(vh, P2L)) | 0;
    mh = (mh + Math.imul(vl, P2H)) | 0;
    const ml = Math.imul(vl, P2L);
    const rh = (mh << 31) | (ml >>> 1);
    const rl = (ml << 31) | (mh >>> 1);
    let kh = (mulHi(rl, P1A, P1B) + Math.imul(rh, P1L)) | 0;
    kh = (kh + Math.imul(rl, P1H)) | 0;
    const xh = hh ^ kh;
    const xl = hl ^ Math.imul(rl, P1L);
    let ph = (mulHi(xl, P1A, P1B) + Math.imul(xh, P1L)) | 0;
    ph = (ph + Math.imul(xl, P1H)) | 0;
    hl = (Math.imul(xl, P1L) + P4L) | 0;
    hh = (((ph + P4H) | 0) + carry(hl, P4L)) | 0;
  }
  state[0] = hh;
  state[1] = hl;
}

/**
 * tail8 consumes the whole 8-byte lanes from `p` (fewer than 32 bytes remain) into the
 * accumulator state[0..1] and returns the position after them. (Separate from finish() so that
 * each function stays within TurboFan's inlining budget for its mulHi calls.)
 */
function tail8(buf: Uint8Array, p: number, end: number): number {
  let hh = state[0]!;
  let hl = state[1]!;
  // h = rotl(h ^ round(0, k), 27) * P1 + P4
  while (p + 8 <= end) {
    const kl = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
    const kh = buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24);
    let mh = (mulHi(kl, P2A, P2B) + Math.imul(kh, P2L)) | 0;
    mh = (mh + Math.imul(kl, P2H)) | 0;
    const ml = Math.imul(kl, P2L);
    const rh = (mh << 31) | (ml >>> 1);
    const rl = (ml << 31) | (mh >>> 1);
    let qh = (mulHi(rl, P1A, P1B) + Math.imul(rh, P1L)) | 0;
    qh = (qh + Math.imul(rl, P1H)) | 0;
    const xh = hh ^ qh;
    const xl = hl ^ Math.imul(rl, P1L);
    const yh = (xh << 27) | (xl >>> 5);
    const yl = (xl << 27) | (xh >>> 5);
    let ph = (mulHi(yl, P1A, P1B) + Math.imul(yh, P1L)) | 0;
    ph = (ph + Math.imul(yl, P1H)) | 0;
    hl = (Math.imul(yl, P1L) + P4L) | 0;
    hh = (((ph + P4H) | 0) + carry(hl, P4L)) | 0;
    p += 8;
  }
  state[0] = hh;
  state[1] = hl;
  return p;
}

/**
 * finish consumes the bytes from `p` to `end` (fewer than 8) into the accumulator state[0..1]
 * and applies the final avalanche, leaving the hash in state[0..1].
 */
function finish(buf: Uint8Array, p: number, end: number): void {
  let hh = state[0]!;
  let hl = state[1]!;
  // A 4-byte lane: h = rotl(h ^ (u32 * P1), 23) * P2 + P3.
  if (p + 4 <= end) {
    const k = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
    const xh = hh ^ ((mulHi(k, P1A, P1B) + Math.imul(k, P1H)) | 0);
    const xl = hl ^ Math.imul(k, P1L);
    const yh = (xh << 23) | (xl >>> 9);
    const yl = (xl << 23) | (xh >>> 9);
    let ph = (mulHi(yl, P2A, P2B) + Math.imul(yh, P2L)) | 0;
    ph = (ph + Math.imul(yl, P2H)) | 0;
    hl = (Math.imul(yl, P2L) + P3L) | 0;
    hh = (((ph + P3H) | 0) + carry(hl, P3L)) | 0;
    p += 4;
  }
  // Single bytes: h = rotl(h ^ (byte * P5), 11) * P1.
  while (p < end) {
    const b = buf[p]!;
    const xh = hh ^ ((mulHi(b, P5A, P5B) + Math.imul(b, P5H)) | 0);
    const xl = hl ^ Math.imul(b, P5L);
    const yh = (xh << 11) | (xl >>> 21);
    const yl = (xl << 11) | (xh >>> 21);
    hh = (mulHi(yl, P1A, P1B) + Math.imul(yh, P1L)) | 0;
    hh = (hh + Math.imul(yl, P1H)) | 0;
    hl = Math.imul(yl, P1L);
    p++;
  }
  // Avalanche: h ^= h >>> 33; h *= P2; h ^= h >>> 29; h *= P3; h ^= h >>> 32.
  hl ^= hh >>> 1;
  let th = (mulHi(hl, P2A, P2B) + Math.imul(hh, P2L)) | 0;
  th = (th + Math.imul(hl, P2H)) | 0;
  const tl = Math.imul(hl, P2L);
  hl = tl ^ ((tl >>> 29) | (th << 3));
  hh = th ^ (th >>> 29);
  th = (mulHi(hl, P3A, P3B) + Math.imul(hh, P3L)) | 0;
  th = (th + Math.imul(hl, P3H)) | 0;
  state[0] = th;
  state[1] = Math.imul(hl, P3L) ^ th;
}

/**
 * xxh64 hashes `len` bytes of `buf` from `off` with the 64-bit seed `seedHi:seedLo` and returns
 * the low 32 bits of the hash (u32); both words are left in xxh64Result ([lo, hi]).
 */
export function xxh64(buf: Uint8Array, off: number, len: number, seedLo = 0, seedHi = 0): number {
  let p = off;
  const end = off + len;
  if (len >= 32) {
    p = stripes(buf, p, end, seedLo | 0, seedHi | 0);
    converge();
  } else {
    // h = seed + P5
    const l = ((seedLo | 0) + P5L) | 0;
    state[0] = (((seedHi + P5H) | 0) + carry(l, P5L)) | 0;
    state[1] = l;
  }
  // h += len (len < 2^53: split into words).
  const lenLo = len | 0;
  const l = (state[1]! + lenLo) | 0;
  state[0] = (((state[0]! + ((len / 4294967296) | 0)) | 0) + carry(l, lenLo)) | 0;
  state[1] = l;
  if (p + 8 <= end) p = tail8(buf, p, end);
  finish(buf, p, end);
  const lo = state[1]!;
  xxh64Result[0] = lo;
  xxh64Result[1] = state[0]!;
  return lo >>> 0;
}

/**
 * xxh64Key hashes like xxh64 with seed 0 and returns the top 53 bits of the hash as a
 * non-negative integer (hi * 2^21 + (lo >>> 11)): exact in a double, usable as a Map key.
 */
export function xxh64Key(buf: Uint8Array, off: number, len: number): number {
  const lo = xxh64(buf, off, len, 0, 0);
  return xxh64Result[1]! * 2097152 + (lo >>> 11);
}

/** xxh64BigInt hashes all of `buf` with `seed` and returns the 64-bit hash as a bigint (tests, tools). */
export function xxh64BigInt(buf: Uint8Array, seed: bigint = 0n): bigint {
  const s = BigInt.asUintN(64, seed);
  xxh64(buf, 0, buf.length, Number(s & 0xffffffffn), Number(s >> 32n));
  return (BigInt(xxh64Result[1]!) << 32n) | BigInt(xxh64Result[0]!);
}
