/**
 * Messages between the main thread and a shard thread (the control path). Sample data never
 * travels here: it goes through the write ring (src/sharedmem/ring.ts).
 */
import type { RingBuffers } from '../sharedmem/ring.js';
import type { SelectQuery } from './headRead.js';
import type { ErrorCode } from '../errors.js';
import type { MessagePort } from 'node:worker_threads';

/** ShardInit is the worker's workerData. */
export interface ShardInit {
  index: number;
  /** One ring per gateway thread. */
  rings: RingBuffers[];
  /** The shard's control block (ShardCtl). */
  ctl: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  blockDurationMs: number;
  /** The shard's WAL directory, or undefined to run without a WAL (tests of the head alone). */
  walDir?: string;
  walFsync: 'off' | 'batch' | 'always';
  /** True when this thread replaces one that died: it answers the batches left in the rings first. */
  restart: boolean;
  /** Samples older than this are already in blocks: refused on append, skipped on replay. */
  minValidT: number;
  /**
   * Where the shard announces its shared-memory segments (SegmentNews), apart from its other
   * messages: a reader that meets an address in a segment it has not been told of yet drains
   * this port synchronously (receiveMessageOnPort) instead of waiting for its event loop.
   */
  segments: MessagePort;
}

/**
 * SegmentNews tells the readers of a shard's head that a segment was added or dropped. A reader
 * that subscribed late (Subscribe) is first sent every live segment, then `caughtUp`.
 */
export type SegmentNews =
  | { type: 'segment'; kind: 'series' | 'arena'; index: number; sab: SharedArrayBuffer }
  | { type: 'dropSegment'; index: number }
  | { type: 'caughtUp' };

/**
 * Subscribe gives the shard one more reader's news port (a query or cut thread, see
 * src/sharedmem/headFeed.ts): the shard sends it every live segment, `caughtUp`, then the same
 * news as every other reader, until the port closes.
 */
export interface Subscribe { type: 'subscribe'; port: MessagePort }

/** Queries the main thread sends; answered with a ShardReply of the same id. */
export type ShardQuery =
  | { type: 'query'; id: number; op: 'series'; q: SelectQuery }
  | { type: 'query'; id: number; op: 'labelNames'; q: SelectQuery }
  | { type: 'query'; id: number; op: 'labelValues'; name: string; q: SelectQuery }
  | { type: 'query'; id: number; op: 'refs'; q: SelectQuery }
  | { type: 'query'; id: number; op: 'tenants' }
  /** Start a block cut at `cut`: refuse older samples from now on, rotate the WAL; answers CutStarted. */
  | { type: 'query'; id: number; op: 'cutStart'; cut: number }
  /**
   * Drop head chunks that end before `cut` (they are in a block now), then the series left without
   * data; answers TruncateStats (headTruncate.ts), with the WAL ids of the series still live.
   */
  | { type: 'query'; id: number; op: 'truncate'; cut: number };

/** CutStarted is a shard's answer to cutStart. */
export interface CutStarted {
  /** The last WAL segment that may hold samples older than the cut (-1 without a WAL). */
  walSegment: number;
  /** The head's time range when the cut started. */
  minT: number;
  maxT: number;
}

/** Messages to a shard. */
export type ToShard = ShardQuery | Subscribe | { type: 'stop' };

/** Messages from a shard. */
export type FromShard =
  | { type: 'ready'; replay?: { series: number; samples: number; ms: number; corruptions: { segment: number; offset: number; reason: string }[]; tornTail: { segment: number; offset: number } | null } }
  | { type: 'reply'; id: number; result: unknown }
  | { type: 'reply'; id: number; error: { code: ErrorCode; message: string } }
  | { type: 'walError'; message: string }
  | { type: 'walRecovered' }
  | { type: 'stopped' };
