/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of WAL fragments.
 * Table-driven, slicing-by-8: eight 256-entry tables let the main loop fold eight input bytes
 * per step with eight lookups, instead of one lookup per byte.
 */

/** CRC32C_POLY is the reflected Castagnoli polynomial. */
export const CRC32C_POLY = 0x82f63b78;

/**
 * TABLES holds the eight slicing tables back to back: table k (k = 0..7) at [k * 256, k * 256 + 256).
 * Table 0 is the classic byte-at-a-time table; table k advances a byte through k more zero bytes.
 */
const TABLES: Int32Array = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CRC32C_POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/**
 * crc32c returns the CRC-32C of `buf[off, off + len)` as an unsigned 32-bit number. `init` is the
 * CRC of the data before this range (0 for none), so a checksum can be computed in pieces:
 * `crc32c(b, 5, 4, crc32c(b, 0, 5)) === crc32c(b, 0, 9)`.
 */
export function crc32c(buf: Uint8Array, off: number, len: number, init: number = 0): number {
  const t = TABLES;
  let crc = ~init | 0;
  let i = off;
  const end = off + len;
  // Byte-wise until the rest is a multiple of 8 (keeps the main loop free of tail checks).
  const head = len & 7;
  for (const stop = off + head; i < stop; i++) crc = t[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  for (; i < end; i += 8) {
    const lo = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    crc =
      t[0x700 + (lo & 0xff)]! ^
      t[0x600 + ((lo >>> 8) & 0xff)]! ^
      t[0x500 + ((lo >>> 16) & 0xff)]! ^
      t[0x400 + (lo >>> 24)]! ^
      t[0x300 + buf[i + 4]!]! ^
      t[0x200 + buf[i + 5]!]! ^
      t[0x100 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!;
  }
  return ~crc >>> 0;
}

/** crc32cBytewise is the one-table reference implementation, kept for tests and benchmarks. */
export function crc32cBytewise(buf: Uint8Array, off: number, len: number, init: number = 0): number {
  const t = TABLES;
  let crc = ~init | 0;
  for (let i = off, end = off + len; i < end; i++) crc = t[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
