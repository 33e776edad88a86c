/**
 * LabelInterner decodes label blobs into Labels, making each distinct name or value string once:
 * a selection's 100k series repeat the same few names and most values (cluster, job, the tenant
 * label), and decoding them again for every series is most of what building label sets costs.
 * Strings are found by a hash of their bytes in an open-addressing table that keeps a copy of
 * each string's bytes to compare with. One interner serves one selection (or one query); it only
 * grows. Pure: touches nothing shared.
 */
import { LABEL_SEP, type Labels } from './labels.js';

const utf8 = new TextDecoder('utf-8', { fatal: false });
const latin1 = new TextDecoder('latin1');

/** LabelPick is a set of label names to keep, as strings and as their UTF-8 bytes. */
export class LabelPick {
  readonly names: readonly string[];
  readonly bytes: readonly Uint8Array[];

  /** `names` must be sorted, as label sets are: the kept labels then stay in order. */
  constructor(names: readonly string[]) {
    this.names = names;
    const enc = new TextEncoder();
    this.bytes = names.map((n) => enc.encode(n));
  }
}

/** LabelInterner turns label blobs into Labels with shared strings. */
export class LabelInterner {
  /** Bytes of every string kept, back to back. */
  private pool = new Uint8Array(1 << 14);
  private poolLen = 0;
  /** Per entry: offset and length of its bytes in `pool`, and its string. */
  private offs = new Int32Array(1024);
  private lens = new Int32Array(1024);
  private strs: string[] = [];
  /** Open addressing: slot → entry index + 1 (0: empty). */
  private slots = new Int32Array(2048);

  /** decode turns a label blob into Labels; `buf` must not change while it runs. */
  decode(buf: Uint8Array, off: number, len: number): Labels {
    const out: Labels = [];
    const end = off + len;
    let p = off;
    while (p < end) {
      let q = p;
      while (buf[q] !== LABEL_SEP) q++;
      const name = this.intern(buf, p, q);
      p = q + 1;
      q = p;
      while (buf[q] !== LABEL_SEP) q++;
      out.push([name, this.intern(buf, p, q)]);
      p = q + 1;
    }
    return out;
  }

  /**
   * decodeOnly is decode keeping only the labels `pick` names: names are compared as bytes, and
   * only the kept values are made into strings.
   */
  decodeOnly(buf: Uint8Array, off: number, len: number, pick: LabelPick): Labels {
    const out: Labels = [];
    const end = off + len;
    const { bytes, names } = pick;
    let p = off;
    while (p < end) {
      let q = p;
      while (buf[q] !== LABEL_SEP) q++;
      let k = -1;
      for (let j = 0; j < bytes.length; j++) {
        const b = bytes[j]!;
        if (b.length !== q - p) continue;
        let same = true;
        for (let x = 0; x < b.length; x++) if (b[x] !== buf[p + x]) { same = false; break; }
        if (same) { k = j; break; }
      }
      p = q + 1;
      q = p;
      while (buf[q] !== LABEL_SEP) q++;
      if (k >= 0) out.push([names[k]!, this.intern(buf, p, q)]);
      p = q + 1;
    }
    return out;
  }

  /** intern returns the string of the UTF-8 bytes buf[p, q), made once per distinct bytes. */
  intern(buf: Uint8Array, p: number, q: number): string {
    return this.strs[this.id(buf, p, q)]!;
  }

  /**
   * id returns the index of the string of the UTF-8 bytes buf[p, q) in `strings`, adding it if
   * new: indexes are dense and in order of first sight.
   */
  id(buf: Uint8Array, p: number, q: number): number {
    // FNV-1a over the bytes; `high` notes a non-ASCII byte.
    let h = 0x811c9dc5;
    let high = 0;
    for (let i = p; i < q; i++) {
      const c = buf[i]!;
      high |= c;
      h = Math.imul(h ^ c, 0x01000193);
    }
    const len = q - p;
    const mask = this.slots.length - 1;
    let s = h & mask;
    for (;;) {
      const e = this.slots[s]!;
      if (e === 0) break;
      const i = e - 1;
      if (this.lens[i] === len && this.sameBytes(this.offs[i]!, buf, p, len)) return i;
      s = (s + 1) & mask;
    }
    const str = (high & 0x80) === 0 ? latin1.decode(buf.subarray(p, q)) : utf8.decode(buf.subarray(p, q));
    return this.add(s, buf, p, len, str);
  }

  /** strings lists every string made, by id. */
  get strings(): readonly string[] {
    return this.strs;
  }

  private sameBytes(at: number, buf: Uint8Array, p: number, len: number): boolean {
    const pool = this.pool;
    for (let k = 0; k < len; k++) if (pool[at + k] !== buf[p + k]) return false;
    return true;
  }

  private add(slot: number, buf: Uint8Array, p: number, len: number, str: string): number {
    const i = this.strs.length;
    if (i === this.offs.length) {
      this.offs = grow32(this.offs, i * 2);
      this.lens = grow32(this.lens, i * 2);
    }
    if (this.poolLen + len > this.pool.length) {
      const np = new Uint8Array(Math.max(this.pool.length * 2, this.poolLen + len));
      np.set(this.pool.subarray(0, this.poolLen));
      this.pool = np;
    }
    for (let k = 0; k < len; k++) this.pool[this.poolLen + k] = buf[p + k]!;
    this.offs[i] = this.poolLen;
    this.lens[i] = len;
    this.poolLen += len;
    this.strs.push(str);
    this.slots[slot] = i + 1;
    if ((i + 1) * 2 > this.slots.length) this.rehash();
    return i;
  }

  /** rehash doubles the table (kept at most half full). */
  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let i = 0; i < this.strs.length; i++) {
      let h = 0x811c9dc5;
      const at = this.offs[i]!;
      for (let k = 0; k < this.lens[i]!; k++) h = Math.imul(h ^ this.pool[at + k]!, 0x01000193);
      let s = h & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = i + 1;
    }
    this.slots = slots;
  }
}

function grow32(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}
