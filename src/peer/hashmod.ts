/**
 * The `hashmod` hashring algorithm, placed exactly as Thanos Receive's `simpleHashring`: endpoints
 * sorted by address (bytewise, like Go's strings.Compare), and replica n of a series with 64-bit
 * hash h goes to `endpoints[(h + n) mod N]`, where `h + n` wraps at 2^64 (Go uint64 arithmetic).
 * Any membership change moves most series; see docs/peers.md. Pure; touches nothing.
 */
import { ConfigError, ErrorCode, SluiceError } from '../errors.js';
import type { Endpoint, Ring } from './ring.js';

const TWO32 = 4294967296;

/** HashmodRing is a built hashmod ring. */
export class HashmodRing implements Ring {
  readonly algorithm = 'hashmod' as const;
  readonly endpoints: readonly Endpoint[];
  readonly replicationFactor: number;
  /** n is the endpoint count; p32 is 2^32 mod n (the weight of the high word). */
  private readonly n: number;
  private readonly p32: number;

  /**
   * Builds the ring. Throws ConfigError if an endpoint has an AZ (Thanos refuses that too) or if
   * there are fewer endpoints than `replicationFactor`.
   */
  constructor(endpoints: readonly Endpoint[], replicationFactor: number) {
    for (const e of endpoints) {
      if (e.az !== '') {
        throw new ConfigError('hashmod algorithm does not support AZ aware hashring configuration; use ketama or remove the "az" fields');
      }
    }
    if (endpoints.length === 0) throw new ConfigError('hashmod: a hashring needs at least one endpoint');
    if (endpoints.length < replicationFactor) {
      throw new ConfigError(`hashmod: ${endpoints.length} endpoints cannot hold ${replicationFactor} replicas (--receive.replication-factor)`);
    }
    this.endpoints = [...endpoints].sort((a, b) => Buffer.compare(Buffer.from(a.address), Buffer.from(b.address)));
    this.replicationFactor = replicationFactor;
    this.n = endpoints.length;
    this.p32 = TWO32 % this.n;
  }

  /** getN returns the index of replica `n` of the series with hash hi·2^32 + lo. */
  getN(lo: number, hi: number, n: number): number {
    const N = this.n;
    if (n >= N || n < 0) throw new SluiceError(ErrorCode.Internal, `insufficient nodes; have ${N}, want ${n + 1}`);
    // (h + n) mod 2^64, kept as two u32 words.
    let l = (lo >>> 0) + n;
    let h = hi >>> 0;
    if (l >= TWO32) {
      l -= TWO32;
      h += 1;
      if (h >= TWO32) h = 0;
    }
    // (h·2^32 + l) mod N without BigInt: each product stays below N^2 (exact while N < 2^26).
    // x - floor(x / N)·N instead of %: the words are doubles (u32), and a double % is a libc call.
    const hm = h - Math.floor(h / N) * N;
    const lm = l - Math.floor(l / N) * N;
    const x = hm * this.p32 + lm;
    return x - Math.floor(x / N) * N;
  }
}
