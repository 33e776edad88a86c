/**
 * The object-storage contract every backend implements (filesystem, S3), the coded "object not
 * found" error, and the prefix wrapper Thanos applies for the `prefix:` config key.
 * Touches nothing itself: backends live in their own files (filesystem.ts, s3.ts).
 */
import { ErrorCode, SluiceError } from '../../errors.js';

/** ObjectAttributes are what a bucket knows about one object without reading it. */
export interface ObjectAttributes {
  /** size is the object's length in bytes. */
  size: number;
  /** lastModified is when the object was last written. */
  lastModified: Date;
}

/** IterOptions tune Bucket.iter. */
export interface IterOptions {
  /** recursive lists every object below the directory instead of one level with `dir/` entries. */
  recursive?: boolean;
}

/** UploadSource is a local file path (streamed, never read whole) or bytes already in memory. */
export type UploadSource = string | Uint8Array;

/**
 * Bucket is an object store holding `/`-separated names. Contract (the Thanos objstore one):
 * - `upload` makes an object appear whole or not at all; an existing object is replaced.
 * - `get`, `getRange` and `attributes` throw ObjectNotFoundError for a missing object;
 *   `exists` answers false instead.
 * - `iter(dir)` yields the names directly below `dir` (a name ending in `/` for each
 *   "directory"), or every object below it with `{ recursive: true }`; names are full names,
 *   in lexicographic order. `dir` may be given with or without its trailing `/`; `''` is the root.
 * - `delete` of a missing object is not an error.
 * - Failures of the store itself are SluiceError with code Unavailable (retry later) or Internal.
 */
export interface Bucket {
  /** name is the bucket's name, for logs. */
  readonly name: string;
  /** upload writes `src` as object `name`. */
  upload(name: string, src: UploadSource): Promise<void>;
  /** get reads the whole object. */
  get(name: string): Promise<Uint8Array>;
  /**
   * getRange reads `length` bytes from `offset`; a negative length reads to the end. A range
   * past the end is clipped (an offset at or past the end gives zero bytes).
   */
  getRange(name: string, offset: number, length: number): Promise<Uint8Array>;
  /** attributes returns the object's size and modification time. */
  attributes(name: string): Promise<ObjectAttributes>;
  /** exists tells whether object `name` exists. */
  exists(name: string): Promise<boolean>;
  /** iter lists names below `dir` (see the interface comment). */
  iter(dir: string, opts?: IterOptions): AsyncIterable<string>;
  /** delete removes object `name`. */
  delete(name: string): Promise<void>;
  /** close releases connections; the bucket must not be used afterwards. */
  close(): Promise<void>;
}

/** ObjectNotFoundError reports a missing object. Test for it with isNotFound. */
export class ObjectNotFoundError extends SluiceError {
  /** object is the name that was not found. */
  readonly object: string;
  constructor(object: string, options?: { cause?: unknown }) {
    // TODO(objstore): use a dedicated ErrorCode.NotFound once src/errors.ts has one.
    super(ErrorCode.Internal, `object not found: ${object}`, options);
    this.object = object;
    this.name = 'ObjectNotFoundError';
  }
}

/** isNotFound tells whether `e` reports a missing object. */
export function isNotFound(e: unknown): e is ObjectNotFoundError {
  return e instanceof ObjectNotFoundError;
}

/** dirPrefix turns an iter() directory into the key prefix it lists ('' or ending in '/'). */
export function dirPrefix(dir: string): string {
  if (dir === '' || dir === '/') return '';
  return dir.endsWith('/') ? dir : `${dir}/`;
}

/**
 * PrefixedBucket stores every object of `inner` under `prefix/` (Thanos' `prefix:` key) and
 * hides the prefix from the names it returns.
 */
export class PrefixedBucket implements Bucket {
  readonly name: string;
  private readonly inner: Bucket;
  private readonly prefix: string;

  /** `prefix` is trimmed of surrounding slashes; it must not be empty. */
  constructor(inner: Bucket, prefix: string) {
    this.inner = inner;
    this.prefix = `${trimSlashes(prefix)}/`;
    this.name = inner.name;
  }

  upload(name: string, src: UploadSource): Promise<void> { return this.inner.upload(this.prefix + name, src); }
  get(name: string): Promise<Uint8Array> { return this.inner.get(this.prefix + name); }
  getRange(name: string, offset: number, length: number): Promise<Uint8Array> {
    return this.inner.getRange(this.prefix + name, offset, length);
  }
  attributes(name: string): Promise<ObjectAttributes> { return this.inner.attributes(this.prefix + name); }
  exists(name: string): Promise<boolean> { return this.inner.exists(this.prefix + name); }
  delete(name: string): Promise<void> { return this.inner.delete(this.prefix + name); }
  close(): Promise<void> { return this.inner.close(); }

  async *iter(dir: string, opts?: IterOptions): AsyncIterable<string> {
    const n = this.prefix.length;
    for await (const full of this.inner.iter(this.prefix + dirPrefix(dir), opts)) yield full.slice(n);
  }
}

/** trimSlashes removes leading and trailing `/`. */
export function trimSlashes(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) === 47) a++;
  while (b > a && s.charCodeAt(b - 1) === 47) b--;
  return s.slice(a, b);
}
