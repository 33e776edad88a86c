/**
 * writeBlock writes one Prometheus-format block (chunks segments, index, meta.json) from a stream
 * of series, the way a head is cut into a block every block period. It streams: each series'
 * chunk bytes go straight into the chunks file buffer and only their references are kept until
 * the series entry is written to the index, so the extra memory is the symbol table, the
 * postings (a few bytes per label of each series) and fixed buffers, not the chunk bytes.
 *
 * The block is built in `<parent>/<ULID>.tmp`, every file fsynced, then renamed to
 * `<parent>/<ULID>` and the parent directory fsynced (atomic, as Prometheus does); on failure the
 * temporary directory is removed. Touches only those two paths under `parentDir`.
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Labels } from '../model/labels.js';
import { ErrorCode, SluiceError } from '../errors.js';
import { CHUNKS_DIR, DEFAULT_SEGMENT_BYTES } from './chunks/format.js';
import { ChunkWriter } from './chunks/writer.js';
import { INDEX_FILE, type ChunkMeta } from './index/format.js';
import { sortSymbols } from './index/order.js';
import { IndexWriter } from './index/writer.js';
import { META_FILE, writeMeta, type BlockMeta, type ThanosFile } from './meta.js';
import { isUlid, newUlid } from './ulid.js';

/** BlockChunk is one XOR chunk of a series: its bytes as the head holds them, and its sample time range. */
export interface BlockChunk {
  /** minT is the timestamp of the first sample (ms). */
  minT: number;
  /** maxT is the timestamp of the last sample (ms). */
  maxT: number;
  /** data is the Prometheus XOR chunk (2-byte sample count, bit stream); written unchanged. */
  data: Uint8Array;
}

/** BlockSeries is one series to write: its labels (sorted by name) and chunks in time order. */
export interface BlockSeries {
  labels: Labels;
  chunks: readonly BlockChunk[];
  /**
   * symbolRefs, only with `symbolsSorted`, are the labels as indexes into the symbols (name,
   * value, name, value, …): the writer then looks no string up, and `labels` only names the
   * series in errors.
   */
  symbolRefs?: Uint32Array;
}

/** WriteBlockOptions says what to write. */
export interface WriteBlockOptions {
  /** mint is the block's first millisecond (inclusive); every sample must be ≥ mint. */
  mint: number;
  /** maxt is the block's end (exclusive, as meta.json's maxTime); every sample must be < maxt. */
  maxt: number;
  /**
   * symbols holds every label name and value of the series (any order, duplicates allowed);
   * extra strings are harmless. It must be complete before the first series is written.
   */
  symbols: Iterable<string>;
  /**
   * symbolsSorted says `symbols` is an array that is already the symbol table: distinct, in
   * UTF-8 byte order, starting with the empty string (checked). It is used as it is, without a
   * copy, and series may name their labels by index (BlockSeries.symbolRefs).
   */
  symbolsSorted?: boolean;
  /**
   * series yields the series in strictly increasing label order (compareLabelsUtf8, Prometheus'
   * byte order). Each item is consumed completely (labels read, chunk bytes copied) before the
   * next is requested, so the producer may reuse its objects and buffers. Series without chunks
   * and chunks without samples are skipped.
   */
  series: AsyncIterable<BlockSeries> | Iterable<BlockSeries>;
  /** thanos adds the Thanos section to meta.json: external labels and the source component. */
  thanos?: { labels: Record<string, string>; source: string };
  /** ulid names the block; a new monotonic ULID by default. */
  ulid?: string;
  /** segmentBytes is the chunks segment size (512 MiB by default; tests use less). */
  segmentBytes?: number;
}

/** WrittenBlock describes a block after writeBlock. */
export interface WrittenBlock {
  ulid: string;
  /** dir is the block directory (`<parentDir>/<ulid>`). */
  dir: string;
  meta: BlockMeta;
}

function invalid(msg: string): never {
  throw new SluiceError(ErrorCode.Internal, `block writer: ${msg}`);
}

/** writeBlock writes a block into `<parentDir>/<ULID>` and returns its meta. */
export async function writeBlock(parentDir: string, opts: WriteBlockOptions): Promise<WrittenBlock> {
  const ulid = opts.ulid ?? newUlid();
  if (!isUlid(ulid)) invalid(`${JSON.stringify(ulid)} is not a ULID`);
  const { mint, maxt } = opts;
  if (!Number.isSafeInteger(mint) || !Number.isSafeInteger(maxt) || mint >= maxt) invalid(`bad time range [${mint}, ${maxt})`);
  const dir = join(parentDir, ulid);
  const tmp = `${dir}.tmp`;
  if (await exists(dir)) invalid(`${dir} already exists`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, CHUNKS_DIR), { recursive: true });

  let cw: ChunkWriter | null = null;
  let iw: IndexWriter | null = null;
  try {
    // The empty string is always a symbol in Prometheus (its head indexes the "" "" all-series key).
    let symbols: readonly string[];
    if (opts.symbolsSorted) {
      if (!Array.isArray(opts.symbols)) invalid('symbolsSorted needs the symbols as an array');
      symbols = opts.symbols as readonly string[];
    } else {
      symbols = sortSymbols(withEmpty(opts.symbols));
    }
    const byRefs = opts.symbolsSorted === true;
    cw = new ChunkWriter(join(tmp, CHUNKS_DIR), opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES);
    iw = await IndexWriter.create(join(tmp, INDEX_FILE), symbols);

    // Reused chunk metas: no allocation per series once the pool covers the longest series.
    const pool: ChunkMeta[] = [];
    const metas: ChunkMeta[] = [];
    let numSamples = 0;
    let numChunks = 0;
    const cwr = cw;
    const iwr = iw;

    /** writeChunk appends one chunk and records its meta; returns its sample count (0: skipped). */
    const writeChunk = (s: BlockSeries, c: BlockChunk): number => {
      const d = c.data;
      if (d.length < 2) invalid(`chunk of ${d.length} bytes in series ${fmt(s.labels)}`);
      const count = (d[0]! << 8) | d[1]!;
      if (count === 0) return 0;
      if (c.minT < mint || c.maxT >= maxt || c.maxT < c.minT) {
        invalid(`chunk [${c.minT}, ${c.maxT}] of series ${fmt(s.labels)} is outside the block range [${mint}, ${maxt})`);
      }
      let m = pool[metas.length];
      if (m === undefined) {
        m = { minT: 0, maxT: 0, ref: 0 };
        pool.push(m);
      }
      m.minT = c.minT;
      m.maxT = c.maxT;
      m.ref = cwr.append(d);
      metas.push(m);
      return count;
    };
    /** finish writes the index entry; returns a promise only when a buffer must be flushed. */
    const finish = (s: BlockSeries, samples: number): Promise<void> | null => {
      if (metas.length === 0) return null;
      if (s.symbolRefs !== undefined && !byRefs) invalid(`series ${fmt(s.labels)} names its labels by symbol refs, but the symbols are not symbolsSorted`);
      iwr.addSeries(s.labels, metas, s.symbolRefs);
      numSamples += samples;
      numChunks += metas.length;
      const fc = cwr.full();
      const fi = iwr.full();
      if (!fc && !fi) return null;
      return (async () => {
        if (fc) await cwr.flush();
        if (fi) await iwr.flush();
      })();
    };
    /** addSlow handles a series whose chunks need a new segment: cut where needed. */
    const addSlow = async (s: BlockSeries): Promise<void> => {
      let samples = 0;
      for (const c of s.chunks) {
        if (c.data.length >= 2 && ((c.data[0]! << 8) | c.data[1]!) > 0 && cwr.needsCut(c.data.length)) await cwr.cut();
        samples += writeChunk(s, c);
      }
      const p = finish(s, samples);
      if (p) await p;
    };
    /**
     * add writes one series. The common case (its chunks fit the current segment) runs without
     * awaiting anything unless a buffer is full, so there is no promise per series.
     */
    const add = (s: BlockSeries): Promise<void> | null => {
      metas.length = 0;
      if (!cwr.fits(s.chunks)) return addSlow(s);
      let samples = 0;
      for (const c of s.chunks) samples += writeChunk(s, c);
      return finish(s, samples);
    };

    const src = opts.series;
    if (Symbol.asyncIterator in src) {
      for await (const s of src) {
        const p = add(s);
        if (p) await p;
      }
    } else {
      for (const s of src) {
        const p = add(s);
        if (p) await p;
      }
    }

    const segments = await cw.close();
    cw = null;
    const numSeries = iw.numSeries;
    const indexSize = await iw.close();
    iw = null;

    const meta: BlockMeta = {
      ulid,
      minTime: mint,
      maxTime: maxt,
      stats: { numSamples, numSeries, numChunks },
      compaction: { level: 1, sources: [ulid] },
      version: 1,
    };
    if (opts.thanos) {
      const files: ThanosFile[] = segments.map((s) => ({ rel_path: `${CHUNKS_DIR}/${s.name}`, size_bytes: s.size }));
      files.push({ rel_path: INDEX_FILE, size_bytes: indexSize }, { rel_path: META_FILE });
      meta.thanos = {
        labels: { ...opts.thanos.labels },
        downsample: { resolution: 0 },
        source: opts.thanos.source,
        segment_files: segments.map((s) => s.name),
        files,
      };
    }
    await writeMeta(tmp, meta);
    await syncDir(join(tmp, CHUNKS_DIR));
    await syncDir(tmp);
    await rename(tmp, dir);
    await syncDir(parentDir);
    return { ulid, dir, meta };
  } catch (e) {
    await cw?.abort();
    await iw?.abort();
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

function* withEmpty(symbols: Iterable<string>): Generator<string> {
  yield '';
  yield* symbols;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** syncDir fsyncs a directory so the entries created or renamed in it are durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function fmt(ls: Labels): string {
  return `{${ls.map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(', ')}}`;
}
