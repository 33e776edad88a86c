/**
 * FILESYSTEM bucket (Thanos `type: FILESYSTEM`, `config: {directory}`): objects are files below
 * one local directory, names map to relative paths. Meant for tests and single-machine setups.
 * Touches only files below its directory. Writes go to `<directory>/.sluice-tmp/` first, are
 * fsynced and renamed into place, so a reader never sees half an object.
 */
import { constants as fsc } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
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
      if (typeof src === 'string') {
        await copyFile(src, tmp);
        const f = await open(tmp, 'r+');
        try { await f.sync(); } finally { await f.close(); }
      } else {
        const f = await open(tmp, 'w');
        try {
          await f.writeFile(src);
          await f.sync();
        } finally { await f.close(); }
      }
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
