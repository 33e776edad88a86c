/**
 * Shared-memory layout: every slot, sentinel and size that two threads agree on lives here and
 * nowhere else. Two kinds of SharedArrayBuffer exist:
 *
 *   1. A write ring per shard (gateway → shard), with a control block and a byte ring.
 *   2. Head memory owned by a shard (series table segments, byte arena segments) that other
 *      threads may read, never write.
 *
 * Counters written by different threads sit in their own 64-byte line (no false sharing).
 * All ring indexes are Int32 slots so Atomics.wait / waitAsync / notify work on them.
 */

/** CACHE_LINE is the distance between two slots written by different threads, in bytes. */
export const CACHE_LINE = 64;
const I32_PER_LINE = CACHE_LINE / 4;

/**
 * RingCtl names the Int32 slots of a ring's control block. Each sits on its own cache line.
 * There is one ring per (gateway thread, shard) pair, so every ring has one producer.
 *
 *   line 0  HEAD      producer: bytes written (free-running u32, wraps at 2^32)
 *   line 1  TAIL      consumer: bytes consumed
 *   line 2  DONE_SEQ  consumer: sequence number of the last batch answered (appended or refused)
 *   line 3  SUBMIT_SEQ producer: sequence number of the last batch it wrote, stored *before* the
 *                     batch's HEAD is published. A restarted shard skips what its predecessor left
 *                     in the ring and sets DONE_SEQ = SUBMIT_SEQ without filling result slots: the
 *                     producer finds each skipped batch's slot SEQ stale and answers 503 (link.ts).
 */
export const RingCtl = {
  HEAD: 0 * I32_PER_LINE,
  TAIL: 1 * I32_PER_LINE,
  DONE_SEQ: 2 * I32_PER_LINE,
  SUBMIT_SEQ: 3 * I32_PER_LINE,
} as const;

/** RING_CTL_BYTES is the size of a ring's control block. */
export const RING_CTL_BYTES = 4 * CACHE_LINE;

/**
 * ShardCtl names the Int32 slots of a shard's control block, shared by all its rings.
 *
 *   line 0  WAKE      producers bump it after publishing; the shard waits on it
 *   line 1  STATE     shard state word (ShardState), set by the shard and by the supervisor
 *   line 2  SLEEPING  1 while the shard is (about to be) waiting on WAKE; producers notify only then
 *   line 3  WAL_ERROR WalErrno of the shard's last failed WAL write, 0 once a write succeeds again
 *
 * Sleep protocol (do not reorder): the shard stores SLEEPING=1, loads WAKE, checks every ring once
 * more, and only then waits on WAKE; a producer stores HEAD, bumps WAKE, then loads SLEEPING and
 * notifies if it is 1. Sequentially consistent atomics guarantee that either the shard sees the new
 * HEAD in its last check or the producer sees SLEEPING=1 — a batch is never left unnoticed, and a
 * busy shard costs its producers no futex wake.
 */
export const ShardCtl = {
  WAKE: 0 * I32_PER_LINE,
  STATE: 1 * I32_PER_LINE,
  SLEEPING: 2 * I32_PER_LINE,
  WAL_ERROR: 3 * I32_PER_LINE,
} as const;
export const SHARD_CTL_BYTES = 4 * CACHE_LINE;

/** WalErrno values of ShardCtl.WAL_ERROR: the errno class of a failed WAL write. */
export const WalErrno = {
  NONE: 0,
  ENOSPC: 1,
  EDQUOT: 2,
  EIO: 3,
  OTHER: 4,
} as const;
export type WalErrno = (typeof WalErrno)[keyof typeof WalErrno];

/**
 * NodeCtl names the Int32 slots of the node's control block, shared by the main thread and the
 * gateway threads.
 *
 *   line 0  READY     1 while remote-write is accepted (start-up done, not stopping)
 */
export const NodeCtl = {
  READY: 0,
} as const;
export const NODE_CTL_BYTES = CACHE_LINE;

/**
 * ShardState values stored in ShardCtl.STATE. Gateways write only while RUNNING. FAILED (set by
 * the supervisor when the thread dies) makes waiting gateways give up their batches (503);
 * RESTARTING (set just before a new thread starts) makes them wait: the new thread answers every
 * batch left in the rings (see RingCtl.SUBMIT_SEQ) before it replays its WAL.
 */
export const ShardState = {
  STARTING: 0,
  RUNNING: 1,
  DRAINING: 2,
  RESTARTING: 3,
  STOPPED: -1,
  FAILED: -2,
} as const;
export type ShardState = (typeof ShardState)[keyof typeof ShardState];

/**
 * Batch records in the byte ring. Every record starts 8-byte aligned with a header of
 * BATCH_HEADER_BYTES; a WRAP record (kind 0) tells the consumer to continue at offset 0.
 *
 *   u32 kind (BatchKind)  u32 byteLength (whole record, multiple of 8)
 *   u32 seq               u32 seriesCount
 *   u32 tenantLen         tenant bytes, padded to 8
 *   series records…
 *
 * Series record (8-aligned):
 *   u32 hashLo  u32 hashHi  u32 labelBytes  u32 sampleCount
 *   labelBytes of labels: per label name, 0xFF, value, 0xFF (src/model/labels.ts); pad to 8
 *   sampleCount × (f64 timestamp ms, u32 value low word, u32 value high word)
 */
export const BatchKind = { WRAP: 0, APPEND: 1 } as const;
export const BATCH_HEADER_BYTES = 20;
export const SERIES_HEADER_BYTES = 16;
export const SAMPLE_BYTES = 16;

/** Per-batch results are published in a ring of RESULT_SLOTS slots, indexed by seq. */
export const RESULT_SLOTS = 1024;
/**
 * ResultSlot names the Int32 fields of one result slot (RESULT_SLOT_I32 words each).
 * The consumer fills the slot before it advances DONE_SEQ past seq.
 */
export const ResultSlot = {
  SEQ: 0,
  APPENDED: 1,
  DUPLICATE: 2,
  OUT_OF_ORDER: 3,
  NEW_SERIES: 4,
  TOO_OLD: 5,
  /** ResultError: why the whole batch was refused (nothing of it was applied). */
  ERROR: 6,
} as const;

/** ResultError values of ResultSlot.ERROR. */
export const ResultError = {
  NONE: 0,
  /** The WAL could not log the round (disk full, I/O error): retry later (503). */
  WAL: 1,
} as const;
export const RESULT_SLOT_I32 = 8;
export const RESULT_BYTES = RESULT_SLOTS * RESULT_SLOT_I32 * 4;

/**
 * Shard statistics block: Float64 slots (counters do not overflow) the shard writes and /metrics
 * reads. HEAD_BYTES is the head's memory: series and arena segments plus the series hash table.
 */
export const StatSlot = {
  SERIES: 0,
  SAMPLES_APPENDED: 1,
  DUPLICATE: 2,
  OUT_OF_ORDER: 3,
  BATCHES: 4,
  HEAD_BYTES: 5,
  /** Rounds refused because the WAL could not log them. */
  WAL_FAILURES: 6,
  /** The head's oldest and newest accepted sample timestamps (ms; ±Infinity when empty). */
  MIN_T: 7,
  MAX_T: 8,
} as const;
export const STAT_SLOTS = 16;
export const STAT_BYTES = STAT_SLOTS * 8;

/**
 * Series table. Series refs are dense integers; record i lives in segment i >> SERIES_SEG_SHIFT.
 * One record is SERIES_RECORD_BYTES bytes (seriesTable.ts), viewed as Int32 and Float64 words:
 *
 *   i32[0]  SEQLOCK     even = stable, odd = the shard is opening, moving or closing the head chunk
 *   i32[1]  TENANT      tenant id (shard-local)
 *   i32[2]  LABELS_PTR  arena address of the label blob
 *   i32[3]  LABELS_LEN  bytes of the label blob
 *   i32[4]  CHUNK_PTR   arena address of the open head chunk (XOR bytes incl. 2-byte count), 0 = none
 *   i32[5]  CHUNK_CAP   bytes reserved at CHUNK_PTR
 *   i32[6]  CLOSED_PTR  arena address of the newest closed chunk (0 = none); each links to the older
 *   i32[7]  LAST_V_LO   low word of the last value's bits (duplicate check)
 *   i32[8]  LAST_V_HI   high word
 *   i32[9]  NUM_CLOSED  closed chunks in the list
 *   i32[10] HASH_LO     low word of the series hash (xxhash64 of tenant and labels)
 *   i32[11] HASH_HI     high word
 *   f64[6]  CHUNK_MINT  first timestamp of the open chunk
 *   f64[7]  LAST_T      last appended timestamp
 *   f64[8]  FIRST_T     first timestamp the head holds for the series
 *   bytes SERIES_XOR_STATE_OFFSET…  XOR appender state (src/chunkenc/xor.ts), 8-aligned
 */
export const SeriesI32 = {
  SEQLOCK: 0,
  TENANT: 1,
  LABELS_PTR: 2,
  LABELS_LEN: 3,
  CHUNK_PTR: 4,
  CHUNK_CAP: 5,
  CLOSED_PTR: 6,
  LAST_V_LO: 7,
  LAST_V_HI: 8,
  NUM_CLOSED: 9,
  HASH_LO: 10,
  HASH_HI: 11,
} as const;
export const SeriesF64 = {
  CHUNK_MINT: 6,
  LAST_T: 7,
  FIRST_T: 8,
} as const;
export const SERIES_XOR_STATE_OFFSET = 72;
export const SERIES_SEG_SHIFT = 16;
export const SERIES_PER_SEGMENT = 1 << SERIES_SEG_SHIFT;

/**
 * Closed chunk header in the arena, followed by the chunk bytes (XOR with 2-byte count header):
 *   f64 minT  f64 maxT  i32 prevPtr (older closed chunk, 0 = none)  i32 byteLength
 */
export const CLOSED_CHUNK_HEADER_BYTES = 24;

/**
 * Byte arena. Addresses are i32: segment index in the high bits, byte offset in the low
 * ARENA_SEG_SHIFT bits. Address 0 is never handed out (segment 0 starts with a reserved word),
 * so 0 means "none".
 */
export const ARENA_SEG_SHIFT = 24;
export const ARENA_SEGMENT_BYTES = 1 << ARENA_SEG_SHIFT;
export const ARENA_MAX_SEGMENTS = 1 << (31 - ARENA_SEG_SHIFT);

/** Head-chunk slot size classes in bytes; a chunk grows into the next class when full. */
export const CHUNK_SLOT_CLASSES = [32, 64, 128, 256, 512, 1024, 1152] as const;
/**
 * Prometheus cuts a head chunk at 120 samples; a chunk is cut before an append once it holds ≥ 1024
 * bytes, so it may end up to one sample (≤ 19 bytes) over; the largest slot class absorbs that.
 */
export const SAMPLES_PER_CHUNK = 120;
export const MAX_BYTES_PER_XOR_CHUNK = 1024;
