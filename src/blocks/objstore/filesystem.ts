/**
 * FILESYSTEM bucket (Thanos `type: FILESYSTEM`, `config: {directory}`): objects are files below
 * one local directory, names map to relative paths. Meant for tests and single-machine setups.
 * Touches only files below its directory. Writes go to `<directory>/.sluice-tmp/` first, are
 * fsynced and renamed into place, so a reader never sees half an object.
 *
 * Uploading a file (a block's) hard-links it when the bucket is on the same filesystem: block
 * files are never changed after they are written, so the link reads the same bytes as a copy
 * and costs no writeback (on a 2-core VM, the fsync of a copied 100 MB block held the WAL's
 * fsyncs back by ~50 ms). Elsewhere the file is copied in SYNC_BYTES steps, each fdatasync'ed
 * before the next, for the same reason.
 */
import { constants as fsc } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { link, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { ErrorCode, SluiceError } from '../../errors.js';
import { ObjectNotFoundError, dirPrefix, type Bucket, type IterOptions, type ObjectAttributes, type UploadSource } from './bucket.js';

/** FilesystemConfig is the `config:` section of a FILESYSTEM objstore config. */
export interface FilesystemConfig {
  /** directory holds the objects; created on first upload. */
  directory: string;
}

/** TMP_DIR is where uploads are staged; iter never lists it. */
const TMP_DIR = '.sluice-tmp';

/** SYNC_BYTES is the step of a paced write (see the header). */
const SYNC_BYTES = 1 << 20;

/** linkOrCopy makes `dst` hold `src`'s bytes: a hard link, or a paced copy across filesystems. */
async function linkOrCopy(src: string, dst: string): Promise<void> {
  try {
    await link(src, dst);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Another filesystem, or one without hard links: copy.
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw e;
  }
  const from = await open(src, 'r');
  const to = await open(dst, 'w');
  try {
    const buf = Buffer.allocUnsafe(SYNC_BYTES);
    for (let pos = 0; ;) {
      const { bytesRead } = await from.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      // Each full step is synced before the next; the last one by the fsync below.
      if (pos > 0) await to.datasync();
      await writeAll(to, buf.subarray(0, bytesRead), pos);
      pos += bytesRead;
    }
    await to.sync();
  } finally {
    await Promise.all([from.close(), to.close()]);
  }
}

/** writePaced writes `data` to a new file `dst` in SYNC_BYTES steps, each synced. */
async function writePaced(dst: string, data: Uint8Array): Promise<void> {
  const f = await open(dst, 'w');
  try {
    for (let pos = 0; pos < data.length; pos += SYNC_BYTES) {
      if (pos > 0) await f.datasync();
      await writeAll(f, data.subarray(pos, Math.min(data.length, pos + SYNC_BYTES)), pos);
    }
    await f.sync();
  } finally {
    await f.close();
  }
}

/** writeAll writes every byte of `b` at file offset `pos`. */
async function writeAll(f: FileHandle, b: Uint8Array, pos: number): Promise<void> {
  for (let off = 0; off < b.length;) {
    const { bytesWritten } = await f.write(b, off, b.length - off, pos + off);
    off += bytesWritten;
  }
}

/** FilesystemBucket implements Bucket over a local directory. */
export class FilesystemBucket implements Bucket {
  readonly name: string;
  /** root is the absolute directory; immutable after construction. */
  private readonly root: string;

  constructor(cfg: FilesystemConfig) {
    if (cfg.directory === '') throw new SluiceError(ErrorCode.Config, 'missing directory for filesystem bucket');
    this.root = resolve(cfg.directory);
    this.name = this.root;
  }

  async upload(name: string, src: UploadSource): Promise<void> {
    const target = this.path(name);
    const tmpDir = join(this.root, TMP_DIR);
    const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.tmp`);
    try {
      await mkdir(tmpDir, { recursive: true });
      if (typeof src === 'string') await linkOrCopy(src, tmp);
      else await writePaced(tmp, src);
      await mkdir(dirname(target), { recursive: true });
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      // A missing source or directory is a failed upload, never "object not found".
      const msg = e instanceof Error ? e.message : String(e);
      throw new SluiceError(ErrorCode.Internal, `filesystem bucket upload ${name}: ${msg}`, { cause: e });
    }
  }

  async get(name: string): Promise<Uint8Array> {
    try {
      return await readFile(this.path(name));
    } catch (e) {
      throw fsError(e, 'get', name);
    }
  }

  async getRange(name: string, offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new SluiceError(ErrorCode.Internal, `getRange ${name}: bad offset ${offset}`);
    let f;
    try {
      f = await open(this.path(name), fsc.O_RDONLY);
    } catch (e) {
      throw fsError(e, 'getRange', name);
    }
    try {
      const size = (await f.stat()).size;
      const end = length < 0 ? size : Math.min(size, offset + length);
      if (offset >= end) return new Uint8Array(0);
      const buf = Buffer.allocUnsafe(end - offset);
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await f.read(buf, done, buf.length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === buf.length ? buf : buf.subarray(0, done);
    } catch (e) {
      throw fsError(e, 'getRange', name);
    } finally {
      await f.close();
    }
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    try {
      const st = await stat(this.path(name));
      if (!st.isFile()) throw new ObjectNotFoundError(name);
      return { size: st.size, lastModified: st.mtime };
    } catch (e) {
      throw fsError(e, 'attributes', name);
    }
  }

  async exists(name: string): Promise<boolean> {
    try {
      return (await stat(this.path(name))).isFile();
    } catch (e) {
      if (isFsNotFound(e)) return false;
      throw fsError(e, 'exists', name);
    }
  }

  async *iter(dir: string, opts?: IterOptions): AsyncIterable<string> {
    const prefix = dirPrefix(dir);
    if (prefix !== '') validateName(prefix.slice(0, -1));
    const names: string[] = [];
    try {
      if (opts?.recursive === true) await this.walk(prefix, names);
      else {
        for (const ent of await readdir(join(this.root, prefix), { withFileTypes: true })) {
          if (prefix === '' && ent.name === TMP_DIR) continue;
          if (ent.isDirectory()) {
            if (await this.hasFiles(prefix + ent.name)) names.push(`${prefix}${ent.name}/`);
          } else if (ent.isFile()) names.push(prefix + ent.name);
        }
      }
    } catch (e) {
      if (isFsNotFound(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw fsError(e, 'iter', dir);
    }
    names.sort(compareNames);
    yield* names;
  }

  async delete(name: string): Promise<void> {
    const p = this.path(name);
    try {
      await unlink(p);
    } catch (e) {
      if (isFsNotFound(e)) return;
      throw fsError(e, 'delete', name);
    }
    // Object stores have no empty directories: remove the ones this delete emptied.
    for (let d = dirname(p); d.length > this.root.length; d = dirname(d)) {
      try { await rmdir(d); } catch { break; }
    }
  }

  async close(): Promise<void> { /* nothing held open */ }

  /** path maps an object name to its file, refusing names that would leave the root. */
  private path(name: string): string {
    validateName(name);
    return join(this.root, name);
  }

  /** walk appends every file below `prefix` (a '' or '/'-terminated name). */
  private async walk(prefix: string, out: string[]): Promise<void> {
    for (const ent of await readdir(join(this.root, prefix), { withFileTypes: true })) {
      if (prefix === '' && ent.name === TMP_DIR) continue;
      if (ent.isDirectory()) await this.walk(`${prefix}${ent.name}/`, out);
      else if (ent.isFile()) out.push(prefix + ent.name);
    }
  }

  /** hasFiles tells whether directory `rel` holds at least one file at any depth. */
  private async hasFiles(rel: string): Promise<boolean> {
    for (const ent of await readdir(join(this.root, rel), { withFileTypes: true })) {
      if (ent.isFile()) return true;
      if (ent.isDirectory() && (await this.hasFiles(`${rel}/${ent.name}`))) return true;
    }
    return false;
  }
}

/** compareNames orders names as S3 lists keys (code unit order equals byte order for ASCII). */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** validateName refuses empty, absolute and `..`-containing names. */
function validateName(name: string): void {
  if (name === '' || name.startsWith('/') || name.includes('\0')) {
    throw new SluiceError(ErrorCode.Internal, `invalid object name ${JSON.stringify(name)}`);
  }
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') {
      throw new SluiceError(ErrorCode.Internal, `invalid object name ${JSON.stringify(name)}`);
    }
  }
}

function isFsNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'EISDIR';
}

/** fsError turns a file-system failure into the bucket's coded errors. */
function fsError(e: unknown, op: string, name: string): SluiceError {
  if (e instanceof SluiceError) return e;
  if (isFsNotFound(e)) return new ObjectNotFoundError(name, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new SluiceError(ErrorCode.Internal, `filesystem bucket ${op} ${name}: ${msg}`, { cause: e });
}
