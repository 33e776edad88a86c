/**
 * Messages between the main thread and a gateway thread (control path only: start-up, metrics
 * snapshots, hashring reloads, stop). Sample data goes through the shards' rings.
 */
import type { RingBuffers } from '../sharedmem/ring.js';
import type { EngineName } from './http.js';
import type { ReceiveOptions } from './receiveHandler.js';

/** GatewayInit is a gateway thread's workerData. */
export interface GatewayInit {
  index: number;
  host: string;
  port: number;
  engine: EngineName;
  /** rings[s] is this gateway's ring to shard s; shardCtls[s] that shard's control block. */
  rings: RingBuffers[];
  shardCtls: SharedArrayBuffer[];
  nodeCtl: SharedArrayBuffer;
  receive: ReceiveOptions;
  logLevel: string;
  logFormat: string;
}

/**
 * Messages to a gateway thread. `hashrings` carries a new version of the hashring file (JSON);
 * the thread answers `hashrings-ack` once requests that start from now on use it.
 */
export type ToGateway = { type: 'metrics'; id: number } | { type: 'stop' } | { type: 'hashrings'; id: number; text: string };

/** Messages from a gateway thread. */
export type FromGateway =
  | { type: 'listening'; port: number }
  | { type: 'listen-failed'; message: string }
  | { type: 'metrics'; id: number; metrics: unknown }
  | { type: 'hashrings-ack'; id: number; error: string }
  | { type: 'stopped' };
