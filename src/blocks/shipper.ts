/**
 * The shipper: uploads every finished block in a local blocks directory to object storage,
 * oldest ULID first, each block's files as `chunks/*`, `index`, then `meta.json` last (so a
 * reader never sees half a block), and records what is uploaded in `thanos.shipper.json`
 * after each block. A failed upload stops the pass (blocks stay in order) and is retried with
 * exponential backoff; the blocks stay on disk, so an object-storage outage loses nothing.
 * Touches: reads `<dir>/<ULID>/…`, writes `<dir>/thanos.shipper.json`, writes to the bucket.
 * Format of the state file and bucket layout: docs/format/shipper.md.
 */
import { join } from 'node:path';
import client from 'prom-client';
import { ErrorCode, SluiceError } from '../errors.js';
import { Logger } from '../util/log.js';
import type { Bucket } from './objstore/bucket.js';
import {
  META_FILE, blockFiles, readShipperState, scanBlocks, writeShipperState,
  type BlockFile, type LocalBlock, type LocalBlockMeta,
} from './shipperState.js';

/** ShipperOptions configure a Shipper. */
export interface ShipperOptions {
  /** dir is the blocks directory (`--tsdb.path`, or a tenant's directory in it). */
  dir: string;
  /** bucket receives the blocks. */
  bucket: Bucket;
  /** registry gets the shipper metrics; shippers sharing one share the metrics by `tenant`. */
  registry?: client.Registry;
  /** tenant is the `tenant` label value of the metrics ('' when not given). */
  tenant?: string;
  logger?: Logger;
  /** intervalMs is the background loop's period between successful passes (30 s, as Thanos). */
  intervalMs?: number;
  /** backoffInitialMs is the wait after the first failed pass (1 s); it doubles per failure… */
  backoffInitialMs?: number;
  /** backoffMaxMs …up to this cap (30 s). */
  backoffMaxMs?: number;
  /** skipCorruptedBlocks uploads later blocks past one with a broken meta.json or files (false). */
  skipCorruptedBlocks?: boolean;
  /** source fills `thanos.source` in the uploaded meta.json when the block lacks it ('receive'). */
  source?: string;
  /** now is the clock (ms), for tests. */
  now?: () => number;
}

/** SyncResult is what one pass did. */
export interface SyncResult {
  /** uploaded are the blocks this pass uploaded, in order. */
  uploaded: string[];
  /** found are blocks missing from the state but already whole in the bucket (crash recovery). */
  found: string[];
  /** skipped are corrupted blocks passed over (only with skipCorruptedBlocks). */
  skipped: string[];
}

/** UploadedListener hears about each block once it is safely in the bucket and in the state. */
export type UploadedListener = (ulid: string, meta: LocalBlockMeta) => void;

/** backoffDelay is the wait after `failures` consecutive failed passes (≥ 1). */
export function backoffDelay(failures: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

/** Shipper uploads blocks; see the file comment. Methods may be called from any async context. */
export class Shipper {
  private readonly dir: string;
  private readonly bucket: Bucket;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly skipCorrupted: boolean;
  private readonly source: string;
  private readonly now: () => number;
  private readonly m: ShipperMetrics;
  private readonly labels: { tenant: string };

  /** uploadedSet mirrors the state file (only blocks still present locally after a pass). */
  private readonly uploadedSet: Set<string>;
  private readonly listeners = new Set<UploadedListener>();

  /** tail is the last pass started or queued; passes never overlap. */
  private tail: Promise<unknown> = Promise.resolve();
  /** queued is a pass that has not started yet; later callers share it. */
  private queued: Promise<SyncResult> | null = null;

  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private kicked = false;
  private failures = 0;

  constructor(opts: ShipperOptions) {
    this.dir = opts.dir;
    this.bucket = opts.bucket;
    this.log = opts.logger ?? new Logger('info');
    this.intervalMs = opts.intervalMs ?? 30_000;
    this.backoffInitialMs = opts.backoffInitialMs ?? 1000;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.skipCorrupted = opts.skipCorruptedBlocks ?? false;
    this.source = opts.source ?? 'receive';
    this.now = opts.now ?? Date.now;
    this.labels = { tenant: opts.tenant ?? '' };
    this.m = shipperMetrics(opts.registry ?? new client.Registry());
    const st = readShipperState(this.dir);
    if (st.problem !== undefined) {
      this.log.warn('shipper state file unusable, starting empty; the bucket is checked before each upload', { dir: this.dir, err: st.problem });
    }
    this.uploadedSet = new Set(st.uploaded);
  }

  /** isUploaded tells whether block `ulid` is in the bucket and recorded in the state. */
  isUploaded(ulid: string): boolean {
    return this.uploadedSet.has(ulid);
  }

  /** uploaded lists the recorded blocks in ULID order. */
  uploaded(): string[] {
    return [...this.uploadedSet].sort();
  }

  /** consecutiveFailures counts failed passes since the last successful one. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** onUploaded registers `fn` for every block recorded from now on; returns the unsubscribe. */
  onUploaded(fn: UploadedListener): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  /**
   * sync runs one pass now (after the one in progress, if any) and resolves with what it did,
   * or rejects with a SluiceError (Unavailable when the object store failed). One attempt, no
   * backoff: the background loop retries.
   */
  sync(): Promise<SyncResult> {
    if (this.queued !== null) return this.queued;
    const p = this.tail.catch(() => undefined).then(() => {
      this.queued = null;
      return this.pass();
    });
    this.queued = p;
    this.tail = p;
    return p;
  }

  /** start runs passes in the background: every intervalMs, after notify(), backoff on failure. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** notify asks the background loop for a pass now (a new block was written). */
  notify(): void {
    this.kicked = true;
    this.wakeUp();
  }

  /** stop ends the background loop and waits for the pass in progress. */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp();
    await this.loopDone;
    await this.tail.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.kicked = false;
      let delay = this.intervalMs;
      try {
        await this.sync();
        this.failures = 0;
      } catch (e) {
        this.failures++;
        delay = backoffDelay(this.failures, this.backoffInitialMs, this.backoffMaxMs);
        this.log.warn('shipper pass failed; blocks stay on disk and are retried', { dir: this.dir, err: e, failures: this.failures, retry_in_ms: delay });
      }
      if (!this.running) break;
      if (this.kicked && this.failures === 0) continue;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, delay);
        this.timer.unref();
      });
      this.wake = null;
    }
  }

  private wakeUp(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** pass is one sync: see the file comment for the order and the state updates. */
  private async pass(): Promise<SyncResult> {
    const l = this.labels;
    this.m.dirSyncs.inc(l);
    const res: SyncResult = { uploaded: [], found: [], skipped: [] };
    try {
      const blocks = await scanBlocks(this.dir);
      // The state lists only blocks still on disk (as Thanos rebuilds it on every pass).
      const local = new Set(blocks.map((b) => b.ulid));
      let dirty = false;
      for (const u of this.uploadedSet) {
        if (!local.has(u)) { this.uploadedSet.delete(u); dirty = true; }
      }
      const pending: Array<{ block: LocalBlock; files: BlockFile[] | null; bytes: number }> = [];
      for (const block of blocks) {
        if (this.uploadedSet.has(block.ulid)) continue;
        if (block.meta?.stats?.numSamples === 0) continue; // empty blocks are not shipped (Thanos)
        let files: BlockFile[] | null = null;
        if (block.problem === undefined) {
          try { files = await blockFiles(block.dir); } catch (e) { block.problem = (e as Error).message; }
        }
        const bytes = files === null ? 0 : files.reduce((s, f) => s + f.size, 0);
        pending.push({ block, files, bytes });
      }
      let queueBlocks = pending.length;
      let queueBytes = pending.reduce((s, p) => s + p.bytes, 0);
      this.setQueue(queueBlocks, queueBytes);

      for (const { block, files, bytes } of pending) {
        if (block.problem !== undefined || files === null || block.meta === undefined) {
          this.m.corrupted.inc(l);
          const msg = `block ${block.ulid} is corrupted: ${block.problem ?? 'unknown'}`;
          if (!this.skipCorrupted) throw new SluiceError(ErrorCode.Internal, msg);
          this.log.warn('skipping corrupted block', { block: block.ulid, err: block.problem });
          res.skipped.push(block.ulid);
          continue;
        }
        const meta = block.meta;
        const metaKey = `${block.ulid}/${META_FILE}`;
        try {
          if (await this.bucket.exists(metaKey)) {
            res.found.push(block.ulid);
            this.log.info('block already in the bucket; recording it as uploaded', { block: block.ulid });
          } else {
            await this.uploadBlock(block, meta, files);
            this.m.uploads.inc(l);
            this.m.lastSuccess.set(l, this.now() / 1000);
            res.uploaded.push(block.ulid);
            this.log.info('uploaded block', { block: block.ulid, bytes });
          }
        } catch (e) {
          this.m.uploadFailures.inc(l);
          throw e;
        }
        this.uploadedSet.add(block.ulid);
        await writeShipperState(this.dir, this.uploaded());
        dirty = false;
        this.setQueue(--queueBlocks, (queueBytes -= bytes));
        this.emit(block.ulid, meta);
      }
      if (dirty) await writeShipperState(this.dir, this.uploaded());
      return res;
    } catch (e) {
      this.m.dirSyncFailures.inc(l);
      if (e instanceof SluiceError) throw e;
      throw new SluiceError(ErrorCode.Internal, `shipper: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  /** uploadBlock sends the data files in order, then meta.json (with Thanos' file list) last. */
  private async uploadBlock(block: LocalBlock, meta: LocalBlockMeta, files: BlockFile[]): Promise<void> {
    for (const f of files) await this.bucket.upload(`${block.ulid}/${f.rel}`, join(block.dir, f.rel));
    const thanos = meta.thanos ?? {};
    if (thanos['files'] !== undefined && thanos['source'] !== undefined) {
      await this.bucket.upload(`${block.ulid}/${META_FILE}`, join(block.dir, META_FILE));
      return;
    }
    const out: LocalBlockMeta = {
      ...meta,
      thanos: {
        ...thanos,
        source: thanos['source'] ?? this.source,
        files: thanos['files'] ?? [...files.map((f) => ({ rel_path: f.rel, size_bytes: f.size })), { rel_path: META_FILE }],
      },
    };
    await this.bucket.upload(`${block.ulid}/${META_FILE}`, Buffer.from(`${JSON.stringify(out, null, '\t')}\n`));
  }

  private setQueue(blocks: number, bytes: number): void {
    this.m.queueBlocks.set(this.labels, blocks);
    this.m.queueBytes.set(this.labels, bytes);
  }

  private emit(ulid: string, meta: LocalBlockMeta): void {
    for (const fn of this.listeners) {
      try {
        fn(ulid, meta);
      } catch (e) {
        this.log.error('onUploaded listener failed', { block: ulid, err: e });
      }
    }
  }
}

/** ShipperMetrics are the shipper's series; one set per registry, labelled by tenant. */
interface ShipperMetrics {
  dirSyncs: client.Counter<'tenant'>;
  dirSyncFailures: client.Counter<'tenant'>;
  uploads: client.Counter<'tenant'>;
  uploadFailures: client.Counter<'tenant'>;
  corrupted: client.Counter<'tenant'>;
  queueBlocks: client.Gauge<'tenant'>;
  queueBytes: client.Gauge<'tenant'>;
  lastSuccess: client.Gauge<'tenant'>;
}

function shipperMetrics(r: client.Registry): ShipperMetrics {
  const counter = (name: string, help: string): client.Counter<'tenant'> =>
    (r.getSingleMetric(name) as client.Counter<'tenant'> | undefined)
    ?? new client.Counter({ name, help, labelNames: ['tenant'], registers: [r] });
  const gauge = (name: string, help: string): client.Gauge<'tenant'> =>
    (r.getSingleMetric(name) as client.Gauge<'tenant'> | undefined)
    ?? new client.Gauge({ name, help, labelNames: ['tenant'], registers: [r] });
  return {
    dirSyncs: counter('thanos_shipper_dir_syncs_total', 'Total number of dir syncs'),
    dirSyncFailures: counter('thanos_shipper_dir_sync_failures_total', 'Total number of failed dir syncs'),
    uploads: counter('thanos_shipper_uploads_total', 'Total number of uploaded blocks'),
    uploadFailures: counter('thanos_shipper_upload_failures_total', 'Total number of block upload failures'),
    corrupted: counter('thanos_shipper_corrupted_blocks_total', 'Total number of corrupted blocks'),
    queueBlocks: gauge('sluice_shipper_queue_blocks', 'Blocks on disk waiting to be uploaded.'),
    queueBytes: gauge('sluice_shipper_queue_bytes', 'Bytes of chunks and index files of the blocks waiting to be uploaded.'),
    lastSuccess: gauge('thanos_shipper_last_successful_upload_time', 'Unix time of the last successful block upload, in seconds.'),
  };
}
