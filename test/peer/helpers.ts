/**
 * Helpers of the peer tests: the Thanos series hash of a label set (computed with the reference
 * JS xxhash64, like the gateway's wasm one), endpoint lists, and label blobs.
 */
import { xxh64, xxh64Result } from '../../src/hash/xxhash64.js';
import type { Endpoint } from '../../src/peer/ring.js';

const enc = new TextEncoder();

/** seriesHash returns [lo, hi] of xxhash64(tenant ‖ 0xFF ‖ name ‖ 0xFF ‖ value ‖ 0xFF …). */
export function seriesHash(tenant: string, labels: [string, string][]): [number, number] {
  const bytes: number[] = [...enc.encode(tenant), 0xff];
  for (const [n, v] of labels) bytes.push(...enc.encode(n), 0xff, ...enc.encode(v), 0xff);
  const b = new Uint8Array(bytes);
  const lo = xxh64(b, 0, b.length);
  return [lo, xxh64Result[1]!];
}

/** eps builds endpoints without AZs. */
export function eps(...addresses: string[]): Endpoint[] {
  return addresses.map((address) => ({ address, az: '' }));
}

/** azEps builds endpoints from [address, az] pairs. */
export function azEps(...pairs: [string, string][]): Endpoint[] {
  return pairs.map(([address, az]) => ({ address, az }));
}
