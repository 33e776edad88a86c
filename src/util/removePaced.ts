/**
 * Removing large files without stalling the WAL. On ext4 (measured on this project's 2-core VMs,
 * mounted with `discard`), unlinking a 128 MiB WAL segment frees its extents in one journal
 * transaction, and every fsync issued meanwhile (the shards' WAL fsyncs, which remote-write
 * acknowledgements wait for) waits behind it: three segments removed at once held fsyncs back
 * 20-30 ms. Shrinking a file in STEP_BYTES steps with a short pause between them spreads the work
 * over many small transactions (fsyncs then wait ≤ 3 ms), and the unlink at the end frees nothing
 * large. Only for files nobody reads any more: a shrunken file is garbage to every reader.
 * Touches only the paths it is given.
 */
import { open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** STEP_BYTES is how much one shrinking step frees. */
const STEP_BYTES = 8 << 20;
/** PAUSE_MS is the pause between two steps. */
const PAUSE_MS = 5;

const pause = (): Promise<void> => new Promise((r) => setTimeout(r, PAUSE_MS));

/** removeFilePaced removes one file, shrinking it step by step first when it is large. */
export async function removeFilePaced(path: string): Promise<void> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return;
  }
  if (size > STEP_BYTES) {
    const fh = await open(path, 'r+');
    try {
      while (size > 0) {
        size = Math.max(0, size - STEP_BYTES);
        await fh.truncate(size);
        if (size > 0) await pause();
      }
    } finally {
      await fh.close();
    }
  }
  await rm(path, { force: true });
}

/** removeTreePaced removes a file or a directory tree, each large file paced. */
export async function removeTreePaced(path: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    return;
  }
  if (!isDir) return removeFilePaced(path);
  for (const e of await readdir(path)) await removeTreePaced(join(path, e));
  await rm(path, { recursive: true, force: true });
}
