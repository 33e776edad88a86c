/**
 * Fan-out of one remote-write request to the replicas of its series, as Thanos Receive's
 * `fanoutForward` does, over HTTP instead of gRPC:
 *
 *  1. distribute(): for every series and replica number the ring names an endpoint; series are
 *     grouped into one write per (endpoint, replica);
 *  2. Replicator.fanout(): each group is written once — to this node through the `writeLocal`
 *     callback, to a peer through PeerClients with `THANOS-REPLICA: <replica + 1>`; the outcomes
 *     are counted per series (quorum.ts) and the request resolves as soon as every series is
 *     decided. Writes still in flight then are not cancelled: they finish (or time out) on their
 *     own, improving the chance of full replication. A write with no answer by
 *     `--receive-forward-timeout` counts as unavailable.
 *
 * A request that arrives with `THANOS-REPLICA` ≠ 0 was already replicated by the node that
 * received it: the gateway writes it locally only (quorum 1) and never forwards it again
 * (parseReplicaHeader; docs/peers.md). Touches the network through PeerClients only.
 */
import { ErrorCode, SluiceError } from '../errors.js';
import type { PeerClients } from './client.js';
import { RESULT_ERROR, RESULT_SUCCESS, type ForwardMetrics } from './metrics.js';
import { ErrorClass, QuorumTracker, outcomeOfError, writeQuorum, type WriteOutcome } from './quorum.js';
import type { Endpoint, Ring } from './ring.js';

/** ReplicaWrite is one (endpoint, replica) write of a fan-out. */
export interface ReplicaWrite {
  /** endpoint indexes the ring's `endpoints`. */
  readonly endpoint: number;
  /** replica is the 0-based replica number (sent as replica + 1). */
  readonly replica: number;
  /** series are indices into the request's series, ascending. */
  readonly series: Int32Array;
}

let scratch = new Int32Array(1024);

/**
 * distribute places series 0 ≤ s < numSeries (hash `hi[s]`·2^32 + `lo[s]`) with `ring` for each
 * replica number in `replicas` (all of 0…RF-1 for a new request) and groups them by (endpoint,
 * replica). Writes come out ordered by replica, then endpoint. Allocates one Int32Array per
 * group, nothing per series.
 */
export function distribute(ring: Ring, lo: ArrayLike<number>, hi: ArrayLike<number>, numSeries: number, replicas: readonly number[]): ReplicaWrite[] {
  const E = ring.endpoints.length;
  const R = replicas.length;
  if (scratch.length < numSeries * R) scratch = new Int32Array(Math.max(numSeries * R, scratch.length * 2));
  const at = scratch;
  const counts = new Int32Array(R * E);
  for (let r = 0; r < R; r++) {
    const n = replicas[r]!;
    const base = r * numSeries;
    for (let s = 0; s < numSeries; s++) {
      const e = ring.getN(lo[s]!, hi[s]!, n);
      at[base + s] = e;
      counts[r * E + e]!++;
    }
  }
  const groups: (Int32Array | undefined)[] = new Array(R * E);
  const out: ReplicaWrite[] = [];
  for (let r = 0; r < R; r++) {
    for (let e = 0; e < E; e++) {
      const c = counts[r * E + e]!;
      if (c === 0) continue;
      const series = new Int32Array(c);
      groups[r * E + e] = series;
      out.push({ endpoint: e, replica: replicas[r]!, series });
    }
  }
  counts.fill(0);
  for (let r = 0; r < R; r++) {
    const base = r * numSeries;
    for (let s = 0; s < numSeries; s++) {
      const k = r * E + at[base + s]!;
      groups[k]![counts[k]!++] = s;
    }
  }
  return out;
}

/**
 * parseReplicaHeader reads the `THANOS-REPLICA` header of an incoming write: 0 (or absent) for a
 * write from a client, 1…RF for a replica forwarded by a peer (1-based). Throws SluiceError
 * BadRequest (400, like Thanos) for a value that is not a number or exceeds `replicationFactor`.
 */
export function parseReplicaHeader(value: string | null | undefined, replicationFactor: number): number {
  if (value === undefined || value === null || value === '') return 0;
  if (!/^[0-9]{1,9}$/.test(value)) throw new SluiceError(ErrorCode.BadRequest, `could not parse replica header: ${JSON.stringify(value.slice(0, 32))}`);
  const n = Number(value);
  if (n > replicationFactor) {
    throw new SluiceError(ErrorCode.BadRequest, `replica count exceeds replication factor: replica ${n}, replication factor ${replicationFactor}`);
  }
  return n;
}

/** FanoutParams describe one request's fan-out. */
export interface FanoutParams {
  tenant: string;
  /** numSeries is the number of series of the request (the index space of `writes[i].series`). */
  numSeries: number;
  /** writes from distribute(); every series must appear in `replicas` of them. */
  writes: readonly ReplicaWrite[];
  /** endpoints is the ring's endpoint list (`ring.endpoints`). */
  endpoints: readonly Endpoint[];
  /** localAddress is this node's `--receive.local-endpoint` ('' when it stores nothing). */
  localAddress: string;
  replicationFactor: number;
  /** alreadyReplicated: the request carries a single forwarded replica (quorum 1). */
  alreadyReplicated: boolean;
  /** writeLocal stores series on this node; it may reject with a coded error (classified). */
  writeLocal: (series: Int32Array, replica: number) => Promise<WriteOutcome>;
  /**
   * encode returns the uncompressed WriteRequest holding `series`. It is called synchronously once
   * per remote write, and its result is consumed before the next call, so it may reuse a buffer.
   */
  encode: (series: Int32Array) => Uint8Array;
}

/** ReplicatorOptions configure a Replicator. */
export interface ReplicatorOptions {
  clients: PeerClients;
  /** `--receive-forward-timeout` in ms (default: the clients' timeout). */
  timeoutMs?: number;
  metrics?: ForwardMetrics;
}

/** Replicator runs fan-outs. One per gateway thread. */
export class Replicator {
  private readonly clients: PeerClients;
  private readonly timeoutMs: number;
  private readonly metrics: ForwardMetrics | undefined;

  constructor(opts: ReplicatorOptions) {
    this.clients = opts.clients;
    this.timeoutMs = opts.timeoutMs ?? opts.clients.timeoutMs;
    this.metrics = opts.metrics;
  }

  /**
   * fanout writes every (endpoint, replica) group and resolves with null once every series reached
   * quorum, or with the request's coded error (Conflict 409, Unavailable 503, Internal 500) once
   * the outcome is known. Never rejects.
   */
  fanout(p: FanoutParams): Promise<SluiceError | null> {
    if (p.numSeries === 0 || p.writes.length === 0) return Promise.resolve(null);
    const replicas = p.alreadyReplicated ? 1 : p.replicationFactor;
    const quorum = p.alreadyReplicated ? 1 : writeQuorum(p.replicationFactor);
    const tracker = new QuorumTracker(p.numSeries, replicas, quorum);
    const writes = p.writes;
    const done = new Uint8Array(writes.length);
    let pending = writes.length;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;

    return new Promise((resolve) => {
      const finish = (): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        resolve(tracker.result());
      };
      const onOutcome = (i: number, o: WriteOutcome): void => {
        if (done[i] === 1) return;
        done[i] = 1;
        pending--;
        if (!p.alreadyReplicated && o.cls !== ErrorClass.CONFLICT) {
          this.metrics?.replications.inc({ result: o.cls === ErrorClass.OK ? RESULT_SUCCESS : RESULT_ERROR });
        }
        if (settled) return;
        tracker.record(writes[i]!.series, o);
        if (tracker.decided || pending === 0) finish();
      };

      timer = setTimeout(() => {
        timer = undefined;
        for (let i = 0; i < writes.length; i++) {
          if (done[i] === 0) {
            const w = writes[i]!;
            onOutcome(i, { cls: ErrorClass.UNAVAILABLE, message: `writing replica ${w.replica} to endpoint ${p.endpoints[w.endpoint]!.address}: no answer within ${this.timeoutMs} ms` });
          }
        }
      }, this.timeoutMs);

      for (let i = 0; i < writes.length; i++) {
        const w = writes[i]!;
        const address = p.endpoints[w.endpoint]!.address;
        let pr: Promise<WriteOutcome>;
        if (address === p.localAddress) {
          try {
            pr = p.writeLocal(w.series, w.replica).catch(outcomeOfError);
          } catch (e) {
            pr = Promise.resolve(outcomeOfError(e));
          }
        } else if (this.clients.isBackedOff(address)) {
          // Skip encoding a body that would not be sent.
          pr = Promise.resolve({ cls: ErrorClass.UNAVAILABLE, message: `backing off forward request for endpoint ${address} (replica ${w.replica})` });
        } else {
          try {
            pr = this.clients.write(address, p.tenant, w.replica, p.encode(w.series), this.timeoutMs);
          } catch (e) {
            pr = Promise.resolve(outcomeOfError(e));
          }
        }
        pr.then((o) => onOutcome(i, o), (e: unknown) => onOutcome(i, outcomeOfError(e)));
      }
    });
  }
}
