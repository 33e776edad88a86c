/**
 * snappyPatch.ts rewrites a snappy block so that chosen byte regions of the uncompressed data
 * (the per-round value and timestamp bytes of each sample) sit inside snappy literals and no copy
 * reads from them. Those bytes can then be overwritten in the compressed block directly, and the
 * block still decodes to the request with the new bytes.
 */
import { compressSync, uncompressSync } from 'snappy';
import { PATCH_LEN, putVarint } from './encode.js';

/** ByteWriter is a growable byte buffer that the rewritten snappy block is written into. */
class ByteWriter {
  buf = Buffer.allocUnsafe(1024);
  len = 0;
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  byte(b: number): void { this.ensure(1); this.buf[this.len++] = b; }
  bytes(src: Uint8Array, start: number, end: number): void {
    this.ensure(end - start);
    this.buf.set(src.subarray(start, end), this.len);
    this.len += end - start;
  }
  varint(v: number): void { this.ensure(10); this.len = putVarint(this.buf, this.len, v); }
  result(): Buffer { return Buffer.from(this.buf.subarray(0, this.len)); }
}

/**
 * patchableSnappy compresses raw with the native encoder, then rewrites the block so that every
 * region [patch[j], patch[j]+PATCH_LEN) is emitted as literal bytes and no copy reads from such a
 * region. Returns the block and, for each region, the offset of its first byte in the block.
 */
export function patchableSnappy(raw: Buffer, patch: Uint32Array): { block: Buffer; offsets: Uint32Array } {
  const c = compressSync(raw);
  const out = new ByteWriter();
  const offsets = new Uint32Array(patch.length);
  // Preamble: uncompressed length.
  let p = 0;
  let rawLen = 0;
  let shift = 1;
  for (;;) {
    const b = c[p++] as number;
    rawLen += (b & 0x7f) * shift;
    shift *= 128;
    if (b < 128) break;
  }
  if (rawLen !== raw.length) throw new Error('snappy: length preamble mismatch');
  out.varint(rawLen);

  const regions = patch; // sorted ascending, non-overlapping
  const nReg = regions.length;
  let nextFlushRegion = 0; // first region not yet given a compressed offset
  let litStart = -1;
  let litEnd = -1;

  const flushLiteral = (): void => {
    if (litStart < 0) return;
    const n = litEnd - litStart;
    const m = n - 1;
    if (m < 60) out.byte(m << 2);
    else if (m < 0x100) { out.byte(60 << 2); out.byte(m); }
    else if (m < 0x10000) { out.byte(61 << 2); out.byte(m & 0xff); out.byte(m >>> 8); }
    else if (m < 0x1000000) { out.byte(62 << 2); out.byte(m & 0xff); out.byte((m >>> 8) & 0xff); out.byte(m >>> 16); }
    else { out.byte(63 << 2); out.byte(m & 0xff); out.byte((m >>> 8) & 0xff); out.byte((m >>> 16) & 0xff); out.byte(m >>> 24); }
    const payload = out.len;
    out.bytes(raw, litStart, litEnd);
    while (nextFlushRegion < nReg && (regions[nextFlushRegion] as number) < litEnd) {
      const r = regions[nextFlushRegion] as number;
      if (r < litStart || r + PATCH_LEN > litEnd) throw new Error('internal: patch region not inside one literal');
      offsets[nextFlushRegion] = payload + (r - litStart);
      nextFlushRegion++;
    }
    litStart = -1;
  };
  const addLiteral = (a: number, b: number): void => {
    if (a >= b) return;
    if (litStart >= 0 && litEnd === a) { litEnd = b; return; }
    flushLiteral();
    litStart = a;
    litEnd = b;
  };
  const addCopy = (len: number, off: number): void => {
    flushLiteral();
    while (len > 0) {
      if (len >= 4 && len <= 11 && off < 2048) {
        out.byte(0x01 | ((len - 4) << 2) | ((off >>> 8) << 5));
        out.byte(off & 0xff);
        return;
      }
      // Keep a remainder of at least 1 (copy-2/copy-4 take lengths 1..64).
      const n = Math.min(len, 64);
      if (off < 0x10000) {
        out.byte(0x02 | ((n - 1) << 2)); out.byte(off & 0xff); out.byte(off >>> 8);
      } else {
        out.byte(0x03 | ((n - 1) << 2));
        out.byte(off & 0xff); out.byte((off >>> 8) & 0xff); out.byte((off >>> 16) & 0xff); out.byte((off >>> 24) & 0xff);
      }
      len -= n;
    }
  };
  /** First region whose end is > pos (binary search). */
  const firstRegionEndingAfter = (pos: number): number => {
    let lo = 0;
    let hi = nReg;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((regions[mid] as number) + PATCH_LEN > pos) hi = mid; else lo = mid + 1;
    }
    return lo;
  };
  /** A copy piece that is short is cheaper (and simpler) as literal bytes. */
  const copyOrLiteral = (a: number, b: number, off: number): void => {
    if (b - a >= 4) addCopy(b - a, off); else addLiteral(a, b);
  };
  /**
   * copyAvoidingRegions emits output [a, b) (outside every patch region) as a copy at `off`,
   * except the parts whose source bytes lie in a patch region: those become literals, since
   * patched bytes change from round to round.
   */
  const copyAvoidingRegions = (a: number, b: number, off: number): void => {
    let pos = a;
    while (pos < b) {
      const k = firstRegionEndingAfter(pos - off);
      const srcStart = k < nReg ? (regions[k] as number) + off : Infinity; // in output coordinates
      if (srcStart >= b) { copyOrLiteral(pos, b, off); return; }
      if (srcStart > pos) copyOrLiteral(pos, srcStart, off);
      const litFrom = Math.max(pos, srcStart);
      const litTo = Math.min(b, (regions[k] as number) + PATCH_LEN + off);
      addLiteral(litFrom, litTo);
      pos = litTo;
    }
  };

  let d = 0; // position in the uncompressed output
  let cursor = 0; // region pointer: first region ending after d
  while (p < c.length) {
    const tag = c[p] as number;
    const type = tag & 3;
    if (type === 0) {
      let m = tag >>> 2;
      p++;
      if (m >= 60) {
        const nb = m - 59;
        m = 0;
        for (let k = 0; k < nb; k++) m += (c[p + k] as number) * 2 ** (8 * k);
        p += nb;
      }
      const n = m + 1;
      addLiteral(d, d + n); // literal bytes are taken from raw, which equals the decoded output
      p += n;
      d += n;
      continue;
    }
    let len: number;
    let off: number;
    if (type === 1) {
      len = ((tag >>> 2) & 7) + 4;
      off = ((tag >>> 5) << 8) | (c[p + 1] as number);
      p += 2;
    } else if (type === 2) {
      len = (tag >>> 2) + 1;
      off = (c[p + 1] as number) | ((c[p + 2] as number) << 8);
      p += 3;
    } else {
      len = (tag >>> 2) + 1;
      off = ((c[p + 1] as number) | ((c[p + 2] as number) << 8) | ((c[p + 3] as number) << 16)) + (c[p + 4] as number) * 2 ** 24;
      p += 5;
    }
    const end = d + len;
    let pos = d;
    while (cursor < nReg && (regions[cursor] as number) + PATCH_LEN <= pos) cursor++;
    let k = cursor;
    while (pos < end) {
      while (k < nReg && (regions[k] as number) + PATCH_LEN <= pos) k++;
      const rs = k < nReg ? (regions[k] as number) : Infinity;
      if (pos >= rs) {
        const e = Math.min(rs + PATCH_LEN, end);
        addLiteral(pos, e);
        pos = e;
      } else {
        const e = Math.min(rs, end);
        copyAvoidingRegions(pos, e, off);
        pos = e;
      }
    }
    d = end;
  }
  flushLiteral();
  if (d !== rawLen) throw new Error('snappy: decoded length mismatch');
  if (nextFlushRegion !== nReg) throw new Error('internal: not every patch region was placed');
  const block = out.result();
  const check = uncompressSync(block, { asBuffer: true }) as Buffer;
  if (!check.equals(raw)) throw new Error('internal: patchable snappy block does not decode to the request');
  return { block, offsets };
}
