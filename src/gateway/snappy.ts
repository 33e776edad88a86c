/**
 * snappy.ts decompresses remote-write bodies: snappy *block* format (a varint preamble with the
 * uncompressed length, then literal/copy elements), not the framed stream format.
 *
 * Two engines: the native napi-rs binding `snappy` and the pure-JS `snappyjs`. Measured on a
 * 500-series remote-write body (126 KB raw, 31 KB compressed), the native one called with
 * `copyOutputData: true` decodes about 2 GB/s against about 0.45 GB/s for snappyjs; called without
 * that option it is *slower* than snappyjs (about 0.35 GB/s, because it hands back an external
 * buffer whose set-up costs more than the copy), so the option is always passed. Below a few
 * hundred bytes the two are within a microsecond of each other. The native engine is therefore
 * the default; snappyjs is the fallback when the binding does not load (or fails a self-test), and
 * `SLUICE_SNAPPY=js` forces it.
 *
 * Corrupt input: the native engine rejects every malformed stream itself. snappyjs does not: it
 * returns zero-filled output for a truncated stream and silently drops output past the declared
 * length. Its path therefore first walks the element headers (no copying) with
 * `validateSnappyBlock`, which checks everything snappyjs skips. Either way a bad body becomes a
 * WireError (HTTP 400), never another exception.
 */
import { createRequire } from 'node:module';
import { WireError } from '../errors.js';

/** SnappyEngine names a snappy implementation. */
export type SnappyEngine = 'native' | 'js';

/** NativeSnappy is the part of the `snappy` package (napi-rs) that Sluice calls. */
interface NativeSnappy {
  uncompressSync(input: Uint8Array, options?: { asBuffer?: boolean; copyOutputData?: boolean }): string | Uint8Array;
  compressSync(input: Uint8Array, options?: { copyOutputData?: boolean }): Uint8Array;
}

/** SnappyJs is the part of the `snappyjs` package that Sluice calls (it ships no types). */
interface SnappyJs {
  uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  compress(uncompressed: Uint8Array): Uint8Array;
}

const require = createRequire(import.meta.url);
const snappyjs = require('snappyjs') as SnappyJs;

/** NATIVE_OPTIONS makes the binding copy into a V8-owned buffer: several times faster, see above. */
const NATIVE_OPTIONS = { asBuffer: true, copyOutputData: true } as const;

/** loadNative loads the native binding and checks a round trip; null if either fails. */
function loadNative(): NativeSnappy | null {
  try {
    const mod = require('snappy') as NativeSnappy;
    const probe = new TextEncoder().encode('sluice snappy self-test sluice snappy self-test');
    const back = mod.uncompressSync(mod.compressSync(probe, NATIVE_OPTIONS), NATIVE_OPTIONS);
    if (typeof back === 'string' || !bytesEqual(back, probe)) return null;
    return mod;
  } catch {
    return null;
  }
}

/** bytesEqual compares two byte arrays (self-test only). */
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const native = loadNative();

/** snappyNativeAvailable tells whether the native binding loaded and passed its self-test. */
export const snappyNativeAvailable: boolean = native !== null;

/** snappyEngine names the engine snappyUncompress and snappyCompress use in this process. */
export const snappyEngine: SnappyEngine = native !== null && process.env['SLUICE_SNAPPY'] !== 'js' ? 'native' : 'js';

/**
 * MAX_EXPANSION bounds output per input byte of any valid block: the best element is a 3-byte
 * copy of 64 bytes. A preamble promising more than this is rejected before anything is allocated.
 */
const MAX_EXPANSION = 64 / 3;

/** preambleSize is the byte length of the preamble read by the last snappyUncompressedLength. */
let preambleSize = 0;

/**
 * snappyUncompressedLength reads the varint preamble of a snappy block: the exact length the body
 * will have once decompressed. Cheap, so the caller can enforce a size limit before decompressing.
 * Throws WireError if the preamble is missing, truncated or above 2^32-1.
 */
export function snappyUncompressedLength(src: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= src.length) {
      throw new WireError(i === 0 ? 'snappy: empty body' : 'snappy: truncated length preamble', 0);
    }
    const b = src[i]!;
    n += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) {
      if (n > 0xffffffff) throw new WireError('snappy: length preamble exceeds 2^32-1', 0);
      preambleSize = i + 1;
      return n;
    }
  }
  throw new WireError('snappy: length preamble longer than 5 bytes', 0);
}

/**
 * snappyUncompress decompresses a snappy block with the engine named by `snappyEngine`. Throws
 * WireError for any corrupt or truncated input. Enforce size limits with snappyUncompressedLength
 * first; this function only refuses lengths no valid block of this size can produce.
 */
export function snappyUncompress(src: Uint8Array): Uint8Array {
  return snappyUncompressWith(snappyEngine, src);
}

/**
 * snappyUncompressWith is snappyUncompress with an explicit engine, for tests and benchmarks.
 * Throws Error if `engine` is 'native' and the binding is not available.
 */
export function snappyUncompressWith(engine: SnappyEngine, src: Uint8Array): Uint8Array {
  const n = snappyUncompressedLength(src);
  const payload = src.length - preambleSize;
  if (n > payload * MAX_EXPANSION) {
    throw new WireError(`snappy: declared length ${n} is impossible for ${payload} compressed bytes`, 0);
  }
  if (engine === 'native') {
    if (native === null) throw new Error('snappy: the native binding is not available');
    try {
      const out = native.uncompressSync(src, NATIVE_OPTIONS);
      if (typeof out !== 'string') return out;
    } catch (e) {
      // Cold path: find the offending byte with our own walker for a useful offset.
      validateSnappyBlock(src, preambleSize, n);
      throw new WireError(`snappy: ${e instanceof Error ? e.message : String(e)}`, 0);
    }
    throw new WireError('snappy: native binding returned a string', 0);
  }
  validateSnappyBlock(src, preambleSize, n);
  // snappyjs allocates a zero-filled Buffer for Buffer input and indexes it more slowly; a plain
  // Uint8Array view over the same bytes avoids both.
  const view = Buffer.isBuffer(src) ? new Uint8Array(src.buffer, src.byteOffset, src.length) : src;
  try {
    return snappyjs.uncompress(view);
  } catch (e) {
    throw new WireError(`snappy: ${e instanceof Error ? e.message : String(e)}`, 0);
  }
}

/**
 * snappyCompress compresses `src` into a snappy block (for tests and the load generator).
 */
export function snappyCompress(src: Uint8Array): Uint8Array {
  if (snappyEngine === 'native' && native !== null) return native.compressSync(src, NATIVE_OPTIONS);
  return snappyjs.compress(Buffer.isBuffer(src) ? new Uint8Array(src.buffer, src.byteOffset, src.length) : src);
}

/**
 * validateSnappyBlock walks the elements of the block body that starts at `pos` without copying
 * anything and throws WireError (with the element's offset) unless it decodes to exactly
 * `expected` bytes: every element complete, every copy offset within the output so far, no output
 * past the declared length, none missing at the end.
 */
export function validateSnappyBlock(src: Uint8Array, pos: number, expected: number): void {
  const end = src.length;
  let p = pos;
  let out = 0;
  while (p < end) {
    const at = p;
    const c = src[p++]!;
    let len: number;
    let offset: number;
    switch (c & 3) {
      case 0: {
        // Literal: length-1 in the tag's high 6 bits, or (60..63) in 1..4 following bytes.
        len = (c >>> 2) + 1;
        if (len > 60) {
          const extra = len - 60;
          if (end - p < extra) throw new WireError('snappy: truncated literal length', at);
          len = 0;
          for (let i = extra - 1; i >= 0; i--) len = len * 256 + src[p + i]!;
          len += 1;
          p += extra;
        }
        if (len > end - p) throw new WireError(`snappy: literal of ${len} bytes runs past the end`, at);
        p += len;
        out += len;
        if (out > expected) throw new WireError(`snappy: output exceeds the declared ${expected} bytes`, at);
        continue;
      }
      case 1:
        if (end - p < 1) throw new WireError('snappy: truncated copy', at);
        len = ((c >>> 2) & 7) + 4;
        offset = ((c >>> 5) << 8) | src[p]!;
        p += 1;
        break;
      case 2:
        if (end - p < 2) throw new WireError('snappy: truncated copy', at);
        len = (c >>> 2) + 1;
        offset = src[p]! | (src[p + 1]! << 8);
        p += 2;
        break;
      default:
        if (end - p < 4) throw new WireError('snappy: truncated copy', at);
        len = (c >>> 2) + 1;
        offset = (src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16) | (src[p + 3]! << 24)) >>> 0;
        p += 4;
    }
    if (offset === 0 || offset > out) {
      throw new WireError(`snappy: copy offset ${offset} outside the ${out} bytes decoded so far`, at);
    }
    out += len;
    if (out > expected) throw new WireError(`snappy: output exceeds the declared ${expected} bytes`, at);
  }
  if (out !== expected) {
    throw new WireError(`snappy: stream ends after ${out} of the declared ${expected} bytes`, end);
  }
}
