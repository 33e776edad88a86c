/**
 * IndexReader reads a block's `index` file through a RangeReader, fetching only the byte ranges
 * it needs: at open the header, TOC, symbol table and postings offset table (each CRC-checked),
 * then postings lists and series entries on demand, coalescing neighbouring ranges into one read
 * (so an object-storage backend makes few requests). Every section read is CRC-checked; bad
 * bytes throw BlockCorruptionError. Touches nothing but the RangeReader it is given.
 */
import type { Labels } from '../../model/labels.js';
import { MatchType, compileMatcher, type Matcher } from '../../model/matchers.js';
import { BlockCorruptionError, Decbuf, checkCrc, decodeUtf8, peekEnd, peekUvarint } from './decbuf.js';
import {
  INDEX_FILE, INDEX_HEADER_LEN, INDEX_MAGIC, SERIES_ALIGN, TOC_LEN, type ChunkMeta, type Toc,
} from './format.js';
import { compareUtf8 } from './order.js';
import { EMPTY_POSTINGS, intersect, subtract, union } from './postings.js';
import { readClamped, type RangeReader } from './rangereader.js';
import type { PostingsCache } from './postingsCache.js';

/** SeriesEntry is one decoded series: its ref, labels and chunk metas. */
export interface SeriesEntry {
  ref: number;
  labels: Labels;
  chunks: ChunkMeta[];
}

/** SERIES_GUESS is how many bytes are read for a series entry before its length is known. */
const SERIES_GUESS = 512;
/** COALESCE_GAP is the largest gap of unneeded bytes worth reading to save a request. */
const COALESCE_GAP = 64 * 1024;
/** MAX_READ caps one coalesced read. */
const MAX_READ = 8 * 1024 * 1024;

/** NameEntry locates a label name's values in the postings offset table. */
interface NameEntry {
  /** values are the name's values, in byte order. */
  values: string[];
  /** first is the index of the name's first value in `offs`. */
  first: number;
}

/** IndexReader answers symbol, label, postings and series lookups on one index file. */
export class IndexReader {
  /** toc is the table of contents. */
  readonly toc: Toc;
  /** version is the index format version (2). */
  readonly version: number;
  private readonly r: RangeReader;
  private readonly file: string;
  /** symBytes is the symbol section (count and entries); symOffs[i] is symbol i's offset in it. */
  private readonly symBytes: Uint8Array;
  private readonly symOffs: Uint32Array;
  private readonly nameCache = new Map<number, string>();
  private readonly names: Map<string, NameEntry>;
  /** offs[i] is the file offset of postings list i (table order); offs[entries] ends the last. */
  private readonly offs: Float64Array;
  /** cache holds decoded postings lists across queries (shared by every open block), if any. */
  private readonly cache: PostingsCache | undefined;
  private readonly cacheScope: string;

  private constructor(
    r: RangeReader, file: string, version: number, toc: Toc, symBytes: Uint8Array, symOffs: Uint32Array, names: Map<string, NameEntry>,
    offs: Float64Array, cache: PostingsCache | undefined,
  ) {
    this.cache = cache;
    this.cacheScope = cache?.scope() ?? '';
    this.r = r;
    this.file = file;
    this.version = version;
    this.toc = toc;
    this.symBytes = symBytes;
    this.symOffs = symOffs;
    this.names = names;
    this.offs = offs;
  }

  /**
   * open reads and checks the header, TOC, symbol table and postings offset table. Postings lists
   * read later are kept in `cache` when one is given.
   */
  static async open(r: RangeReader, file = INDEX_FILE, cache?: PostingsCache): Promise<IndexReader> {
    if (r.size < INDEX_HEADER_LEN + TOC_LEN) throw new BlockCorruptionError(file, 0, `file of ${r.size} bytes is too short for an index`);
    const head = await r.read(0, INDEX_HEADER_LEN);
    const magic = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
    if (magic !== INDEX_MAGIC) throw new BlockCorruptionError(file, 0, `bad magic 0x${magic.toString(16)} (want 0x${INDEX_MAGIC.toString(16)})`);
    const version = head[4]!;
    if (version !== 2) throw new BlockCorruptionError(file, 4, `unsupported index version ${version} (want 2)`);

    const tocOff = r.size - TOC_LEN;
    const tb = await r.read(tocOff, TOC_LEN);
    checkCrc(tb, 0, TOC_LEN - 4, file, tocOff, 'TOC');
    const td = new Decbuf(tb, 0, TOC_LEN - 4, file, tocOff);
    const toc: Toc = {
      symbols: td.u64(), series: td.u64(), labelIndices: td.u64(), labelIndicesTable: td.u64(), postings: td.u64(), postingsTable: td.u64(),
    };
    for (const [k, v] of Object.entries(toc)) {
      if (v > tocOff) throw new BlockCorruptionError(file, tocOff, `TOC entry ${k} = ${v} points past the TOC`);
    }

    // Symbols: len <4b> | count <4b> | entries | CRC32.
    const symSec = await readSection(r, file, toc.symbols, 'symbol table');
    const sd = new Decbuf(symSec, 0, symSec.length, file, toc.symbols + 4);
    const n = sd.u32();
    const symOffs = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      symOffs[i] = sd.pos;
      sd.skip(sd.uvarint());
    }

    // Postings offset table: len <4b> | count <4b> | entries (n=2, name, value, offset) | CRC32.
    const pt = await readSection(r, file, toc.postingsTable, 'postings offset table');
    const pd = new Decbuf(pt, 0, pt.length, file, toc.postingsTable + 4);
    const entries = pd.u32();
    const offs = new Float64Array(entries + 1);
    const names = new Map<string, NameEntry>();
    let cur: NameEntry | null = null;
    let curName = '';
    for (let i = 0; i < entries; i++) {
      const at = pd.pos;
      const keys = pd.uvarint();
      if (keys !== 2) throw new BlockCorruptionError(file, toc.postingsTable + 4 + at, `postings offset entry with ${keys} keys (want 2)`);
      const name = pd.uvarintStr();
      const value = pd.uvarintStr();
      const off = pd.uvarint();
      if (cur === null || name !== curName) {
        if (names.has(name)) throw new BlockCorruptionError(file, toc.postingsTable + 4 + at, `postings offset table not sorted at ${JSON.stringify(name)}`);
        cur = { values: [], first: i };
        names.set(name, cur);
        curName = name;
      }
      cur.values.push(value);
      if (i > 0 && off <= offs[i - 1]!) throw new BlockCorruptionError(file, toc.postingsTable + 4 + at, 'postings offsets not increasing');
      offs[i] = off;
    }
    offs[entries] = toc.postingsTable;
    return new IndexReader(r, file, version, toc, symSec, symOffs, names, offs, cache);
  }

  /** numSymbols returns the size of the symbol table. */
  get numSymbols(): number {
    return this.symOffs.length;
  }

  /** symbol returns symbol `i`. */
  symbol(i: number): string {
    if (i >= this.symOffs.length) throw new BlockCorruptionError(this.file, this.toc.symbols, `symbol ref ${i} out of range (${this.symOffs.length} symbols)`);
    const b = this.symBytes;
    let p = this.symOffs[i]!;
    let len = 0;
    let mul = 1;
    for (;;) {
      const c = b[p++]!;
      len += (c & 0x7f) * mul;
      if (c < 0x80) break;
      mul *= 128;
    }
    return decodeUtf8(b, p, len);
  }

  /** labelNames returns every label name, in byte order. */
  labelNames(): string[] {
    const out: string[] = [];
    for (const k of this.names.keys()) if (k !== '') out.push(k);
    return out;
  }

  /** labelValues returns the values of `name`, in byte order ([] for an unknown name). */
  labelValues(name: string): string[] {
    if (name === '') return [];
    return this.names.get(name)?.values.slice() ?? [];
  }

  /** postings returns the refs of the series with label name=value (all series for "", ""). */
  async postings(name: string, value: string): Promise<Uint32Array> {
    const e = this.names.get(name);
    if (e === undefined) return EMPTY_POSTINGS;
    const i = findValue(e.values, value);
    if (i < 0) return EMPTY_POSTINGS;
    const [list] = await this.readPostings([e.first + i]);
    return list!;
  }

  /** allPostings returns every series ref. */
  allPostings(): Promise<Uint32Array> {
    return this.postings('', '');
  }

  /**
   * postingsWhere returns the union of the postings of the values of `name` that `pred` accepts.
   * The lists of one name are adjacent in the file, so this is usually one read.
   */
  async postingsWhere(name: string, pred: (v: string) => boolean): Promise<Uint32Array> {
    const e = this.names.get(name);
    if (e === undefined || name === '') return EMPTY_POSTINGS;
    const idx: number[] = [];
    for (let i = 0; i < e.values.length; i++) if (pred(e.values[i]!)) idx.push(e.first + i);
    return union(await this.readPostings(idx));
  }

  /**
   * postingsForMatchers returns the refs of the series matching every matcher, with Prometheus
   * semantics: a matcher that matches the empty string also matches series without the label.
   * No matchers select every series.
   */
  async postingsForMatchers(matchers: readonly Matcher[]): Promise<Uint32Array> {
    const its: Uint32Array[] = [];
    const notIts: Uint32Array[] = [];
    for (const m of matchers) {
      const cm = compileMatcher(m);
      if (cm.matches('')) {
        // Series without the label match; remove those whose value does not.
        notIts.push(await this.postingsWhere(m.name, (v) => !cm.matches(v)));
      } else if (m.type === MatchType.EQ) {
        its.push(await this.postings(m.name, m.value));
      } else {
        its.push(await this.postingsWhere(m.name, (v) => cm.matches(v)));
      }
    }
    let res: Uint32Array;
    if (its.length === 0) {
      res = await this.allPostings();
    } else {
      its.sort((a, b) => a.length - b.length);
      res = its[0]!;
      for (let i = 1; i < its.length && res.length > 0; i++) res = intersect(res, its[i]!);
    }
    if (notIts.length > 0 && res.length > 0) res = subtract(res, union(notIts));
    return res;
  }

  /**
   * readPostings returns postings lists by table index (ascending): from the postings cache when
   * it has them, the others read with adjacent reads coalesced (and then cached).
   */
  private async readPostings(idx: readonly number[]): Promise<Uint32Array[]> {
    const out: Uint32Array[] = new Array(idx.length);
    const miss: number[] = [];
    const cache = this.cache;
    for (let k = 0; k < idx.length; k++) {
      const hit = cache?.get(this.cacheScope, idx[k]!);
      if (hit === undefined) miss.push(k);
      else out[k] = hit;
    }
    let i = 0;
    while (i < miss.length) {
      const start = this.offs[idx[miss[i]!]!]!;
      let j = i;
      let end = this.offs[idx[miss[i]!]! + 1]!;
      while (j + 1 < miss.length) {
        const nOff = this.offs[idx[miss[j + 1]!]!]!;
        const nEnd = this.offs[idx[miss[j + 1]!]! + 1]!;
        if (nOff - end > COALESCE_GAP || nEnd - start > MAX_READ) break;
        end = nEnd;
        j++;
      }
      const buf = await this.r.read(start, end - start);
      for (let m = i; m <= j; m++) {
        const t = idx[miss[m]!]!;
        const list = this.decodePostings(buf, this.offs[t]! - start, this.offs[t]!);
        cache?.set(this.cacheScope, t, list);
        out[miss[m]!] = list;
      }
      i = j + 1;
    }
    return out;
  }

  /** close forgets this index's cached postings (the caller closes the file). */
  close(): void {
    this.cache?.drop(this.cacheScope);
  }

  private decodePostings(buf: Uint8Array, p: number, fileOff: number): Uint32Array {
    const d = new Decbuf(buf, p, buf.length, this.file, fileOff - p);
    const len = d.u32();
    checkCrc(buf, p + 4, len, this.file, fileOff, 'postings list');
    const n = d.u32();
    if (len !== 4 + 4 * n) throw new BlockCorruptionError(this.file, fileOff, `postings list length ${len} does not match ${n} entries`);
    const refs = new Uint32Array(n);
    let q = p + 8;
    for (let i = 0; i < n; i++, q += 4) refs[i] = ((buf[q]! << 24) | (buf[q + 1]! << 16) | (buf[q + 2]! << 8) | buf[q + 3]!) >>> 0;
    return refs;
  }

  /** series reads one series entry. */
  async series(ref: number): Promise<SeriesEntry> {
    const [s] = await this.seriesMany([ref]);
    return s!;
  }

  /**
   * seriesMany reads the series entries of ascending `refs`, coalescing nearby entries into one
   * read and re-reading exactly any entry longer than the guess.
   */
  async seriesMany(refs: ArrayLike<number>): Promise<SeriesEntry[]> {
    const out: SeriesEntry[] = [];
    const secEnd = this.toc.labelIndices;
    let i = 0;
    while (i < refs.length) {
      const start = this.seriesOffset(refs[i]!);
      let j = i;
      while (j + 1 < refs.length) {
        const next = this.seriesOffset(refs[j + 1]!);
        if (next - (this.seriesOffset(refs[j]!) + SERIES_GUESS) > COALESCE_GAP || next + SERIES_GUESS - start > MAX_READ) break;
        j++;
      }
      const end = Math.min(secEnd, this.seriesOffset(refs[j]!) + SERIES_GUESS);
      const buf = await this.r.read(start, end - start);
      for (let k = i; k <= j; k++) {
        const off = this.seriesOffset(refs[k]!);
        const s = this.decodeSeries(buf, off - start, off, refs[k]!) ?? (await this.readOneSeries(refs[k]!));
        out.push(s);
      }
      i = j + 1;
    }
    return out;
  }

  private seriesOffset(ref: number): number {
    const off = ref * SERIES_ALIGN;
    if (off < this.toc.series || off >= this.toc.labelIndices) {
      throw new BlockCorruptionError(this.file, off, `series ref ${ref} outside the series section`);
    }
    return off;
  }

  private async readOneSeries(ref: number): Promise<SeriesEntry> {
    const off = this.seriesOffset(ref);
    const pre = await readClamped(this.r, off, 10);
    const d = new Decbuf(pre, 0, pre.length, this.file, off);
    const len = d.uvarint();
    const total = d.pos + len + 4;
    if (off + total > this.toc.labelIndices) throw new BlockCorruptionError(this.file, off, `series entry of ${len} bytes runs past the series section`);
    const buf = await this.r.read(off, total);
    return this.decodeSeries(buf, 0, off, ref, true)!;
  }

  /**
   * decodeSeries decodes the entry at buf[p]. When the buffer ends before the entry does it
   * returns null, unless `exact` (the buffer was sized for this entry), where that is corruption.
   */
  private decodeSeries(buf: Uint8Array, p: number, fileOff: number, ref: number, exact = false): SeriesEntry | null {
    const base = fileOff - p;
    const len = peekUvarint(buf, p, 10);
    const start = peekEnd;
    if (start === -2 || (start === -1 && exact)) throw new BlockCorruptionError(this.file, fileOff, `series ${ref}: bad length varint`);
    if (start === -1 || start + len + 4 > buf.length) {
      if (exact) throw new BlockCorruptionError(this.file, fileOff, `series ${ref}: entry of ${len} bytes is truncated`);
      return null;
    }
    checkCrc(buf, start, len, this.file, fileOff, `series ${ref}`);
    const e = new Decbuf(buf, start, start + len, this.file, base);
    const nl = e.uvarint();
    const labels: Labels = new Array(nl);
    for (let i = 0; i < nl; i++) {
      const ns = e.uvarint();
      let name = this.nameCache.get(ns);
      if (name === undefined) {
        name = this.symbol(ns);
        this.nameCache.set(ns, name);
      }
      labels[i] = [name, this.symbol(e.uvarint())];
    }
    const nc = e.uvarint();
    const chunks: ChunkMeta[] = new Array(nc);
    if (nc > 0) {
      let minT = e.varint();
      let maxT = minT + e.uvarint();
      let cref = e.uvarint();
      chunks[0] = { minT, maxT, ref: cref };
      for (let i = 1; i < nc; i++) {
        minT = maxT + e.uvarint();
        maxT = minT + e.uvarint();
        cref += e.varint();
        chunks[i] = { minT, maxT, ref: cref };
      }
    }
    return { ref, labels, chunks };
  }
}

/** readSection reads a `len <4b> | body | CRC32` section at `off`, checks it, returns the body. */
async function readSection(r: RangeReader, file: string, off: number, what: string): Promise<Uint8Array> {
  if (off + 8 > r.size) throw new BlockCorruptionError(file, off, `${what} starts past the end of the file`);
  const lb = await r.read(off, 4);
  const len = ((lb[0]! << 24) | (lb[1]! << 16) | (lb[2]! << 8) | lb[3]!) >>> 0;
  if (off + 4 + len + 4 > r.size) throw new BlockCorruptionError(file, off, `${what} of ${len} bytes runs past the end of the file`);
  const b = await r.read(off + 4, len + 4);
  checkCrc(b, 0, len, file, off, what);
  return b.subarray(0, len);
}

/** findValue binary-searches sorted (byte order) values; -1 when absent. */
function findValue(values: readonly string[], v: string): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareUtf8(values[mid]!, v);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
