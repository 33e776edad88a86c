/**
 * meta.json of a block: the Prometheus fields (ulid, time range, stats, compaction, version) and
 * the Thanos section (external labels, downsampling resolution, source, segment files, file
 * sizes), encoded as Prometheus/Thanos write it (tab-indented JSON, fields in their order).
 * Writing fsyncs the file; reading validates the versions. Touches only the meta.json it is
 * given a directory for.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SluiceError } from '../errors.js';

/** META_FILE is the file name of the meta inside a block directory. */
export const META_FILE = 'meta.json';

/** BlockStats counts what a block holds. */
export interface BlockStats {
  numSamples: number;
  numSeries: number;
  numChunks: number;
}

/** ThanosFile is one entry of thanos.files: a block file and its size (none for meta.json). */
export interface ThanosFile {
  rel_path: string;
  size_bytes?: number;
}

/** ThanosMeta is the `thanos` section Thanos adds to meta.json. */
export interface ThanosMeta {
  /** labels are the block's external labels (including the tenant label for Receive). */
  labels: Record<string, string>;
  downsample: { resolution: number };
  /** source names the component that made the block ("receive"). */
  source: string;
  /** segment_files lists the chunk segment file names ("000001", …). */
  segment_files?: string[];
  /** files lists every file of the block sorted by path; meta.json without size. */
  files?: ThanosFile[];
}

/** BlockMeta is the content of meta.json. minTime is inclusive, maxTime exclusive (ms). */
export interface BlockMeta {
  ulid: string;
  minTime: number;
  maxTime: number;
  stats: BlockStats;
  compaction: { level: number; sources: string[] };
  version: number;
  thanos?: ThanosMeta;
}

/**
 * encodeMeta returns meta.json's text: keys in the order Prometheus and Thanos write them, tab
 * indentation, external labels sorted by name (Go encodes maps sorted), and a final newline.
 */
export function encodeMeta(m: BlockMeta): string {
  const out: Record<string, unknown> = {
    ulid: m.ulid,
    minTime: m.minTime,
    maxTime: m.maxTime,
    stats: { numSamples: m.stats.numSamples, numSeries: m.stats.numSeries, numChunks: m.stats.numChunks },
    compaction: { level: m.compaction.level, sources: m.compaction.sources },
    version: m.version,
  };
  if (m.thanos) {
    const t = m.thanos;
    const labels: Record<string, string> = {};
    for (const k of Object.keys(t.labels).sort()) labels[k] = t.labels[k]!;
    const th: Record<string, unknown> = { labels, downsample: { resolution: t.downsample.resolution }, source: t.source };
    if (t.segment_files && t.segment_files.length > 0) th['segment_files'] = t.segment_files;
    if (t.files && t.files.length > 0) {
      th['files'] = t.files.map((f) => (f.size_bytes === undefined ? { rel_path: f.rel_path } : { rel_path: f.rel_path, size_bytes: f.size_bytes }));
    }
    out['thanos'] = th;
  }
  return `${JSON.stringify(out, null, '\t')}\n`;
}

/** parseMeta parses and validates meta.json text (version 1, a ULID, a sane time range). */
export function parseMeta(text: string): BlockMeta {
  let m: BlockMeta;
  try {
    m = JSON.parse(text) as BlockMeta;
  } catch (e) {
    throw new SluiceError(ErrorCode.Internal, `meta.json is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof m !== 'object' || m === null) throw new SluiceError(ErrorCode.Internal, 'meta.json is not an object');
  if (m.version !== 1) throw new SluiceError(ErrorCode.Internal, `meta.json version ${String(m.version)} is not supported (want 1)`);
  if (typeof m.ulid !== 'string' || typeof m.minTime !== 'number' || typeof m.maxTime !== 'number' || !m.stats || !m.compaction) {
    throw new SluiceError(ErrorCode.Internal, 'meta.json lacks ulid, minTime, maxTime, stats or compaction');
  }
  return m;
}

/** writeMeta writes `<dir>/meta.json` and fsyncs it; returns its size in bytes. */
export async function writeMeta(dir: string, m: BlockMeta): Promise<number> {
  const data = Buffer.from(encodeMeta(m), 'utf8');
  const fh = await open(join(dir, META_FILE), 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return data.length;
}

/** readMeta reads and validates `<dir>/meta.json`. */
export async function readMeta(dir: string): Promise<BlockMeta> {
  return parseMeta(await readFile(join(dir, META_FILE), 'utf8'));
}
