/**
 * FileWriter: a buffered, append-only writer of one block file (an index or a chunks segment).
 * Fields are appended synchronously into the Encbuf it extends; the caller awaits maybeFlush()
 * at safe points (after a series, after a postings list), which writes the buffer out once it
 * holds FLUSH_BYTES, so memory stays bounded and the event loop keeps running between writes.
 * It can checksum a run of bytes across flushes (crcBegin/crcEnd), and fsyncs on close.
 *
 * Writeback is paced: every SYNC_BYTES written are made durable (fdatasync) before the next write.
 * A block is ~100 MB; left to one fsync at close, it queues that much I/O in front of the WAL's
 * fsyncs, and remote-write acknowledgements wait behind it (tens of ms on a virtual disk). Synced
 * in 1 MiB steps, a WAL fsync waits behind at most one step. Touches only the file it created.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { crc32c } from '../../wal/crc32c.js';
import { Encbuf } from './encbuf.js';

/** FLUSH_BYTES is the buffered size at which maybeFlush() writes. */
export const FLUSH_BYTES = 1 << 20;

/** SYNC_BYTES is how much may be written before it is fdatasync'ed (see the header). */
export const SYNC_BYTES = 1 << 20;

/** FileWriter appends to a new file through a buffer. */
export class FileWriter extends Encbuf {
  /** path is the file being written. */
  readonly path: string;
  private fh: FileHandle | null;
  /** flushed counts the bytes already written to the file. */
  private flushed = 0;
  /** unsynced counts the bytes written since the last fdatasync. */
  private unsynced = 0;
  /** crcOn is set between crcBegin and crcEnd. */
  private crcOn = false;
  /** crcFrom is the buffer index where the not yet checksummed part of the CRC run starts. */
  private crcFrom = 0;
  /** crcAcc is the CRC of the part of the run already flushed. */
  private crcAcc = 0;

  private constructor(path: string, fh: FileHandle) {
    super(FLUSH_BYTES + (FLUSH_BYTES >>> 2));
    this.path = path;
    this.fh = fh;
  }

  /** create opens `path` for writing, truncating anything there. */
  static async create(path: string): Promise<FileWriter> {
    return new FileWriter(path, await open(path, 'w'));
  }

  /** pos returns the file offset of the next byte appended. */
  get pos(): number {
    return this.flushed + this.len;
  }

  /** padTo appends zero bytes until pos is a multiple of `align`. */
  padTo(align: number): void {
    const r = this.pos % align;
    if (r !== 0) this.zeros(align - r);
  }

  /** crcBegin starts a CRC32-C run at the current position. Runs do not nest. */
  crcBegin(): void {
    this.crcOn = true;
    this.crcFrom = this.len;
    this.crcAcc = 0;
  }

  /** crcEnd ends the run and returns the CRC32-C of every byte appended since crcBegin. */
  crcEnd(): number {
    this.crcOn = false;
    return crc32c(this.b, this.crcFrom, this.len - this.crcFrom, this.crcAcc);
  }

  /** full reports whether the buffer holds at least FLUSH_BYTES (then the caller awaits flush()). */
  full(): boolean {
    return this.len >= FLUSH_BYTES;
  }

  /** maybeFlush writes the buffer out if it is full(). */
  async maybeFlush(): Promise<void> {
    if (this.len >= FLUSH_BYTES) await this.flush();
  }

  /** flush writes every buffered byte to the file. */
  async flush(): Promise<void> {
    if (this.len === 0) return;
    if (this.crcOn) {
      this.crcAcc = crc32c(this.b, this.crcFrom, this.len - this.crcFrom, this.crcAcc);
      this.crcFrom = 0;
    }
    const fh = this.handle();
    let off = 0;
    while (off < this.len) {
      const { bytesWritten } = await fh.write(this.b, off, this.len - off, this.flushed + off);
      off += bytesWritten;
    }
    this.flushed += this.len;
    this.unsynced += this.len;
    this.len = 0;
    if (this.unsynced >= SYNC_BYTES) {
      this.unsynced = 0;
      await fh.datasync();
    }
  }

  /** close flushes, fsyncs and closes the file; returns its size in bytes. */
  async close(): Promise<number> {
    await this.flush();
    const fh = this.handle();
    this.fh = null;
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return this.flushed;
  }

  /** abort closes the file without flushing (after an error); never throws. */
  async abort(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    this.len = 0;
    if (fh) await fh.close().catch(() => undefined);
  }

  private handle(): FileHandle {
    if (!this.fh) throw new Error(`${this.path}: writer is closed`);
    return this.fh;
  }
}
