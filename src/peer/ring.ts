/**
 * The placement contract shared by the two hashring algorithms (hashmod.ts, ketama.ts): a ring
 * maps a series hash and a replica number to an endpoint index, the way Thanos Receive's
 * `Hashring.GetN` does. Types only; touches nothing.
 *
 * A series hash is Thanos' `xxhash64(tenant ‖ 0xFF ‖ name ‖ 0xFF ‖ value ‖ 0xFF …)` as two u32
 * words (`lo`, `hi`), exactly what src/gateway/route.ts computes per series.
 */

/** Endpoint is one member of a hashring: its address (`host:port`) and availability zone ('' if none). */
export interface Endpoint {
  readonly address: string;
  readonly az: string;
}

/** HashringAlgorithm names a placement algorithm (`--receive.hashrings-algorithm`). */
export type HashringAlgorithm = 'hashmod' | 'ketama';

/** Ring places series on endpoints. Built once per hashring (re)load, then read-only. */
export interface Ring {
  /** algorithm is the placement algorithm of this ring. */
  readonly algorithm: HashringAlgorithm;
  /**
   * endpoints is the index space getN answers in. Hashmod sorts the configured endpoints by
   * address (bytewise); ketama keeps the configuration order.
   */
  readonly endpoints: readonly Endpoint[];
  /** replicationFactor is the number of distinct replicas getN can answer for (n < RF). */
  readonly replicationFactor: number;
  /**
   * getN returns the index into `endpoints` of replica `n` (0-based) of the series whose hash is
   * `hi`·2^32 + `lo`. Allocation-free; throws a SluiceError only for an `n` the ring cannot
   * place (a caller bug, never data-dependent).
   */
  getN(lo: number, hi: number, n: number): number;
}
