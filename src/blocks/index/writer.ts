/**
 * IndexWriter streams a block's `index` file in Prometheus index format v2 (docs/format/block.md):
 * header and symbol table when created (so the symbol set must be known first), one series entry
 * per addSeries() in label order, and on close() the label indices, postings lists, label offset
 * table, postings offset table and TOC, laid out byte for byte as Prometheus 2.x writes them.
 *
 * Memory: a Map from symbol to index (only when series come as strings, not symbol refs), the
 * postings as typed arrays (PostingsCollector: 8 bytes per label of each series plus 4 per
 * series), 16 bytes per postings list for the offset table (written from symbol refs at the
 * end), and two buffers.
 * Series entries go to the file as they come. Touches only the file it creates.
 */
import type { Labels } from '../../model/labels.js';
import { ErrorCode, SluiceError } from '../../errors.js';
import { crc32c } from '../../wal/crc32c.js';
import { Encbuf, uvarintSize } from './encbuf.js';
import { FileWriter } from './filewriter.js';
import {
  INDEX_MAGIC, INDEX_VERSION, POSTINGS_ALIGN, SERIES_ALIGN, type ChunkMeta, type Toc,
} from './format.js';
import { compareUtf8 } from './order.js';
import { PostingsCollector } from './postings.js';

/** POSTINGS_SLICE is how many refs of a postings list are buffered before a flush check. */
const POSTINGS_SLICE = 1 << 16;

function invalid(msg: string): never {
  throw new SluiceError(ErrorCode.Internal, `index writer: ${msg}`);
}

/** PostingsTableRefs are the postings offset table's entries as symbol refs and file offsets. */
interface PostingsTableRefs {
  names: Uint32Array;
  values: Uint32Array;
  offsets: Float64Array;
  n: number;
}

/** IndexWriter writes one index file. */
export class IndexWriter {
  /** toc holds the section offsets (complete after close()). */
  readonly toc: Toc = { symbols: 0, series: 0, labelIndices: 0, labelIndicesTable: 0, postings: 0, postingsTable: 0 };
  /** numSeries counts the series added. */
  numSeries = 0;
  private readonly w: FileWriter;
  private readonly symbols: readonly string[];
  /** symIndex maps a symbol to its index; built on the first series given by strings. */
  private symIndex: Map<string, number> | undefined;
  private readonly postings: PostingsCollector;
  private readonly entry = new Encbuf(4096);
  /** lastSyms holds the previous series' labels as symbol pairs, for the order check. */
  private lastSyms = new Uint32Array(64);
  private lastLen = -1;
  private curSyms = new Uint32Array(64);
  /** symLens holds each symbol's UTF-8 byte length (written with the symbol table). */
  private symLens: Uint32Array = new Uint32Array(0);

  private constructor(w: FileWriter, symbols: readonly string[]) {
    this.w = w;
    this.symbols = symbols;
    this.postings = new PostingsCollector(symbols.length);
  }

  /**
   * create starts the index at `path` and writes its header and symbol table. `symbols` must be
   * distinct and sorted by UTF-8 bytes (sortSymbols does both) and hold every label name and
   * value of the series to come, and the empty string (so it is symbol 0).
   */
  static async create(path: string, symbols: readonly string[]): Promise<IndexWriter> {
    if (symbols[0] !== '') invalid('the symbols must include the empty string, the all-series postings key (writer.ts adds it)');
    const w = await FileWriter.create(path);
    const iw = new IndexWriter(w, symbols);
    try {
      await iw.writeSymbols();
    } catch (e) {
      await w.abort();
      throw e;
    }
    return iw;
  }

  private async writeSymbols(): Promise<void> {
    const w = this.w;
    const syms = this.symbols;
    w.u32(INDEX_MAGIC);
    w.u8(INDEX_VERSION);
    this.toc.symbols = w.pos;
    const lens = new Uint32Array(syms.length);
    let size = 4;
    for (let i = 0; i < syms.length; i++) {
      const n = Buffer.byteLength(syms[i]!, 'utf8');
      lens[i] = n;
      size += uvarintSize(n) + n;
      if (i > 0 && compareUtf8(syms[i - 1]!, syms[i]!) >= 0) {
        invalid(`symbols not sorted or repeated at ${JSON.stringify(syms[i])} (use sortSymbols)`);
      }
    }
    if (size > 0xffffffff) invalid(`symbol table of ${size} bytes exceeds 4 GiB`);
    w.u32(size);
    w.crcBegin();
    w.u32(syms.length);
    for (let i = 0; i < syms.length; i++) {
      w.uvarint(lens[i]!);
      w.utf8(syms[i]!, lens[i]!);
      if ((i & 1023) === 1023) await w.maybeFlush();
    }
    w.u32(w.crcEnd());
    this.symLens = lens;
    this.toc.series = w.pos;
  }

  /**
   * addSeries appends one series entry to the buffer and returns its ref (offset / 16). Series
   * must come in strictly increasing label order (compareLabelsUtf8); chunks in time order,
   * non-overlapping, with increasing refs. The labels and chunk metas are not retained.
   * `syms`, when given, holds the labels as symbol indexes (name, value, …): nothing is looked
   * up, and `labels` only names the series in errors. Synchronous, so no promise per series:
   * when full() the caller awaits flush().
   */
  addSeries(labels: Labels, chunks: readonly ChunkMeta[], syms?: Uint32Array): number {
    const nl = syms === undefined ? labels.length : syms.length >>> 1;
    if (nl === 0) invalid('series without labels');
    if (this.curSyms.length < 2 * nl) this.curSyms = new Uint32Array(4 * nl);
    const cur = this.curSyms;
    if (syms === undefined) this.lookUp(labels, cur);
    else this.checkRefs(labels, syms, cur);
    // Symbol order is byte order, so comparing symbol indexes compares the label sets.
    if (this.lastLen >= 0 && compareSyms(cur, 2 * nl, this.lastSyms, this.lastLen) <= 0) {
      invalid(`series out of order or repeated: ${fmtLabels(labels)}`);
    }

    const e = this.entry;
    e.reset();
    e.uvarint(nl);
    for (let i = 0; i < 2 * nl; i++) e.uvarint(cur[i]!);
    e.uvarint(chunks.length);
    if (chunks.length > 0) {
      const c0 = chunks[0]!;
      if (c0.maxT < c0.minT) invalid(`chunk maxT ${c0.maxT} < minT ${c0.minT} in ${fmtLabels(labels)}`);
      e.varint(c0.minT);
      e.uvarint(c0.maxT - c0.minT);
      e.uvarint(c0.ref);
      let prevMaxT = c0.maxT;
      let prevRef = c0.ref;
      for (let i = 1; i < chunks.length; i++) {
        const c = chunks[i]!;
        if (c.minT <= prevMaxT) invalid(`chunk minT ${c.minT} not after previous maxT ${prevMaxT} in ${fmtLabels(labels)}`);
        if (c.maxT < c.minT) invalid(`chunk maxT ${c.maxT} < minT ${c.minT} in ${fmtLabels(labels)}`);
        if (c.ref <= prevRef) invalid(`chunk refs not increasing in ${fmtLabels(labels)}`);
        e.uvarint(c.minT - prevMaxT);
        e.uvarint(c.maxT - c.minT);
        e.varint(c.ref - prevRef);
        prevMaxT = c.maxT;
        prevRef = c.ref;
      }
    }

    const w = this.w;
    w.padTo(SERIES_ALIGN);
    const ref = w.pos / SERIES_ALIGN;
    if (ref > 0xffffffff) invalid('series section exceeds 64 GiB');
    w.uvarint(e.len);
    w.bytes(e.b, 0, e.len);
    w.u32(crc32c(e.b, 0, e.len));

    this.postings.addSeries(ref);
    for (let i = 0; i < nl; i++) this.postings.add(cur[2 * i]!, cur[2 * i + 1]!, ref);
    // Keep this series' symbols for the next order check (swap buffers, no allocation).
    const t = this.lastSyms;
    this.lastSyms = cur;
    this.curSyms = t.length >= cur.length ? t : new Uint32Array(cur.length);
    this.lastLen = 2 * nl;
    this.numSeries++;
    return ref;
  }

  /** lookUp fills `cur` with the symbol indexes of `labels`, checking them. */
  private lookUp(labels: Labels, cur: Uint32Array): void {
    let index = this.symIndex;
    if (index === undefined) {
      index = new Map();
      for (let i = 0; i < this.symbols.length; i++) index.set(this.symbols[i]!, i);
      this.symIndex = index;
    }
    for (let i = 0; i < labels.length; i++) {
      const [name, value] = labels[i]!;
      if (name.length === 0 || value.length === 0) invalid(`empty label name or value in ${fmtLabels(labels)}`);
      const ns = index.get(name);
      const vs = index.get(value);
      if (ns === undefined) invalid(`label name ${JSON.stringify(name)} is not in the symbol table`);
      if (vs === undefined) invalid(`label value ${JSON.stringify(value)} is not in the symbol table`);
      if (i > 0 && ns <= cur[2 * i - 2]!) invalid(`label names not sorted or repeated in ${fmtLabels(labels)}`);
      cur[2 * i] = ns;
      cur[2 * i + 1] = vs;
    }
  }

  /** checkRefs copies the symbol indexes `syms` into `cur`, checking them. */
  private checkRefs(labels: Labels, syms: Uint32Array, cur: Uint32Array): void {
    if ((syms.length & 1) !== 0) invalid(`odd number of symbol refs (${syms.length}) for ${fmtLabels(labels)}`);
    const lens = this.symLens;
    for (let i = 0; i < syms.length; i += 2) {
      const ns = syms[i]!;
      const vs = syms[i + 1]!;
      if (ns >= lens.length || vs >= lens.length) invalid(`symbol ref out of range in ${fmtLabels(labels)}`);
      if (lens[ns] === 0 || lens[vs] === 0) invalid(`empty label name or value in ${fmtLabels(labels)}`);
      if (i > 0 && ns <= cur[i - 2]!) invalid(`label names not sorted or repeated in ${fmtLabels(labels)}`);
      cur[i] = ns;
      cur[i + 1] = vs;
    }
  }

  /** full reports whether the file buffer should be flushed. */
  full(): boolean {
    return this.w.full();
  }

  /** flush writes the file buffer out. */
  async flush(): Promise<void> {
    await this.w.flush();
  }

  /**
   * close writes the label indices, the postings lists, the label offset table, the postings
   * offset table and the TOC, fsyncs, and returns the file size.
   */
  async close(): Promise<number> {
    const w = this.w;
    try {
      const names = this.postings.names();

      // Label indices: per name, its values as symbol refs (#names = 1). Unused by readers of
      // format v2 but written by Prometheus 2.x, so our bytes match its own.
      this.toc.labelIndices = w.pos;
      const labelTable = new Encbuf(4096);
      let lists = 1; // the all-series list, then one per label pair
      for (const nameSym of names) {
        const vals = this.postings.distinctValues(nameSym);
        lists += vals.length;
        w.padTo(POSTINGS_ALIGN);
        labelTable.uvarint(1);
        labelTable.uvarintStr(this.symbols[nameSym]!);
        labelTable.uvarint(w.pos);
        w.u32(8 + 4 * vals.length);
        w.crcBegin();
        w.u32(1);
        w.u32(vals.length);
        await this.u32s(vals);
        w.u32(w.crcEnd());
      }

      // Postings lists, each list's (name, value, offset) noted as symbol refs for the offset
      // table, which is written from them afterwards (not built in memory as bytes: at 200k
      // label values it is ~6 MB, and growing it left as much again for the collector).
      this.toc.postings = w.pos;
      const table: PostingsTableRefs = { names: new Uint32Array(lists), values: new Uint32Array(lists), offsets: new Float64Array(lists), n: 0 };
      const writeList = async (nameSym: number, valueSym: number, refs: Uint32Array): Promise<void> => {
        w.padTo(POSTINGS_ALIGN);
        const k = table.n++;
        table.names[k] = nameSym;
        table.values[k] = valueSym;
        table.offsets[k] = w.pos;
        w.u32(4 + 4 * refs.length);
        w.crcBegin();
        w.u32(refs.length);
        await this.u32s(refs);
        w.u32(w.crcEnd());
      };
      // The all-series list is keyed ("", ""): symbol 0 (create() checks it is there).
      await writeList(0, 0, this.postings.allSeries());
      for (const nameSym of names) {
        const g = this.postings.take(nameSym);
        for (let j = 0; j < g.values.length; j++) {
          await writeList(nameSym, g.values[j]!, g.refs.subarray(g.starts[j]!, g.starts[j + 1]!));
        }
      }
      if (table.n !== lists) invalid(`wrote ${table.n} postings lists, expected ${lists}`);

      this.toc.labelIndicesTable = w.pos;
      await this.table(labelTable, names.length, 'label offset table');

      this.toc.postingsTable = w.pos;
      await this.postingsTable(table);

      const t = this.toc;
      w.crcBegin();
      w.u64(t.symbols);
      w.u64(t.series);
      w.u64(t.labelIndices);
      w.u64(t.labelIndicesTable);
      w.u64(t.postings);
      w.u64(t.postingsTable);
      w.u32(w.crcEnd());
      return await w.close();
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  /** u32s appends big-endian u32s, letting the file buffer flush every POSTINGS_SLICE values. */
  private async u32s(xs: Uint32Array): Promise<void> {
    const w = this.w;
    for (let i = 0; i < xs.length; i += POSTINGS_SLICE) {
      const end = Math.min(xs.length, i + POSTINGS_SLICE);
      w.ensure(4 * (end - i));
      const b = w.b;
      let p = w.len;
      for (let j = i; j < end; j++) {
        const r = xs[j]!;
        b[p] = r >>> 24;
        b[p + 1] = r >>> 16;
        b[p + 2] = r >>> 8;
        b[p + 3] = r;
        p += 4;
      }
      w.len = p;
      await w.maybeFlush();
    }
  }

  /** table writes `len <4b> | count <4b> | entries | CRC32` with the entries from `body`. */
  private async table(body: Encbuf, count: number, what: string): Promise<void> {
    const w = this.w;
    if (body.len + 4 > 0xffffffff) invalid(`${what} exceeds 4 GiB`);
    w.u32(body.len + 4);
    w.crcBegin();
    w.u32(count);
    for (let i = 0; i < body.len; i += 1 << 20) {
      w.bytes(body.b, i, Math.min(1 << 20, body.len - i));
      await w.maybeFlush();
    }
    w.u32(w.crcEnd());
  }

  /**
   * postingsTable writes the postings offset table from its entries' symbol refs: per entry
   * `2 <1b> | name <uvarint str> | value <uvarint str> | offset <uvarint64>`, streamed through
   * the file buffer; the table's length comes first, so a first pass sizes it.
   */
  private async postingsTable(t: PostingsTableRefs): Promise<void> {
    const w = this.w;
    const lens = this.symLens;
    let size = 4;
    for (let k = 0; k < t.n; k++) {
      const ln = lens[t.names[k]!]!;
      const lv = lens[t.values[k]!]!;
      size += 1 + uvarintSize(ln) + ln + uvarintSize(lv) + lv + uvarintSize(t.offsets[k]!);
    }
    if (size > 0xffffffff) invalid('postings offset table exceeds 4 GiB');
    w.u32(size);
    w.crcBegin();
    w.u32(t.n);
    for (let k = 0; k < t.n; k++) {
      const ns = t.names[k]!;
      const vs = t.values[k]!;
      w.u8(2);
      w.uvarint(lens[ns]!);
      w.utf8(this.symbols[ns]!, lens[ns]!);
      w.uvarint(lens[vs]!);
      w.utf8(this.symbols[vs]!, lens[vs]!);
      w.uvarint(t.offsets[k]!);
      if ((k & 1023) === 1023) await w.maybeFlush();
    }
    w.u32(w.crcEnd());
  }

  /** abort closes the file without finishing it (after an error); never throws. */
  async abort(): Promise<void> {
    await this.w.abort();
  }
}

function compareSyms(a: Uint32Array, an: number, b: Uint32Array, bn: number): number {
  const n = Math.min(an, bn);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return an - bn;
}

function fmtLabels(ls: Labels): string {
  return `{${ls.map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(', ')}}`;
}
