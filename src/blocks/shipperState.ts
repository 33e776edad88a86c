/**
 * What the shipper and retention read from the local blocks directory: the shipper state file
 * `thanos.shipper.json` (Thanos' shape, written atomically) and the `<ULID>/` block dirs with
 * their meta.json. Touches only `<dir>/thanos.shipper.json(.tmp)` for writing; reads the rest.
 * Format: docs/format/shipper.md.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SluiceError } from '../errors.js';
import { writeFileAtomic } from '../util/atomicFile.js';

/** SHIPPER_STATE_FILE is the state file's name inside the blocks directory (Thanos' name). */
export const SHIPPER_STATE_FILE = 'thanos.shipper.json';
/** SHIPPER_STATE_VERSION is the only state file version (Thanos `MetaVersion1`). */
export const SHIPPER_STATE_VERSION = 1;
/** META_FILE is a block's meta file; it is uploaded last. */
export const META_FILE = 'meta.json';
/** ULID_RE matches a block directory name (26 Crockford base32 characters). */
export const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** ShipperStateRead is the outcome of reading the state file. */
export interface ShipperStateRead {
  /** uploaded lists the ULIDs the file names (empty when missing or unreadable). */
  uploaded: string[];
  /** problem says why the file was not used; absent when it was used or did not exist. */
  problem?: string;
}

/**
 * readShipperState reads `<dir>/thanos.shipper.json`. A missing file is an empty state; a file
 * that is not valid JSON, has another version or a bad ULID is reported in `problem` and read
 * as empty, as Thanos does (the bucket check then prevents double uploads).
 */
export function readShipperState(dir: string): ShipperStateRead {
  let text: string;
  try {
    text = readFileSync(join(dir, SHIPPER_STATE_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { uploaded: [] };
    return { uploaded: [], problem: e instanceof Error ? e.message : String(e) };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { uploaded: [], problem: `invalid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  const o = v as { version?: unknown; uploaded?: unknown } | null;
  if (o === null || typeof o !== 'object') return { uploaded: [], problem: 'not a JSON object' };
  if (o.version !== SHIPPER_STATE_VERSION) return { uploaded: [], problem: `unexpected version ${JSON.stringify(o.version)}` };
  if (o.uploaded === null || o.uploaded === undefined) return { uploaded: [] };
  if (!Array.isArray(o.uploaded)) return { uploaded: [], problem: '"uploaded" is not a list' };
  for (const u of o.uploaded) {
    if (typeof u !== 'string' || !ULID_RE.test(u)) return { uploaded: [], problem: `bad ULID ${JSON.stringify(u)} in "uploaded"` };
  }
  return { uploaded: o.uploaded as string[] };
}

/**
 * writeShipperState replaces the state file atomically: write `<file>.tmp`, fsync, rename over
 * the file, fsync the directory. The JSON is Thanos' encoding (tab indent, trailing newline).
 */
export async function writeShipperState(dir: string, uploaded: readonly string[]): Promise<void> {
  await writeFileAtomic(join(dir, SHIPPER_STATE_FILE), `${JSON.stringify({ version: SHIPPER_STATE_VERSION, uploaded }, null, '\t')}\n`);
}

/** LocalBlockMeta is the part of a block's meta.json the shipper and retention read. */
export interface LocalBlockMeta {
  ulid: string;
  minTime: number;
  maxTime: number;
  version: number;
  stats?: { numSamples?: number; numSeries?: number; numChunks?: number };
  thanos?: Record<string, unknown>;
  [key: string]: unknown;
}

/** LocalBlock is one `<ULID>/` directory that has a meta.json. */
export interface LocalBlock {
  ulid: string;
  /** dir is the block directory's path. */
  dir: string;
  /** meta is the parsed meta.json; absent when `problem` is set. */
  meta?: LocalBlockMeta;
  /** problem says why the block is unusable (corrupted meta.json). */
  problem?: string;
}

/**
 * scanBlocks lists the blocks in `dir` in ULID (= creation time) order. Directories that are
 * not ULIDs (wal/, `*.tmp*` …) or have no meta.json yet (being written) are skipped.
 */
export async function scanBlocks(dir: string): Promise<LocalBlock[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SluiceError(ErrorCode.Internal, `reading blocks dir ${dir}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const ulids = entries.filter((e) => e.isDirectory() && ULID_RE.test(e.name)).map((e) => e.name).sort();
  const out: LocalBlock[] = [];
  for (const ulid of ulids) {
    const bdir = join(dir, ulid);
    let text: string;
    try {
      text = await readFile(join(bdir, META_FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      out.push({ ulid, dir: bdir, problem: `reading meta.json: ${e instanceof Error ? e.message : String(e)}` });
      continue;
    }
    const parsed = parseMeta(text, ulid);
    out.push(typeof parsed === 'string' ? { ulid, dir: bdir, problem: parsed } : { ulid, dir: bdir, meta: parsed });
  }
  return out;
}

/** parseMeta validates meta.json text; returns the problem as a string when it is unusable. */
export function parseMeta(text: string, ulid: string): LocalBlockMeta | string {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    return `meta.json is not valid JSON: ${e instanceof Error ? e.message : String(e)}`;
  }
  const o = m as Partial<LocalBlockMeta> | null;
  if (o === null || typeof o !== 'object') return 'meta.json is not an object';
  if (o.ulid !== ulid) return `meta.json names ULID ${JSON.stringify(o.ulid)}, directory is ${ulid}`;
  if (o.version !== 1) return `meta.json version ${JSON.stringify(o.version)} is not 1`;
  if (!Number.isSafeInteger(o.minTime) || !Number.isSafeInteger(o.maxTime)) return 'meta.json minTime/maxTime are not integers';
  return o as LocalBlockMeta;
}

/** BlockFile is one file of a block to upload, relative to the block dir (`/`-separated). */
export interface BlockFile {
  rel: string;
  size: number;
}

/**
 * blockFiles lists a block's data files in upload order: `chunks/*` by name, then `index`
 * (meta.json is not listed: it goes last, separately). Throws when either part is missing.
 */
export async function blockFiles(blockDir: string): Promise<BlockFile[]> {
  const out: BlockFile[] = [];
  let chunks;
  try {
    chunks = await readdir(join(blockDir, 'chunks'), { withFileTypes: true });
  } catch (e) {
    throw new SluiceError(ErrorCode.Internal, `block ${blockDir}: no chunks directory: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  for (const name of chunks.filter((c) => c.isFile()).map((c) => c.name).sort()) {
    out.push({ rel: `chunks/${name}`, size: (await stat(join(blockDir, 'chunks', name))).size });
  }
  try {
    out.push({ rel: 'index', size: (await stat(join(blockDir, 'index'))).size });
  } catch (e) {
    throw new SluiceError(ErrorCode.Internal, `block ${blockDir}: no index file: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return out;
}
