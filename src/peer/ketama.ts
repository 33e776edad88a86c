/**
 * The `ketama` hashring algorithm (consistent hashing), placed exactly as Thanos Receive's
 * `ketamaHashring`:
 *
 *  - every endpoint owns SECTIONS_PER_NODE sections; section i (1-based) of endpoint e has hash
 *    xxhash64(e.address + ":" + i), and the sections are sorted by hash;
 *  - a series with hash h belongs to the first section whose hash is >= h (wrapping to section 0);
 *  - each section's RF replicas are computed once, at construction: walk clockwise from the
 *    section, skip endpoints already chosen (so replicas are distinct endpoints) and, when the ring
 *    spans more than one AZ, skip an endpoint whose AZ already holds more replicas than the least
 *    occupied AZ (so replicas spread evenly over AZs). Replica n is the n-th endpoint chosen.
 *
 * Adding an endpoint moves only the series of the sections it takes over (about 1/N of them).
 * Lookups use typed arrays and allocate nothing. Pure; touches nothing.
 */
import { ConfigError, ErrorCode, SluiceError } from '../errors.js';
import { xxh64, xxh64Result } from '../hash/xxhash64.js';
import type { Endpoint, Ring } from './ring.js';

/** SECTIONS_PER_NODE is Thanos' `SectionsPerNode`: virtual nodes per endpoint. */
export const SECTIONS_PER_NODE = 1000;

/** KetamaRing is a built ketama ring. */
export class KetamaRing implements Ring {
  readonly algorithm = 'ketama' as const;
  readonly endpoints: readonly Endpoint[];
  readonly replicationFactor: number;
  /** Section hashes, sorted ascending as u64: high and low words. */
  private readonly secHi: Uint32Array;
  private readonly secLo: Uint32Array;
  /** replicas[s·RF + n] is the endpoint index of replica n of section s. */
  private readonly replicas: Uint16Array | Uint32Array;
  /**
   * bucketStart[b] is the first section whose hash's top `bucketBits` bits are >= b (b up to
   * 2^bucketBits inclusive): a lookup binary-searches one bucket of about one section instead of
   * the whole ring, which keeps it to a cache miss or two on rings of 10^5 sections.
   */
  private readonly bucketStart: Uint32Array;
  private readonly bucketShift: number;

  /**
   * Builds the ring (cost: endpoints × sectionsPerNode hashes, one sort, one walk per section).
   * Throws ConfigError if there are fewer endpoints than `replicationFactor`, or if the AZ layout
   * makes an even spread of RF replicas impossible (Thanos would loop forever there).
   * `sectionsPerNode` exists for Thanos' own golden tests, which use 10.
   */
  constructor(endpoints: readonly Endpoint[], replicationFactor: number, sectionsPerNode = SECTIONS_PER_NODE) {
    if (endpoints.length < replicationFactor || endpoints.length === 0) {
      throw new ConfigError(`ketama: amount of endpoints (${endpoints.length}) needs to be at least the replication factor (${replicationFactor})`);
    }
    this.endpoints = [...endpoints];
    this.replicationFactor = replicationFactor;
    const total = endpoints.length * sectionsPerNode;

    // Hash every section.
    const hi = new Uint32Array(total);
    const lo = new Uint32Array(total);
    const owner = new Uint32Array(total);
    const enc = new TextEncoder();
    let k = 0;
    for (let e = 0; e < endpoints.length; e++) {
      const prefix = endpoints[e]!.address + ':';
      for (let i = 1; i <= sectionsPerNode; i++) {
        const bytes = enc.encode(prefix + i);
        lo[k] = xxh64(bytes, 0, bytes.length);
        hi[k] = xxh64Result[1]!;
        owner[k] = e;
        k++;
      }
    }

    // Sort sections by hash (u64 order). Ties would need a 64-bit collision between two sections.
    const order = Array.from({ length: total }, (_, i) => i);
    order.sort((a, b) => (hi[a]! - hi[b]!) || (lo[a]! - lo[b]!));
    this.secHi = new Uint32Array(total);
    this.secLo = new Uint32Array(total);
    const secOwner = new Uint32Array(total);
    for (let s = 0; s < total; s++) {
      const i = order[s]!;
      this.secHi[s] = hi[i]!;
      this.secLo[s] = lo[i]!;
      secOwner[s] = owner[i]!;
    }

    // Bucket index over the top bits of the sorted hashes: about one section per bucket.
    const bits = Math.min(16, Math.max(1, Math.ceil(Math.log2(total))));
    this.bucketShift = 32 - bits;
    this.bucketStart = new Uint32Array((1 << bits) + 1);
    let sec = 0;
    for (let b = 0; b <= 1 << bits; b++) {
      while (sec < total && this.secHi[sec]! >>> this.bucketShift < b) sec++;
      this.bucketStart[b] = sec;
    }

    // AZs as small integers; '' is a zone like any other (as in Thanos).
    const azIndex = new Map<string, number>();
    const epAz = new Uint32Array(endpoints.length);
    for (let e = 0; e < endpoints.length; e++) {
      const az = endpoints[e]!.az;
      let z = azIndex.get(az);
      if (z === undefined) { z = azIndex.size; azIndex.set(az, z); }
      epAz[e] = z;
    }
    this.replicas = endpoints.length < 65536 ? new Uint16Array(total * replicationFactor) : new Uint32Array(total * replicationFactor);
    this.computeReplicas(secOwner, epAz, azIndex.size);
  }

  /** computeReplicas fills `replicas` for every section (see the file comment). */
  private computeReplicas(secOwner: Uint32Array, epAz: Uint32Array, zones: number): void {
    const rf = this.replicationFactor;
    const total = secOwner.length;
    const chosen = new Uint8Array(this.endpoints.length);
    const spread = new Int32Array(zones);
    const picked = new Uint32Array(rf);
    for (let s = 0; s < total; s++) {
      spread.fill(0);
      let count = 0;
      let j = s - 1;
      let sinceLast = 0;
      while (count < rf) {
        j = (j + 1) % total;
        if (++sinceLast > total) {
          for (let c = 0; c < count; c++) chosen[picked[c]!] = 0;
          throw new ConfigError(`ketama: cannot place ${rf} replicas evenly over the ${zones} availability zones of this hashring; add endpoints to the smaller zones or lower the replication factor`);
        }
        const e = secOwner[j]!;
        if (chosen[e] === 1) continue;
        const z = epAz[e]!;
        if (zones > 1 && spread[z]! > 0 && spread[z]! > leastOccupied(spread)) continue;
        chosen[e] = 1;
        spread[z]!++;
        picked[count] = e;
        this.replicas[s * rf + count] = e;
        count++;
        sinceLast = 0;
      }
      for (let c = 0; c < count; c++) chosen[picked[c]!] = 0;
    }
  }

  /** getN returns the index of replica `n` of the series with hash hi·2^32 + lo. */
  getN(lo: number, hi: number, n: number): number {
    if (n >= this.replicationFactor || n < 0) {
      throw new SluiceError(ErrorCode.Internal, `ketama: replica ${n} asked of a ring built for ${this.replicationFactor} replicas`);
    }
    const h = hi >>> 0;
    const l = lo >>> 0;
    const sh = this.secHi;
    const sl = this.secLo;
    // First section with hash >= (h, l): within h's bucket, or else the first of a later bucket,
    // which is where the search ends (bucketStart[bucket + 1]) when the whole bucket is below h.
    const bucket = h >>> this.bucketShift;
    let a = this.bucketStart[bucket]!;
    let b = this.bucketStart[bucket + 1]!;
    while (a < b) {
      const m = (a + b) >>> 1;
      const mh = sh[m]!;
      if (mh < h || (mh === h && sl[m]! < l)) a = m + 1;
      else b = m;
    }
    if (a === sh.length) a = 0;
    return this.replicas[a * this.replicationFactor + n]!;
  }
}

/** leastOccupied returns the smallest replica count over all zones. */
function leastOccupied(spread: Int32Array): number {
  let m = spread[0]!;
  for (let i = 1; i < spread.length; i++) if (spread[i]! < m) m = spread[i]!;
  return m;
}
