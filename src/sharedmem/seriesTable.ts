/**
 * Series table: fixed-size series records (layout.ts, SeriesI32/SeriesF64) in chained
 * SharedArrayBuffer segments of SERIES_PER_SEGMENT records. The owning shard writes; other threads
 * read through SeriesTableView with the seqlock protocol described in headView.ts.
 */
import { SERIES_PER_SEGMENT, SERIES_SEG_SHIFT, SERIES_XOR_STATE_OFFSET } from './layout.js';
import { XOR_STATE_BYTES } from '../chunkenc/xor.js';

/** SERIES_RECORD_BYTES is the size of one series record, a multiple of 8. */
export const SERIES_RECORD_BYTES = (SERIES_XOR_STATE_OFFSET + XOR_STATE_BYTES + 7) & ~7;
const REC_I32 = SERIES_RECORD_BYTES / 4;
const REC_F64 = SERIES_RECORD_BYTES / 8;
const SEG_MASK = SERIES_PER_SEGMENT - 1;

/** SeriesSegment holds the typed views of one segment. */
export interface SeriesSegment {
  sab: SharedArrayBuffer;
  i32: Int32Array<SharedArrayBuffer>;
  f64: Float64Array<SharedArrayBuffer>;
}

/** SeriesTableView reads series records from any thread that was sent the segments. */
export class SeriesTableView {
  readonly segs: SeriesSegment[] = [];
  /** refresh: as ArenaView's (takes waiting segment news; true if there were any). */
  refresh: (() => boolean) | undefined;

  /** addSegment registers segment `index`, received from the owner. */
  addSegment(index: number, sab: SharedArrayBuffer): void {
    this.segs[index] = { sab, i32: new Int32Array(sab), f64: new Float64Array(sab) };
  }

  /** seg returns the segment of series `ref`. */
  seg(ref: number): SeriesSegment {
    const s = this.segs[ref >>> SERIES_SEG_SHIFT];
    return s !== undefined ? s : this.missing(ref);
  }

  private missing(ref: number): SeriesSegment {
    const s = this.refresh?.() === true ? this.segs[ref >>> SERIES_SEG_SHIFT] : undefined;
    if (s === undefined) throw new RangeError(`series segment ${ref >>> SERIES_SEG_SHIFT} unknown`);
    return s;
  }
}

/** i32Base returns the Int32 index of series `ref`'s record within its segment. */
export function i32Base(ref: number): number {
  return (ref & SEG_MASK) * REC_I32;
}

/** f64Base returns the Float64 index of series `ref`'s record within its segment. */
export function f64Base(ref: number): number {
  return (ref & SEG_MASK) * REC_F64;
}

/** byteBase returns the byte offset of series `ref`'s record within its segment. */
export function byteBase(ref: number): number {
  return (ref & SEG_MASK) * SERIES_RECORD_BYTES;
}

/** SeriesTable is the owner's side: it hands out dense refs and adds segments as needed. */
export class SeriesTable extends SeriesTableView {
  /** Number of refs handed out. */
  count = 0;
  private readonly onSegment: (index: number, sab: SharedArrayBuffer) => void;

  constructor(onSegment: (index: number, sab: SharedArrayBuffer) => void) {
    super();
    this.onSegment = onSegment;
  }

  /** add returns a fresh ref with a zeroed record. */
  add(): number {
    const ref = this.count;
    const si = ref >>> SERIES_SEG_SHIFT;
    if (this.segs[si] === undefined) {
      const sab = new SharedArrayBuffer(SERIES_PER_SEGMENT * SERIES_RECORD_BYTES);
      this.addSegment(si, sab);
      this.onSegment(si, sab);
    }
    this.count++;
    return ref;
  }

  /** reservedBytes is the SharedArrayBuffer memory this table holds. */
  reservedBytes(): number {
    return this.segs.length * SERIES_PER_SEGMENT * SERIES_RECORD_BYTES;
  }
}
