/**
 * Encbuf: a growable byte buffer with the field encoders of the TSDB block formats (big-endian
 * fixed-width integers, Go uvarints and zigzag varints, length-prefixed UTF-8 strings).
 * Used by the index writer (series entries, postings offset table) and, through FileWriter, for
 * every byte written to block files. Touches nothing outside its own buffer.
 *
 * Integers are JS numbers: exact up to 2^53, which covers millisecond timestamps, file offsets
 * and chunk references (segment << 32 | offset).
 */

const TWO32 = 4294967296;

/** uvarintSize returns how many bytes the uvarint encoding of `v` (0 ≤ v < 2^53) takes. */
export function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** zigzag maps a signed integer to the unsigned one Go's binary.PutVarint encodes. */
export function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

/** Encbuf is an append-only byte buffer that grows by doubling. */
export class Encbuf {
  /** b is the backing buffer; bytes [0, len) are the content. Replaced when it grows. */
  b: Buffer;
  /** len is the number of bytes written. */
  len = 0;

  constructor(capacity = 4096) {
    this.b = Buffer.allocUnsafe(capacity);
  }

  /** reset empties the buffer (keeps the capacity). */
  reset(): void {
    this.len = 0;
  }

  /** view returns the content (a view, valid until the next write or reset). */
  view(): Uint8Array {
    return this.b.subarray(0, this.len);
  }

  /** ensure makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.len + n;
    if (need <= this.b.length) return;
    let cap = this.b.length * 2;
    while (cap < need) cap *= 2;
    const nb = Buffer.allocUnsafe(cap);
    this.b.copy(nb, 0, 0, this.len);
    this.b = nb;
  }

  /** u8 appends one byte. */
  u8(x: number): void {
    this.ensure(1);
    this.b[this.len++] = x;
  }

  /** u32 appends a big-endian 32-bit unsigned integer. */
  u32(x: number): void {
    this.ensure(4);
    this.b.writeUInt32BE(x >>> 0, this.len);
    this.len += 4;
  }

  /** u64 appends a big-endian 64-bit unsigned integer (0 ≤ x < 2^53). */
  u64(x: number): void {
    this.ensure(8);
    this.b.writeUInt32BE(Math.floor(x / TWO32), this.len);
    this.b.writeUInt32BE(x % TWO32, this.len + 4);
    this.len += 8;
  }

  /** uvarint appends a Go uvarint (0 ≤ x < 2^53). */
  uvarint(x: number): void {
    this.ensure(10);
    const b = this.b;
    let p = this.len;
    if (x < 0x80000000) {
      // Int32 fast path (lengths, symbol refs, small deltas).
      while (x >= 0x80) {
        b[p++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
    } else {
      while (x >= 0x80) {
        b[p++] = (x % 128) | 0x80;
        x = Math.floor(x / 128);
      }
    }
    b[p++] = x;
    this.len = p;
  }

  /** varint appends a Go zigzag varint (|x| < 2^52). */
  varint(x: number): void {
    this.uvarint(zigzag(x));
  }

  /** bytes appends `src[off, off + n)` (all of it by default). */
  bytes(src: Uint8Array, off = 0, n = src.length - off): void {
    this.ensure(n);
    this.b.set(off === 0 && n === src.length ? src : src.subarray(off, off + n), this.len);
    this.len += n;
  }

  /** zeros appends `n` zero bytes. */
  zeros(n: number): void {
    this.ensure(n);
    this.b.fill(0, this.len, this.len + n);
    this.len += n;
  }

  /** utf8 appends the UTF-8 bytes of `s` (exactly `byteLen` of them, as Buffer.byteLength gives). */
  utf8(s: string, byteLen: number): void {
    this.ensure(byteLen);
    this.len += this.b.write(s, this.len, byteLen, 'utf8');
  }

  /** uvarintStr appends a string as uvarint byte length followed by its UTF-8 bytes. */
  uvarintStr(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.uvarint(n);
    this.utf8(s, n);
  }
}
