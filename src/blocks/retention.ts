/**
 * Local retention of blocks: deletes `<dir>/<ULID>/` block directories whose data ends before
 * `now - retention`, but, when an object store is configured, only once the shipper has
 * uploaded them, so an object-storage outage never costs data. Touches only block directories
 * in `dir` (renamed to `<ULID>.tmp-for-deletion` first, then removed, so a crash mid-delete never
 * leaves a block with its meta.json but without its files).
 */
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '../util/log.js';
import { scanBlocks } from './shipperState.js';
import { removeTreePaced } from '../util/removePaced.js';

/** UploadTracker is the part of the Shipper retention needs. */
export interface UploadTracker {
  isUploaded(ulid: string): boolean;
}

/** DELETION_SUFFIX marks a block directory being deleted (Prometheus' suffix). */
const DELETION_SUFFIX = '.tmp-for-deletion';

/**
 * applyRetention deletes the blocks in `dir` with `maxTime < now - retentionMs` that are
 * uploaded (`shipper` set) or, with no object store (`shipper` null), all such blocks. Empty
 * blocks (`stats.numSamples: 0`, never shipped) count as uploaded. Blocks with an unreadable
 * meta.json are kept. `retentionMs <= 0` disables retention. Returns the deleted ULIDs.
 */
export async function applyRetention(
  dir: string,
  retentionMs: number,
  shipper: UploadTracker | null,
  now: number = Date.now(),
  logger: Logger = new Logger('info'),
): Promise<string[]> {
  await removeLeftovers(dir, logger);
  if (!(retentionMs > 0)) return [];
  const cutoff = now - retentionMs;
  const deleted: string[] = [];
  for (const b of await scanBlocks(dir)) {
    if (b.meta === undefined || b.meta.maxTime >= cutoff) continue;
    const empty = b.meta.stats?.numSamples === 0;
    if (shipper !== null && !empty && !shipper.isUploaded(b.ulid)) {
      logger.debug('retention keeps an expired block until it is uploaded', { block: b.ulid, maxTime: b.meta.maxTime });
      continue;
    }
    const doomed = `${b.dir}${DELETION_SUFFIX}`;
    await rename(b.dir, doomed);
    // Paced: unlinking a block's large files at once stalls the WAL's fsyncs (removePaced.ts).
    await removeTreePaced(doomed);
    deleted.push(b.ulid);
    logger.info('deleted block past retention', {
      block: b.ulid, minTime: b.meta.minTime, maxTime: b.meta.maxTime, retention_ms: retentionMs, uploaded: shipper !== null && !empty,
    });
  }
  return deleted;
}

/** removeLeftovers finishes deletions a crash interrupted. */
async function removeLeftovers(dir: string, logger: Logger): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.endsWith(DELETION_SUFFIX)) continue;
    await rm(join(dir, n), { recursive: true, force: true });
    logger.info('removed a block left half-deleted', { dir: n });
  }
}
