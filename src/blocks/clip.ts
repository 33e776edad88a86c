/**
 * clipChunk: the part of a head chunk that lies in a block's range, re-encoded. Head chunks never
 * cross an aligned block boundary, but a flush cuts at the head's newest sample, and a chunk still
 * open there may take later samples before the cut begins; its in-range samples go into the block
 * as a new XOR chunk, and the head keeps the whole chunk (a query merges the two by timestamp,
 * and a restart skips what is below the watermark).
 */
import { XOR_STATE_BYTES, XorIterator, xorAppend, xorByteLength, xorStateInit } from '../chunkenc/xor.js';
import type { BlockChunk } from './writer.js';

const state = new ArrayBuffer(XOR_STATE_BYTES);
const f64 = new Float64Array(state);
const i32 = new Int32Array(state);
const it = new XorIterator();

/** clipChunk returns `c` unchanged if it lies in [mint, maxt), its in-range part, or undefined. */
export function clipChunk(c: BlockChunk, mint: number, maxt: number): BlockChunk | undefined {
  if (c.minT >= mint && c.maxT < maxt) return c;
  // Re-encoding a suffix can cost a few bytes more than the original (a new first sample).
  const out = new Uint8Array(c.data.length + 32);
  xorStateInit(f64, i32, 0);
  let n = 0;
  let first = 0;
  let last = 0;
  it.reset(c.data, 0, c.data.length);
  while (it.next()) {
    const t = it.t;
    if (t < mint) continue;
    if (t >= maxt) break;
    if (!xorAppend(f64, i32, 0, out, 0, out.length, t, it.vLo, it.vHi)) throw new RangeError('clipped chunk outgrew its buffer');
    if (n++ === 0) first = t;
    last = t;
  }
  if (n === 0) return undefined;
  return { minT: first, maxT: last, data: out.slice(0, xorByteLength(i32, 0)) };
}
