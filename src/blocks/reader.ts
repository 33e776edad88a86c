/**
 * BlockReader opens a block (meta.json, index, chunk segments) through BlockFiles, an opener of
 * RangeReaders by block-relative path, so the same code reads a local directory now and object
 * storage later; localBlockFiles is the local-directory implementation. select() streams the
 * series matching label matchers with their chunks overlapping a time range, reading only the
 * index and chunk ranges it needs; seriesLabels(), labelNamesOf() and labelValuesOf() answer the
 * metadata endpoints from the index alone (series entries: labels and chunk metas, never chunk
 * bytes). Touches only the files it opens, read-only.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Labels } from '../model/labels.js';
import type { Matcher } from '../model/matchers.js';
import { ErrorCode, SluiceError } from '../errors.js';
import { CHUNKS_DIR } from './chunks/format.js';
import { ChunksReader, type Segment } from './chunks/reader.js';
import { INDEX_FILE, type ChunkMeta } from './index/format.js';
import { LocalFileReader, type RangeReader } from './index/rangereader.js';
import { IndexReader } from './index/reader.js';
import type { PostingsCache } from './index/postingsCache.js';
import { union } from './index/postings.js';
import { META_FILE, parseMeta, type BlockMeta } from './meta.js';

/** BlockFiles opens the files of one block by path relative to the block directory. */
export interface BlockFiles {
  /** open returns a RangeReader for `relPath` ("meta.json", "index", "chunks/000001"). */
  open(relPath: string): Promise<RangeReader>;
  /**
   * list returns the file names in a block subdirectory; used to find chunk segments when
   * meta.json has no thanos.segment_files.
   */
  list?(relDir: string): Promise<string[]>;
}

/** localBlockFiles serves a block directory on the local file system. */
export function localBlockFiles(dir: string): BlockFiles {
  return {
    open: (rel) => LocalFileReader.open(join(dir, rel)),
    list: (rel) => readdir(join(dir, rel)),
  };
}

/** SelectedChunk is a chunk's meta with its XOR bytes. */
export interface SelectedChunk extends ChunkMeta {
  data: Uint8Array;
}

/** SelectedSeries is one series returned by select(). */
export interface SelectedSeries {
  labels: Labels;
  chunks: SelectedChunk[];
}

/** SELECT_BATCH is how many series select() reads per round of index and chunk reads. */
const SELECT_BATCH = 256;

/** BlockReader reads one block. */
export class BlockReader {
  readonly meta: BlockMeta;
  readonly index: IndexReader;
  readonly chunks: ChunksReader;
  private readonly readers: RangeReader[];

  private constructor(meta: BlockMeta, index: IndexReader, chunks: ChunksReader, readers: RangeReader[]) {
    this.meta = meta;
    this.index = index;
    this.chunks = chunks;
    this.readers = readers;
  }

  /**
   * open reads meta.json, opens the index and every chunk segment; postings lists read by queries
   * are kept in `postings` when given (shared by the blocks of a node).
   */
  static async open(files: BlockFiles, postings?: PostingsCache): Promise<BlockReader> {
    const readers: RangeReader[] = [];
    try {
      const mr = await files.open(META_FILE);
      let text: string;
      try {
        text = Buffer.from(await mr.read(0, mr.size)).toString('utf8');
      } finally {
        await mr.close();
      }
      const meta = parseMeta(text);

      let names = meta.thanos?.segment_files;
      if (names === undefined || names.length === 0) {
        if (!files.list) throw new SluiceError(ErrorCode.Internal, 'block has no thanos.segment_files and its files cannot be listed');
        names = (await files.list(CHUNKS_DIR)).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
      }
      const segs: Segment[] = [];
      for (const name of names) {
        const r = await files.open(`${CHUNKS_DIR}/${name}`);
        readers.push(r);
        segs.push({ name, reader: r });
      }
      const ir = await files.open(INDEX_FILE);
      readers.push(ir);
      const index = await IndexReader.open(ir, INDEX_FILE, postings);
      const chunks = await ChunksReader.open(segs);
      return new BlockReader(meta, index, chunks, readers);
    } catch (e) {
      await Promise.all(readers.map((r) => r.close().catch(() => undefined)));
      throw e;
    }
  }

  /** openDir opens the block in a local directory. */
  static openDir(dir: string, postings?: PostingsCache): Promise<BlockReader> {
    return BlockReader.open(localBlockFiles(dir), postings);
  }

  /**
   * select yields, in label order, the series matching every matcher that have a chunk
   * overlapping [mint, maxt] (inclusive, ms), with those chunks. Chunks are whole: samples
   * outside the range are the caller's to skip.
   */
  async *select(matchers: readonly Matcher[], mint: number, maxt: number): AsyncGenerator<SelectedSeries> {
    const refs = await this.index.postingsForMatchers(matchers);
    for (let i = 0; i < refs.length; i += SELECT_BATCH) {
      const entries = await this.index.seriesMany(refs.subarray(i, i + SELECT_BATCH));
      const want: number[] = [];
      const picked: ChunkMeta[][] = [];
      for (const e of entries) {
        const cs = e.chunks.filter((c) => c.maxT >= mint && c.minT <= maxt);
        picked.push(cs);
        for (const c of cs) want.push(c.ref);
      }
      const datas = await this.chunks.chunks(want);
      let k = 0;
      for (let j = 0; j < entries.length; j++) {
        const cs = picked[j]!;
        if (cs.length === 0) continue;
        yield { labels: entries[j]!.labels, chunks: cs.map((c) => ({ minT: c.minT, maxT: c.maxT, ref: c.ref, data: datas[k++]! })) };
      }
    }
  }

  /**
   * seriesLabels yields, in ref order and in batches, the labels of the series matching any one of
   * `matcherSets` (alternatives, each a conjunction; no sets: every series) that have a chunk
   * overlapping [mint, maxt]. Reads series entries only: no chunk bytes.
   */
  async *seriesLabels(matcherSets: readonly (readonly Matcher[])[], mint: number, maxt: number): AsyncGenerator<Labels[]> {
    const sets = matcherSets.length === 0 ? [[]] : matcherSets;
    const refs = union(await Promise.all(sets.map((ms) => this.index.postingsForMatchers(ms))));
    for (let i = 0; i < refs.length; i += SELECT_BATCH) {
      const entries = await this.index.seriesMany(refs.subarray(i, i + SELECT_BATCH));
      const out: Labels[] = [];
      for (const e of entries) if (e.chunks.some((c) => c.maxT >= mint && c.minT <= maxt)) out.push(e.labels);
      if (out.length > 0) yield out;
    }
  }

  /** covers tells whether every sample of the block lies in [mint, maxt] (meta.maxTime is exclusive). */
  private covers(mint: number, maxt: number): boolean {
    return this.meta.minTime >= mint && this.meta.maxTime - 1 <= maxt;
  }

  /**
   * labelNamesOf returns the label names of the series seriesLabels() would yield, unsorted.
   * With no matcher sets and the block inside [mint, maxt] that is the index's name table.
   */
  async labelNamesOf(matcherSets: readonly (readonly Matcher[])[], mint: number, maxt: number): Promise<string[]> {
    if (matcherSets.length === 0 && this.covers(mint, maxt)) return this.index.labelNames();
    const names = new Set<string>();
    for await (const batch of this.seriesLabels(matcherSets, mint, maxt)) for (const ls of batch) for (const [n] of ls) names.add(n);
    return [...names];
  }

  /**
   * labelValuesOf returns the values of label `name` among the series seriesLabels() would yield,
   * unsorted. Only series that have the label are read; with no matcher sets and the block inside
   * [mint, maxt] the index's value table answers.
   */
  async labelValuesOf(name: string, matcherSets: readonly (readonly Matcher[])[], mint: number, maxt: number): Promise<string[]> {
    if (name === '') return [];
    if (matcherSets.length === 0 && this.covers(mint, maxt)) return this.index.labelValues(name);
    const has: Matcher = { type: '!=', name, value: '' };
    const sets = matcherSets.length === 0 ? [[has]] : matcherSets.map((ms) => [...ms, has]);
    const values = new Set<string>();
    for await (const batch of this.seriesLabels(sets, mint, maxt)) {
      for (const ls of batch) for (const [n, v] of ls) if (n === name) { values.add(v); break; }
    }
    return [...values];
  }

  /** close releases every file. */
  async close(): Promise<void> {
    this.index.close();
    await Promise.all(this.readers.map((r) => r.close().catch(() => undefined)));
  }
}
