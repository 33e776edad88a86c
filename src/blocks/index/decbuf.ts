/**
 * Decbuf: a cursor over bytes read from a block file, with the field decoders matching Encbuf,
 * and BlockCorruptionError, the error every block reader throws for bytes that do not parse or
 * whose CRC32 does not match. Pure decoding: no I/O, no state outside the cursor.
 */
import { ErrorCode, SluiceError } from '../../errors.js';
import { crc32c } from '../../wal/crc32c.js';

const TWO32 = 4294967296;
const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * BlockCorruptionError reports a block file whose bytes are wrong: a checksum mismatch, a bad
 * magic number or version, or a structure that runs past its section. `file` names the file
 * (relative to the block, e.g. `index` or `chunks/000001`) and `offset` the byte where the bad
 * structure starts.
 */
export class BlockCorruptionError extends SluiceError {
  /** file is the block-relative path of the corrupt file. */
  readonly file: string;
  /** offset is the byte offset of the corrupt structure in that file. */
  readonly offset: number;

  constructor(file: string, offset: number, message: string) {
    super(ErrorCode.Internal, `corrupt block file ${file} at byte ${offset}: ${message}`);
    this.file = file;
    this.offset = offset;
    this.name = 'BlockCorruptionError';
  }
}

/**
 * peekUvarint reads a uvarint of at most `maxLen` bytes at buf[p] without a Decbuf, for readers
 * that decode records out of a buffer that may end mid-record. Returns the value and sets
 * `peekEnd` to the byte after it; `peekEnd` is -1 when the buffer ends first, -2 when `maxLen`
 * bytes carried no terminator (corrupt).
 */
export let peekEnd = 0;
export function peekUvarint(buf: Uint8Array, p: number, maxLen: number): number {
  let v = 0;
  let mul = 1;
  let q = p;
  for (let i = 0; i < maxLen; i++) {
    if (q >= buf.length) { peekEnd = -1; return v; }
    const c = buf[q++]!;
    v += (c & 0x7f) * mul;
    if (c < 0x80) { peekEnd = q; return v; }
    mul *= 128;
  }
  peekEnd = -2;
  return v;
}

/**
 * checkCrc verifies that the big-endian CRC32-C stored at `b[off + len]` matches the bytes
 * `b[off, off + len)`; throws BlockCorruptionError naming `what` otherwise.
 */
export function checkCrc(b: Uint8Array, off: number, len: number, file: string, fileOffset: number, what: string): void {
  if (off + len + 4 > b.length) throw new BlockCorruptionError(file, fileOffset, `${what}: truncated (needs ${len + 4} bytes)`);
  const want = ((b[off + len]! << 24) | (b[off + len + 1]! << 16) | (b[off + len + 2]! << 8) | b[off + len + 3]!) >>> 0;
  const got = crc32c(b, off, len);
  if (got !== want) {
    throw new BlockCorruptionError(file, fileOffset, `${what}: checksum mismatch (stored ${hex(want)}, computed ${hex(got)})`);
  }
}

function hex(x: number): string {
  return `0x${x.toString(16).padStart(8, '0')}`;
}

/**
 * Decbuf reads fields from `b[pos, end)`. A read past `end` throws BlockCorruptionError with the
 * file name and the file offset of the read (`base` is the file offset of `b[0]`).
 */
export class Decbuf {
  /** b is the byte array being read. */
  b: Uint8Array;
  /** pos is the index of the next byte to read. */
  pos: number;
  /** end is the index one past the last readable byte. */
  end: number;
  /** base is the file offset of b[0], for error messages. */
  base: number;
  /** file names the file, for error messages. */
  file: string;

  constructor(b: Uint8Array, pos: number, end: number, file: string, base = 0) {
    this.b = b;
    this.pos = pos;
    this.end = end;
    this.file = file;
    this.base = base;
  }

  /** left returns the number of unread bytes. */
  left(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) {
      throw new BlockCorruptionError(this.file, this.base + this.pos, `${what} runs past the end of its section`);
    }
  }

  /** u8 reads one byte. */
  u8(): number {
    this.need(1, 'byte');
    return this.b[this.pos++]!;
  }

  /** u32 reads a big-endian unsigned 32-bit integer. */
  u32(): number {
    this.need(4, 'u32');
    const b = this.b;
    const p = this.pos;
    this.pos = p + 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** u64 reads a big-endian unsigned 64-bit integer (exact below 2^53). */
  u64(): number {
    const hi = this.u32();
    return hi * TWO32 + this.u32();
  }

  /** uvarint reads a Go uvarint (exact below 2^53). */
  uvarint(): number {
    const b = this.b;
    let p = this.pos;
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= this.end) break;
      const c = b[p++]!;
      x += (c & 0x7f) * mul;
      if (c < 0x80) {
        this.pos = p;
        return x;
      }
      mul *= 128;
    }
    throw new BlockCorruptionError(this.file, this.base + this.pos, 'unterminated varint');
  }

  /** varint reads a Go zigzag varint. */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** bytes returns a view of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    this.need(n, `${n}-byte field`);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** uvarintStr reads a uvarint length followed by that many UTF-8 bytes. */
  uvarintStr(): string {
    const n = this.uvarint();
    return utf8.decode(this.bytes(n));
  }

  /** skip advances `n` bytes. */
  skip(n: number): void {
    this.need(n, `${n}-byte skip`);
    this.pos += n;
  }
}

/** decodeUtf8 decodes `b[off, off + len)`. */
export function decodeUtf8(b: Uint8Array, off: number, len: number): string {
  return utf8.decode(b.subarray(off, off + len));
}
