/**
 * ChunksReader reads chunks from a block's segment files through RangeReaders, by reference
 * (segment index × 2^32 + offset). Each segment's header is checked at open and each chunk's
 * CRC32-C on every read; many chunks are fetched with coalesced range reads (the chunks of one
 * series, and of neighbouring series, are adjacent in the file). Touches nothing but the
 * RangeReaders it is given.
 */
import { ErrorCode, SluiceError } from '../../errors.js';
import { BlockCorruptionError, checkCrc, peekEnd, peekUvarint } from '../index/decbuf.js';
import { readClamped, type RangeReader } from '../index/rangereader.js';
import {
  CHUNKS_DIR, CHUNKS_MAGIC, CHUNKS_VERSION, ENC_XOR, MAX_LEN_FIELD, SEGMENT_HEADER_LEN, refOffset, refSegment,
} from './format.js';

/** CHUNK_GUESS is how many bytes are read for a chunk before its length is known (XOR chunks are ≤ ~1 KiB). */
const CHUNK_GUESS = 1280;
/** COALESCE_GAP is the largest gap of unneeded bytes worth reading to save a request. */
const COALESCE_GAP = 64 * 1024;
/** MAX_READ caps one coalesced read. */
const MAX_READ = 8 * 1024 * 1024;

/** Segment is one opened segment file. */
export interface Segment {
  /** name is the file name inside `chunks/` ("000001"). */
  name: string;
  reader: RangeReader;
}

/** ChunksReader reads XOR chunks by reference. */
export class ChunksReader {
  private readonly segs: readonly Segment[];

  private constructor(segs: readonly Segment[]) {
    this.segs = segs;
  }

  /** open checks every segment's magic number and version; segments are in index order. */
  static async open(segs: readonly Segment[]): Promise<ChunksReader> {
    for (const s of segs) {
      const file = `${CHUNKS_DIR}/${s.name}`;
      if (s.reader.size < SEGMENT_HEADER_LEN) throw new BlockCorruptionError(file, 0, `segment of ${s.reader.size} bytes is shorter than its header`);
      const h = await s.reader.read(0, SEGMENT_HEADER_LEN);
      const magic = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
      if (magic !== CHUNKS_MAGIC) throw new BlockCorruptionError(file, 0, `bad magic 0x${magic.toString(16)} (want 0x${CHUNKS_MAGIC.toString(16)})`);
      if (h[4] !== CHUNKS_VERSION) throw new BlockCorruptionError(file, 4, `unsupported chunks version ${h[4]} (want ${CHUNKS_VERSION})`);
    }
    return new ChunksReader(segs);
  }

  /** numSegments returns the number of segment files. */
  get numSegments(): number {
    return this.segs.length;
  }

  /** chunk returns the XOR bytes of the chunk at `ref` (a copy owned by the caller). */
  async chunk(ref: number): Promise<Uint8Array> {
    const [c] = await this.chunks([ref]);
    return c!;
  }

  /**
   * chunks returns the XOR bytes of each reference, in the order given. Reads are grouped per
   * segment and coalesced across small gaps.
   */
  async chunks(refs: readonly number[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = new Array(refs.length);
    const order = refs.map((_, i) => i).sort((a, b) => refs[a]! - refs[b]!);
    let i = 0;
    while (i < order.length) {
      const ref0 = refs[order[i]!]!;
      const seg = this.segment(ref0);
      const start = this.checkedOffset(ref0, seg);
      let j = i;
      let last = start;
      while (j + 1 < order.length) {
        const r = refs[order[j + 1]!]!;
        if (refSegment(r) !== refSegment(ref0)) break;
        const off = refOffset(r);
        if (off - (last + CHUNK_GUESS) > COALESCE_GAP || off + CHUNK_GUESS - start > MAX_READ) break;
        last = off;
        j++;
      }
      const buf = await readClamped(seg.reader, start, last + CHUNK_GUESS - start);
      for (let k = i; k <= j; k++) {
        const r = refs[order[k]!]!;
        const off = refOffset(r);
        out[order[k]!] = this.decode(buf, off - start, seg, off, false) ?? (await this.readOne(r));
      }
      i = j + 1;
    }
    return out;
  }

  private segment(ref: number): Segment {
    const s = this.segs[refSegment(ref)];
    if (s === undefined) throw new BlockCorruptionError(CHUNKS_DIR, 0, `chunk ref ${ref} names segment ${refSegment(ref)} of ${this.segs.length}`);
    return s;
  }

  private checkedOffset(ref: number, seg: Segment): number {
    const off = refOffset(ref);
    if (off < SEGMENT_HEADER_LEN || off >= seg.reader.size) {
      throw new BlockCorruptionError(`${CHUNKS_DIR}/${seg.name}`, off, `chunk ref ${ref} points outside the segment (${seg.reader.size} bytes)`);
    }
    return off;
  }

  private async readOne(ref: number): Promise<Uint8Array> {
    const seg = this.segment(ref);
    const off = this.checkedOffset(ref, seg);
    const pre = await readClamped(seg.reader, off, MAX_LEN_FIELD);
    let len = 0;
    let mul = 1;
    let q = 0;
    for (; q < pre.length; q++) {
      len += (pre[q]! & 0x7f) * mul;
      if (pre[q]! < 0x80) break;
      mul *= 128;
    }
    const total = q + 1 + 1 + len + 4;
    if (off + total > seg.reader.size) {
      throw new BlockCorruptionError(`${CHUNKS_DIR}/${seg.name}`, off, `chunk of ${len} bytes runs past the end of the segment`);
    }
    const buf = await seg.reader.read(off, total);
    return this.decode(buf, 0, seg, off, true)!;
  }

  /**
   * decode parses the chunk at buf[p]: null when the buffer ends first (unless `exact`, where
   * that is corruption); checks the CRC and the encoding.
   */
  private decode(buf: Uint8Array, p: number, seg: Segment, fileOff: number, exact: boolean): Uint8Array | null {
    const file = `${CHUNKS_DIR}/${seg.name}`;
    const len = peekUvarint(buf, p, MAX_LEN_FIELD);
    const q = peekEnd;
    if (q === -2 || (q === -1 && exact)) throw new BlockCorruptionError(file, fileOff, 'bad chunk length varint');
    if (q === -1 || q + 1 + len + 4 > buf.length) {
      if (exact) throw new BlockCorruptionError(file, fileOff, `chunk of ${len} bytes is truncated`);
      return null;
    }
    checkCrc(buf, q, 1 + len, file, fileOff, 'chunk');
    const enc = buf[q]!;
    if (enc !== ENC_XOR) throw new SluiceError(ErrorCode.Internal, `${file} at byte ${fileOff}: chunk encoding ${enc} is not supported (only XOR = ${ENC_XOR})`);
    return buf.slice(q + 1, q + 1 + len);
  }

  /** close closes every segment reader. */
  async close(): Promise<void> {
    await Promise.all(this.segs.map((s) => s.reader.close()));
  }
}
