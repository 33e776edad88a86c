/**
 * Constants of block chunk segment files (`<block>/chunks/000001`, …; see docs/format/block.md)
 * and the chunk reference arithmetic. No code with effects.
 */

/** CHUNKS_MAGIC opens every segment file (4 bytes, big-endian). */
export const CHUNKS_MAGIC = 0x85bd40dd;

/** CHUNKS_VERSION is the segment format version. */
export const CHUNKS_VERSION = 1;

/** SEGMENT_HEADER_LEN is magic (4) + version (1) + zero padding (3). */
export const SEGMENT_HEADER_LEN = 8;

/** DEFAULT_SEGMENT_BYTES is the size at which a new segment file is started (512 MiB). */
export const DEFAULT_SEGMENT_BYTES = 512 * 1024 * 1024;

/** ENC_XOR is the encoding byte of float XOR chunks. */
export const ENC_XOR = 1;

/** MAX_LEN_FIELD is the largest chunk length field we accept (a uvarint of a u32: 5 bytes). */
export const MAX_LEN_FIELD = 5;

/** CHUNKS_DIR is the segment directory inside a block. */
export const CHUNKS_DIR = 'chunks';

const TWO32 = 4294967296;

/** segmentName returns the file name of segment `index` (0-based): 0 → "000001". */
export function segmentName(index: number): string {
  return String(index + 1).padStart(6, '0');
}

/** chunkRef packs a segment index and a byte offset into a chunk reference. */
export function chunkRef(segment: number, offset: number): number {
  return segment * TWO32 + offset;
}

/** refSegment returns the segment index of a chunk reference. */
export function refSegment(ref: number): number {
  return Math.floor(ref / TWO32);
}

/** refOffset returns the byte offset of a chunk reference within its segment. */
export function refOffset(ref: number): number {
  return ref % TWO32;
}
