/**
 * RangeReader: random access to the bytes of one block file, the only way the block readers
 * touch storage, so the same reader code serves local files now and object-storage byte ranges
 * later. Also the local-file implementation. Touches only the file it opened (read-only).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { BlockCorruptionError } from './decbuf.js';

/** RangeReader reads byte ranges of one immutable file of known size. */
export interface RangeReader {
  /** size is the file's length in bytes. */
  readonly size: number;
  /**
   * read returns `length` bytes starting at `offset`; the range must lie within [0, size).
   * The returned array belongs to the caller.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** close releases the file; reads after close fail. */
  close(): Promise<void>;
}

/** LocalFileReader is a RangeReader over a local file, reading with pread. */
export class LocalFileReader implements RangeReader {
  /** path is the file being read. */
  readonly path: string;
  readonly size: number;
  private fh: FileHandle | null;

  private constructor(path: string, fh: FileHandle, size: number) {
    this.path = path;
    this.fh = fh;
    this.size = size;
  }

  /** open opens `path` read-only and records its size. */
  static async open(path: string): Promise<LocalFileReader> {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      return new LocalFileReader(path, fh, st.size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!this.fh) throw new Error(`${this.path}: reader is closed`);
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`${this.path}: range [${offset}, ${offset + length}) outside file of ${this.size} bytes`);
    }
    const out = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.fh.read(out, got, length - got, offset + got);
      if (bytesRead === 0) throw new BlockCorruptionError(this.path, offset + got, 'file ended early');
      got += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close();
  }
}

/**
 * readClamped reads up to `length` bytes at `offset`, fewer where the file ends sooner. Used for
 * reads whose exact length is only known after decoding a prefix.
 */
export function readClamped(r: RangeReader, offset: number, length: number): Promise<Uint8Array> {
  return r.read(offset, Math.max(0, Math.min(length, r.size - offset)));
}
