/**
 * Constants and small shared types of the block index file (Prometheus index format v2; see
 * docs/format/block.md). No code with effects.
 */

/** INDEX_MAGIC opens every index file (4 bytes, big-endian). */
export const INDEX_MAGIC = 0xbaaad700;

/** INDEX_VERSION is the format version we write (v2: 16-byte aligned series, sorted offset table). */
export const INDEX_VERSION = 2;

/** INDEX_HEADER_LEN is magic + version. */
export const INDEX_HEADER_LEN = 5;

/** SERIES_ALIGN is the alignment of series entries; a series ref is its offset / SERIES_ALIGN. */
export const SERIES_ALIGN = 16;

/** POSTINGS_ALIGN is the alignment of each postings list. */
export const POSTINGS_ALIGN = 4;

/** TOC_LEN is the table of contents at the end of the file: six u64 offsets and a CRC32. */
export const TOC_LEN = 6 * 8 + 4;

/** INDEX_FILE is the index's file name inside a block directory. */
export const INDEX_FILE = 'index';

/** Toc holds the start offsets of the index sections. */
export interface Toc {
  symbols: number;
  series: number;
  labelIndices: number;
  labelIndicesTable: number;
  postings: number;
  postingsTable: number;
}

/** ChunkMeta locates one chunk of a series: its first and last sample time and its reference. */
export interface ChunkMeta {
  /** minT is the timestamp of the chunk's first sample (ms). */
  minT: number;
  /** maxT is the timestamp of the chunk's last sample (ms). */
  maxT: number;
  /** ref is the chunk's reference: segment index × 2^32 + byte offset in the segment. */
  ref: number;
}
