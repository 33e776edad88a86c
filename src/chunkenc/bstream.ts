/**
 * Bit streams over caller-owned bytes, most significant bit first, as used by the Prometheus
 * chunk encodings. Writing is a pair of free functions over (bytes, base, bit position) so that
 * the position can live in a shared state arena instead of a JS object; reading is a small
 * reusable class (readers are short-lived and per thread).
 *
 * Neither side allocates per call.
 */

/**
 * bitWrite writes the low `n` bits (1..32) of `x`, most significant first, at bit position `pos`
 * of the stream that starts at byte `base` of `d`, and returns `pos + n`.
 *
 * A byte the stream enters for the first time is assigned rather than OR-ed, so the region does
 * not need to be zeroed beforehand (arena slots are reused) and the unused low bits of the last
 * byte are always 0. A byte that already holds earlier bits only gains bits below them, so a
 * concurrent reader that reads it sees the earlier bits unchanged.
 * The caller checks capacity; this function does not.
 */
export function bitWrite(d: Uint8Array, base: number, pos: number, x: number, n: number): number {
  // Drop bits above n so the shifts below never leak them into neighbouring bits.
  if (n < 32) x &= (1 << n) - 1;
  let i = base + (pos >>> 3);
  const used = pos & 7;
  let left = n;
  if (used !== 0) {
    const free = 8 - used;
    if (left <= free) {
      // Fits in the partly written byte.
      d[i] = d[i] | (x << (free - left));
      return pos + n;
    }
    left -= free;
    // The top `free` of the remaining bits complete the current byte.
    d[i] = d[i] | (x >>> left);
    i++;
  }
  // Byte aligned from here: whole bytes, then a final partial byte. Uint8Array stores keep only
  // the low 8 bits, which is exactly the byte we want in each case.
  while (left >= 8) {
    left -= 8;
    d[i++] = x >>> left;
  }
  if (left > 0) d[i] = x << (8 - left);
  return pos + n;
}

/**
 * bitWrite64 writes the low `n` bits (1..64) of the 64-bit value `hi:lo` (two u32/i32 words),
 * most significant first; see bitWrite.
 */
export function bitWrite64(d: Uint8Array, base: number, pos: number, hi: number, lo: number, n: number): number {
  if (n > 32) {
    pos = bitWrite(d, base, pos, hi, n - 32);
    return bitWrite(d, base, pos, lo, 32);
  }
  return bitWrite(d, base, pos, lo, n);
}

const EMPTY = new Uint8Array(0);

/**
 * BitReader reads bits most significant first from a byte range. It keeps up to 32 upcoming bits
 * left-aligned in an int32 register and refills a byte at a time, which keeps every operation in
 * V8's int32 fast path. Bits past the end of the range read as 0 and are counted, so a decoder
 * can check `overrun()` once per record instead of bounds-checking every read.
 */
export class BitReader {
  /** d is the byte array being read. */
  d: Uint8Array = EMPTY;
  /** i is the index of the next byte to load into the register. */
  i = 0;
  /** end is the index one past the last readable byte. */
  end = 0;
  /** buf holds the upcoming bits, left-aligned (bit 31 is the next bit). */
  buf = 0;
  /** cnt is how many bits of `buf` are valid. */
  cnt = 0;
  /** over counts zero bits loaded from past `end`. */
  over = 0;

  /** reset starts reading at byte `start`; bytes at `end` and beyond are not read. */
  reset(d: Uint8Array, start: number, end: number): void {
    this.d = d;
    this.i = start;
    this.end = end;
    this.buf = 0;
    this.cnt = 0;
    this.over = 0;
  }

  /** fill loads bytes until at least 25 bits are buffered. */
  fill(): void {
    let buf = this.buf;
    let cnt = this.cnt;
    let i = this.i;
    const d = this.d;
    const end = this.end;
    while (cnt <= 24) {
      let b = 0;
      if (i < end) b = d[i];
      else this.over += 8;
      i++;
      buf |= b << (24 - cnt);
      cnt += 8;
    }
    this.buf = buf;
    this.cnt = cnt;
    this.i = i;
  }

  /** read returns the next `n` bits (1..24) as a non-negative integer. */
  read(n: number): number {
    if (this.cnt < n) this.fill();
    const v = this.buf >>> (32 - n);
    this.buf <<= n;
    this.cnt -= n;
    return v;
  }

  /** read32 returns the next `n` bits (1..32) as a non-negative integer (a u32). */
  read32(n: number): number {
    if (n <= 24) return this.read(n);
    const hi = this.read(n - 16);
    return ((hi << 16) | this.read(16)) >>> 0;
  }

  /** overrun reports whether more bits were consumed than the range holds. */
  overrun(): boolean {
    return this.over > this.cnt;
  }

  /** consumed returns how many bits have been read since byte `start` (the reset start). */
  consumed(start: number): number {
    return (this.i - start) * 8 - this.cnt;
  }
}
