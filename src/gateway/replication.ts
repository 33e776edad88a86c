/**
 * Replication glue of a gateway thread: with a hashring (`--receive.hashrings[-file]`) a write is
 * decoded, its series validated and hashed once (Ingest.place), placed on RF endpoints of the
 * tenant's ring (distribute), and fanned out (Replicator.fanout): this node's groups go to the
 * local shards through the usual route → ring → ack path, the others are re-encoded from the
 * label blobs and forwarded to peers. Writes that carry a replica header ≥ 1 were already
 * replicated by a peer and are written locally only. Rules: docs/peers.md.
 *
 * Holds the thread's current Hashrings (replaced whole on reload; a request keeps the ring it
 * started with), the peer clients and the encoder. Touches the network through PeerClients only;
 * HTTP statuses are chosen by the caller (src/gateway/status.ts).
 */
import { ErrorCode } from '../errors.js';
import { parseHashringsConfig, type HashringConfig } from '../peer/config.js';
import { Hashrings } from '../peer/hashrings.js';
import { PeerClients } from '../peer/client.js';
import { Replicator, distribute, parseReplicaHeader } from '../peer/replicate.js';
import { WriteRequestEncoder } from '../peer/encode.js';
import { ErrorClass, OK_OUTCOME, type WriteOutcome } from '../peer/quorum.js';
import { ForwardMetrics } from '../peer/metrics.js';
import type { HashringAlgorithm } from '../peer/ring.js';
import { PlacedSeries } from './route.js';
import type { Ingest, IngestOutcome } from './ingest.js';
import type { TenantBounds } from './limits.js';
import type client from 'prom-client';

/** ReplicationOptions are the replication flags a gateway thread gets (structured-clone safe). */
export interface ReplicationOptions {
  /** The hashring file's JSON (from the file or `--receive.hashrings`); reloads arrive by message. */
  hashrings: string;
  /** Where `hashrings` came from, for error messages. */
  source: string;
  /** `--receive.hashrings-algorithm`. */
  algorithm: HashringAlgorithm;
  /** `--receive.replication-factor`. */
  replicationFactor: number;
  /** `--receive.local-endpoint` ('' = router only: nothing is placed on this node). */
  localEndpoint: string;
  /** `--receive.replica-header`, lower case. */
  replicaHeader: string;
  /** `--receive-forward-timeout` in ms. */
  forwardTimeoutMs: number;
  /** `--receive-forward-max-backoff` in ms. */
  forwardMaxBackoffMs: number;
  /** `--receive.forward.async-workers`: connections per peer. */
  connections: number;
  /** `--receive.tenant-header` (sent to peers). */
  tenantHeader: string;
}

/** hashringsJson renders parsed hashrings back to the file format (what the gateways parse). */
export function hashringsJson(configs: readonly HashringConfig[]): string {
  return JSON.stringify(configs.map((c) => ({
    hashring: c.hashring,
    tenants: c.tenants,
    tenant_matcher_type: c.tenantMatcherType,
    ...(c.algorithm !== '' ? { algorithm: c.algorithm } : {}),
    endpoints: c.endpoints.map((e) => (e.az === '' ? e.address : { address: e.address, az: e.az })),
    external_labels: c.externalLabels,
  })));
}

/** Replication runs the writes of one gateway thread when a hashring is configured. */
export class Replication {
  private readonly opts: ReplicationOptions;
  private rings: Hashrings;
  private readonly clients: PeerClients;
  private readonly replicator: Replicator;
  private readonly encoder = new WriteRequestEncoder();
  private readonly placed = new PlacedSeries();
  /** replicas[i] = i for 0 ≤ i < RF: every replica of a new write. */
  private readonly replicas: readonly number[];

  /** Builds the rings from `opts.hashrings` (throws ConfigError if invalid) and the peer clients. */
  constructor(opts: ReplicationOptions, registry: client.Registry) {
    this.opts = opts;
    this.rings = this.build(opts.hashrings, opts.source);
    const metrics = new ForwardMetrics(registry, opts.replicationFactor);
    this.clients = new PeerClients({
      timeoutMs: opts.forwardTimeoutMs, maxBackoffMs: opts.forwardMaxBackoffMs, tenantHeader: opts.tenantHeader,
      connections: opts.connections, metrics,
    });
    this.replicator = new Replicator({ clients: this.clients, timeoutMs: opts.forwardTimeoutMs, metrics });
    this.replicas = Array.from({ length: opts.replicationFactor }, (_, i) => i);
  }

  private build(text: string, source: string): Hashrings {
    return new Hashrings(parseHashringsConfig(text, source), { algorithm: this.opts.algorithm, replicationFactor: this.opts.replicationFactor });
  }

  /**
   * setHashrings swaps in a new version of the hashring file (requests in flight keep the rings
   * they started with) and closes the pools of peers no longer in any ring. Throws ConfigError if
   * the text is invalid; the old rings stay then.
   */
  setHashrings(text: string): void {
    this.rings = this.build(text, this.opts.source);
    void this.clients.retain(this.rings.addresses());
  }

  /** replicaOf reads the replica header of a request (0 = a new write); 400 if malformed or > RF. */
  replicaOf(headers: Map<string, string>): number {
    return parseReplicaHeader(headers.get(this.opts.replicaHeader), this.opts.replicationFactor);
  }

  /**
   * write ingests one request of `tenant` with replica number `replica` (from replicaOf): a
   * replicated write (≥ 1) goes to the local shards only; a new one is placed and fanned out.
   * Resolves with the outcome (conflict set for a 409) or throws a coded error: Unavailable
   * (503), Internal (500, e.g. no hashring for the tenant), or the decode/limit errors of Ingest.
   */
  async write(ingest: Ingest, tenant: string, body: Uint8Array, bounds: TenantBounds | undefined, replica: number): Promise<IngestOutcome> {
    if (replica !== 0) return ingest.write(tenant, body, bounds);
    const { ring } = this.rings.ringFor(tenant);
    const tb = ingest.decode(tenant, body, bounds);
    const placed = this.placed;
    ingest.place(tb, placed, bounds);
    const out = ingest.newOutcome();
    const firstInvalid = ingest.firstInvalid;
    const n = placed.count;
    const writes = distribute(ring, placed.lo, placed.hi, n, this.replicas);
    const d = ingest.decoded;
    const enc = this.encoder;
    const locals: Promise<unknown>[] = [];
    // Everything below that reads the decoder or `placed` runs synchronously inside fanout()
    // (writeLocal routes and submits before its first await; encode is synchronous), so the next
    // request may reuse them as soon as fanout() returns its promise.
    const err = await this.replicator.fanout({
      tenant, numSeries: n, writes, endpoints: ring.endpoints, localAddress: this.opts.localEndpoint,
      replicationFactor: this.opts.replicationFactor, alreadyReplicated: false,
      writeLocal: (series) => {
        const w = ingest.writePlaced(tb, placed, series, out);
        locals.push(w.catch(() => undefined));
        return w.then(localOutcome);
      },
      encode: (series) => {
        enc.reset();
        const ts = d.timestamps, vw = d.valueWords, blobs = placed.blobs;
        for (let j = 0; j < series.length; j++) {
          const k = series[j]!;
          enc.addSeries(blobs, placed.blobOff[k]!, placed.blobLen[k]!, ts, vw, placed.s0[k]!, placed.s1[k]!);
        }
        return enc.finish();
      },
    });
    // Quorum may have come from the peers while this node's own write goes on.
    if (locals.length > 0) out.localDone = Promise.all(locals).then(() => undefined);
    // Invalid series are conflicts found before placement (docs/peers.md): an unavailable fan-out
    // still wins (retryable), otherwise any conflict makes the answer 409.
    const invalid = out.invalidSeries > 0
      ? `add ${out.invalidSeries} series (${out.invalidSamples} samples): ${firstInvalid}` : '';
    if (err === null) {
      out.conflict = invalid;
      return out;
    }
    if (err.code === ErrorCode.Conflict || (invalid !== '' && err.code !== ErrorCode.Unavailable)) {
      out.conflict = err.code === ErrorCode.Conflict ? (invalid === '' ? err.message : `${err.message}; ${invalid}`) : invalid;
      return out;
    }
    throw err;
  }

  /** close finishes in-flight forwards and closes the peer pools. */
  close(): Promise<void> {
    return this.clients.close();
  }
}

/** localOutcome turns the local write's conflict message into a replica outcome. */
function localOutcome(conflict: string): WriteOutcome {
  return conflict === '' ? OK_OUTCOME : { cls: ErrorClass.CONFLICT, message: conflict };
}

