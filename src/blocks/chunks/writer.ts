/**
 * ChunkWriter streams chunks into the segment files of a block's `chunks/` directory, cutting a
 * new segment when the next chunk would take the current one past the segment size (as
 * Prometheus' chunks.Writer does). Chunk bytes are copied once, into the file buffer, and only
 * the returned reference is kept by the caller. Touches only the files it creates in `dir`.
 *
 * Each chunk is `len <uvarint>`, `encoding <1 byte>`, `data <len bytes>`, `CRC32-C <4 bytes>`
 * over encoding and data; see docs/format/block.md.
 */
import { join } from 'node:path';
import { crc32c } from '../../wal/crc32c.js';
import { FileWriter } from '../index/filewriter.js';
import {
  CHUNKS_MAGIC, CHUNKS_VERSION, DEFAULT_SEGMENT_BYTES, ENC_XOR, MAX_LEN_FIELD, SEGMENT_HEADER_LEN, chunkRef, segmentName,
} from './format.js';

/** SegmentFile describes one finished segment. */
export interface SegmentFile {
  /** name is the file name inside `chunks/` ("000001", …). */
  name: string;
  /** size is the file's length in bytes. */
  size: number;
}

const ENC_BYTE = new Uint8Array(1);

/** ChunkWriter appends chunks to numbered segment files. */
export class ChunkWriter {
  /** dir is the chunks directory. */
  readonly dir: string;
  /** segmentBytes is the size at which a new segment starts. */
  readonly segmentBytes: number;
  /** segments lists the finished segments (the open one is added by close()). */
  readonly segments: SegmentFile[] = [];
  private cur: FileWriter | null = null;
  private seq = -1;

  constructor(dir: string, segmentBytes = DEFAULT_SEGMENT_BYTES) {
    if (segmentBytes > 2 ** 32 || segmentBytes < SEGMENT_HEADER_LEN + 16) throw new RangeError(`segment size ${segmentBytes} out of range`);
    this.dir = dir;
    this.segmentBytes = segmentBytes;
  }

  /**
   * needsCut reports whether a chunk of `dataLen` bytes must go to a new segment: there is no
   * segment yet, or the current one holds chunks and would grow past segmentBytes. A chunk larger
   * than a whole segment still goes alone into one.
   */
  needsCut(dataLen: number): boolean {
    const cur = this.cur;
    if (cur === null) return true;
    const size = MAX_LEN_FIELD + 1 + dataLen + 4;
    return cur.pos > SEGMENT_HEADER_LEN && cur.pos + size > this.segmentBytes;
  }

  /** fits reports whether all of `chunks` fit into the current segment without a cut. */
  fits(chunks: readonly { data: Uint8Array }[]): boolean {
    const cur = this.cur;
    if (cur === null) return false;
    let end = cur.pos;
    for (const c of chunks) end += MAX_LEN_FIELD + 1 + c.data.length + 4;
    return end <= this.segmentBytes;
  }

  /** cut finishes the current segment (fsynced) and starts the next one. */
  async cut(): Promise<void> {
    await this.finishSegment();
    this.seq++;
    const name = segmentName(this.seq);
    const w = await FileWriter.create(join(this.dir, name));
    w.u32(CHUNKS_MAGIC);
    w.u8(CHUNKS_VERSION);
    w.zeros(SEGMENT_HEADER_LEN - 5);
    this.cur = w;
  }

  /**
   * append writes one chunk into the current segment and returns its reference. Call needsCut
   * (and cut) first; the bytes are copied before append returns.
   */
  append(data: Uint8Array, encoding = ENC_XOR): number {
    const w = this.cur!;
    const ref = chunkRef(this.seq, w.pos);
    w.uvarint(data.length);
    w.u8(encoding);
    w.bytes(data);
    ENC_BYTE[0] = encoding;
    w.u32(crc32c(data, 0, data.length, crc32c(ENC_BYTE, 0, 1)));
    return ref;
  }

  /** write is needsCut + cut + append. */
  async write(data: Uint8Array, encoding = ENC_XOR): Promise<number> {
    if (this.needsCut(data.length)) await this.cut();
    return this.append(data, encoding);
  }

  /** full reports whether the current segment's buffer should be flushed (await flush()). */
  full(): boolean {
    return this.cur !== null && this.cur.full();
  }

  /** flush writes the current segment's buffer out. */
  async flush(): Promise<void> {
    if (this.cur) await this.cur.flush();
  }

  /** close finishes the last segment; returns every segment written. */
  async close(): Promise<SegmentFile[]> {
    await this.finishSegment();
    return this.segments;
  }

  /** abort closes any open file without finishing it; never throws. */
  async abort(): Promise<void> {
    const w = this.cur;
    this.cur = null;
    if (w) await w.abort();
  }

  private async finishSegment(): Promise<void> {
    const w = this.cur;
    if (w === null) return;
    this.cur = null;
    const size = await w.close();
    this.segments.push({ name: segmentName(this.seq), size });
  }
}
