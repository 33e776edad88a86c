/**
 * ULIDs, the names of block directories (as Prometheus and Thanos use them): 128 bits, a 48-bit
 * millisecond timestamp followed by 80 random bits, written as 26 Crockford base32 characters,
 * so names sort by creation time. Generation is monotonic within a process: a ULID made in the
 * same millisecond as (or a clock step behind) the previous one is the previous one plus 1.
 * Touches only its own last-issued state; randomness comes from node:crypto.
 */
import { randomFillSync } from 'node:crypto';

/** CROCKFORD is the base32 alphabet of ULIDs (no I, L, O, U). */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** ULID_RE matches a canonical ULID (the first character is at most 7: 128 bits fit in 26 chars). */
const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

const MAX_TIME = 2 ** 48 - 1;

/** encodeUlid writes 16 bytes (big-endian) as a 26-character ULID. */
export function encodeUlid(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError('a ULID is 16 bytes');
  let out = '';
  // 130 bits of output for 128 of input: the first character carries only the top 3 bits.
  let acc = 0;
  let bits = 2; // two leading zero bits
  for (let i = 0; i < 16; i++) {
    acc = ((acc << 8) | bytes[i]!) & 0x1fff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(acc >>> bits) & 31];
    }
  }
  return out;
}

/** decodeUlid turns a ULID string (case-insensitive) into its 16 bytes; throws on a malformed one. */
export function decodeUlid(s: string): Uint8Array {
  const u = s.toUpperCase();
  if (!ULID_RE.test(u)) throw new RangeError(`not a ULID: ${JSON.stringify(s)}`);
  const out = new Uint8Array(16);
  let acc = 0;
  let bits = -2; // drop the two leading zero bits
  let k = 0;
  for (let i = 0; i < 26; i++) {
    acc = ((acc << 5) | CROCKFORD.indexOf(u[i]!)) & 0x1fff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[k++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

/** isUlid reports whether `s` is a canonical (upper-case) ULID. */
export function isUlid(s: string): boolean {
  return ULID_RE.test(s);
}

/** ulidTime returns the millisecond timestamp of a ULID. */
export function ulidTime(s: string): number {
  const b = decodeUlid(s);
  let t = 0;
  for (let i = 0; i < 6; i++) t = t * 256 + b[i]!;
  return t;
}

/** UlidFactory issues monotonic ULIDs. */
export class UlidFactory {
  private lastTime = -1;
  private readonly last = new Uint8Array(16);
  private readonly random: (b: Uint8Array) => void;

  /** random fills the 10 random bytes; node:crypto by default (tests may pass a seeded source). */
  constructor(random: (b: Uint8Array) => void = (b) => randomFillSync(b)) {
    this.random = random;
  }

  /**
   * next returns a ULID for time `ms` (default now) that sorts after every ULID this factory
   * issued before. Throws if the 80-bit random part would overflow within one millisecond.
   */
  next(ms: number = Date.now()): string {
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIME) throw new RangeError(`ULID time ${ms} out of range`);
    const b = this.last;
    if (ms <= this.lastTime) {
      // Same millisecond (or the clock went back): increment the 80-bit random part.
      let i = 15;
      while (i >= 6 && b[i] === 0xff) b[i--] = 0;
      if (i < 6) throw new RangeError('ULID random part overflowed within one millisecond');
      b[i]!++;
    } else {
      this.lastTime = ms;
      let t = ms;
      for (let i = 5; i >= 0; i--) {
        b[i] = t % 256;
        t = Math.floor(t / 256);
      }
      this.random(b.subarray(6));
    }
    return encodeUlid(b);
  }
}

const defaultFactory = new UlidFactory();

/** newUlid returns a monotonic ULID from the process-wide factory. */
export function newUlid(ms: number = Date.now()): string {
  return defaultFactory.next(ms);
}
