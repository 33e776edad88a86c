/**
 * PeerClients sends replica writes to other receivers over HTTP with undici: one keep-alive `Pool`
 * per endpoint with a bounded number of connections, `POST http://<address>/api/v1/receive` with a
 * snappy-compressed remote-write 1.0 body and the headers a Thanos receiver expects:
 *
 *   <tenant header>: <tenant>          THANOS-REPLICA: <replica + 1>   (1-based on the wire)
 *   Content-Encoding: snappy           Content-Type: application/x-protobuf
 *   X-Prometheus-Remote-Write-Version: 0.1.0
 *
 * Answers are classified for the quorum (quorum.ts): 2xx ok; 409 conflict; 5xx, timeouts and
 * connection errors unavailable; other 4xx other. A peer found unavailable is backed off
 * exponentially (100 ms doubling to `--receive-forward-max-backoff`, 5 s, with jitter): while
 * backed off, writes to it fail at once as unavailable without being sent. A write that fails
 * because a kept-alive connection was closed under it is sent once more (a resend is idempotent:
 * identical samples are accepted silently). Touches the network only.
 */
import { Pool } from 'undici';
import { snappyCompress } from '../gateway/snappy.js';
import { ErrorClass, OK_OUTCOME, type WriteOutcome } from './quorum.js';
import { RESULT_ERROR, RESULT_SUCCESS, type ForwardMetrics } from './metrics.js';

/** DEFAULT_FORWARD_TIMEOUT_MS is `--receive-forward-timeout`'s default. */
export const DEFAULT_FORWARD_TIMEOUT_MS = 5000;
/** DEFAULT_MAX_BACKOFF_MS is `--receive-forward-max-backoff`'s default. */
export const DEFAULT_MAX_BACKOFF_MS = 5000;
/** MIN_BACKOFF_MS is the first backoff of an unavailable peer. */
export const MIN_BACKOFF_MS = 100;
/** RECEIVE_PATH is where peers accept remote-write. */
export const RECEIVE_PATH = '/api/v1/receive';
/** REPLICA_HEADER is Thanos' `--receive.replica-header` default. */
export const REPLICA_HEADER = 'THANOS-REPLICA';

/** Bytes of an error answer kept for the error message. */
const MAX_ERROR_BODY = 512;

/** PeerClientsOptions configure PeerClients. */
export interface PeerClientsOptions {
  /** `--receive-forward-timeout` in ms: each write's whole budget (queueing, connect, answer). */
  timeoutMs?: number;
  /** `--receive-forward-max-backoff` in ms. */
  maxBackoffMs?: number;
  /** `--receive.tenant-header`. */
  tenantHeader?: string;
  /** Connections per endpoint (Thanos: `--receive.forward.async-workers`, 5). */
  connections?: number;
  metrics?: ForwardMetrics;
  /** Clock (ms) and randomness, replaceable in tests. */
  now?: () => number;
  random?: () => number;
}

/** PeerState is the backoff state of one endpoint. */
interface PeerState {
  pool: Pool;
  attempt: number;
  nextAllowed: number;
}

/** PeerClients holds the pools of every peer this node forwards to. One per gateway thread. */
export class PeerClients {
  readonly timeoutMs: number;
  private readonly maxBackoffMs: number;
  private readonly tenantHeader: string;
  private readonly connections: number;
  private readonly metrics: ForwardMetrics | undefined;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly peers = new Map<string, PeerState>();
  private closed = false;

  constructor(opts: PeerClientsOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS;
    this.maxBackoffMs = opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    this.tenantHeader = opts.tenantHeader ?? 'THANOS-TENANT';
    this.connections = opts.connections ?? 5;
    this.metrics = opts.metrics;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  /**
   * write sends `body` (an uncompressed WriteRequest; compressed before this returns its promise,
   * so the caller may reuse the buffer at once) to `address` as replica `replica` (0-based) of
   * `tenant`, and resolves with the outcome; it never rejects. `timeoutMs` defaults to the
   * forward timeout.
   */
  write(address: string, tenant: string, replica: number, body: Uint8Array, timeoutMs: number = this.timeoutMs): Promise<WriteOutcome> {
    const peer = this.peer(address);
    if (peer === undefined) return Promise.resolve({ cls: ErrorClass.UNAVAILABLE, message: `forwarding request to endpoint ${address}: client closed` });
    if (this.now() < peer.nextAllowed) {
      return Promise.resolve({ cls: ErrorClass.UNAVAILABLE, message: `backing off forward request for endpoint ${address} (replica ${replica})` });
    }
    const compressed = snappyCompress(body);
    const headers = {
      [this.tenantHeader]: tenant,
      [REPLICA_HEADER]: String(replica + 1),
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': 'sluice-peer',
    };
    return this.send(address, peer, headers, compressed, this.now() + timeoutMs);
  }

  /** send performs the request (with one resend on a dropped kept-alive connection) and classifies it. */
  private async send(address: string, peer: PeerState, headers: Record<string, string>, body: Uint8Array, deadline: number): Promise<WriteOutcome> {
    let outcome: WriteOutcome | undefined;
    for (let attempt = 0; attempt < 2 && outcome === undefined; attempt++) {
      const left = deadline - this.now();
      if (left <= 0) {
        outcome = { cls: ErrorClass.UNAVAILABLE, message: `forwarding request to endpoint ${address}: no answer within the forward timeout` };
        break;
      }
      try {
        const res = await peer.pool.request({
          path: RECEIVE_PATH, method: 'POST', headers, body,
          headersTimeout: left, bodyTimeout: left, signal: AbortSignal.timeout(left),
        });
        const status = res.statusCode;
        if (status >= 200 && status < 300) {
          await res.body.dump();
          outcome = OK_OUTCOME;
        } else {
          const text = (await res.body.text()).slice(0, MAX_ERROR_BODY).trim();
          const cls = status === 409 ? ErrorClass.CONFLICT : status >= 500 ? ErrorClass.UNAVAILABLE : ErrorClass.OTHER;
          outcome = { cls, message: `forwarding request to endpoint ${address}: ${status}${text === '' ? '' : ' ' + text}` };
        }
      } catch (e) {
        if (attempt === 0 && isDroppedConnection(e)) continue;
        outcome = { cls: ErrorClass.UNAVAILABLE, message: `forwarding request to endpoint ${address}: ${describe(e)}` };
      }
    }
    this.account(peer, outcome!);
    return outcome!;
  }

  /** account updates the endpoint's backoff and the forward counter for one finished write. */
  private account(peer: PeerState, o: WriteOutcome): void {
    if (o.cls === ErrorClass.OK) {
      peer.attempt = 0;
      peer.nextAllowed = 0;
      this.metrics?.forwardRequests.inc({ result: RESULT_SUCCESS });
      return;
    }
    if (o.cls !== ErrorClass.CONFLICT) this.metrics?.forwardRequests.inc({ result: RESULT_ERROR });
    if (o.cls === ErrorClass.UNAVAILABLE) {
      // Jittered exponential backoff: a random wait between the minimum and min·2^attempt.
      const ceiling = Math.min(this.maxBackoffMs, MIN_BACKOFF_MS * 2 ** peer.attempt);
      const wait = MIN_BACKOFF_MS + this.random() * (ceiling - MIN_BACKOFF_MS);
      peer.attempt++;
      peer.nextAllowed = this.now() + wait;
    }
  }

  /** backoffUntil returns when `address` may next be written to (0 if not backed off); for tests and status. */
  backoffUntil(address: string): number {
    return this.peers.get(address)?.nextAllowed ?? 0;
  }

  /** isBackedOff tells whether a write to `address` would now fail at once without being sent. */
  isBackedOff(address: string): boolean {
    const p = this.peers.get(address);
    return p !== undefined && this.now() < p.nextAllowed;
  }

  /** peer returns (creating on first use) the state of `address`; undefined once closed. */
  private peer(address: string): PeerState | undefined {
    if (this.closed) return undefined;
    let p = this.peers.get(address);
    if (p === undefined) {
      const origin = /^https?:\/\//.test(address) ? address : `http://${address}`;
      const pool = new Pool(origin, {
        connections: this.connections,
        pipelining: 1,
        connect: { timeout: this.timeoutMs },
      });
      p = { pool, attempt: 0, nextAllowed: 0 };
      this.peers.set(address, p);
    }
    return p;
  }

  /** retain closes the pools of endpoints not in `addresses` (call after a hashring reload). */
  async retain(addresses: ReadonlySet<string>): Promise<void> {
    const gone: Pool[] = [];
    for (const [a, p] of this.peers) {
      if (!addresses.has(a)) { gone.push(p.pool); this.peers.delete(a); }
    }
    await Promise.all(gone.map((pool) => pool.close()));
  }

  /** close finishes in-flight writes and closes every pool; later writes fail as unavailable. */
  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.peers.values()].map((p) => p.pool);
    this.peers.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }
}

/** isDroppedConnection tells a kept-alive connection closed by the peer from other errors. */
function isDroppedConnection(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET';
}

/** describe turns a request error into a short reason. */
function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (e.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return 'no answer within the forward timeout';
    }
    return typeof code === 'string' ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}
