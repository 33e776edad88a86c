/**
 * Test helper: bring the blocks of a bucket back to local directories and read them with the real
 * `promtool tsdb dump` (Debian's prometheus package), one block at a time, so a sample held by two
 * blocks shows up twice instead of being merged away by promtool's querier.
 *
 * Touches only the directories it is given or creates under the OS temp dir (removed before it
 * returns) and the promtool children it runs.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Bucket } from '../../src/blocks/objstore/bucket.js';
import type { BlockMeta } from '../../src/blocks/meta.js';
import { ULID_RE } from '../../src/blocks/shipperState.js';
import { parseDumpLine, type DumpLine } from '../blocks/format/gosyntax.js';

const run = promisify(execFile);

/** PROMTOOL is the promtool binary (PROMTOOL overrides). */
export const PROMTOOL = process.env['PROMTOOL'] ?? '/usr/bin/promtool';

/** hasPromtool says whether the binary exists, so that a test can skip with a reason. */
export function hasPromtool(): boolean {
  return existsSync(PROMTOOL);
}

/**
 * downloadBlocks copies every whole block of `bucket` (a `<ULID>/` whose meta.json exists) into
 * `dest/<ULID>/…` and returns the ULIDs, sorted. Objects outside block directories are ignored.
 */
export async function downloadBlocks(bucket: Bucket, dest: string): Promise<string[]> {
  const ulids: string[] = [];
  for await (const entry of bucket.iter('')) {
    const ulid = entry.replace(/\/$/, '');
    if (!entry.endsWith('/') || !ULID_RE.test(ulid)) continue;
    if (!await bucket.exists(`${ulid}/meta.json`)) continue;
    for await (const name of bucket.iter(ulid, { recursive: true })) {
      const file = join(dest, name);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, await bucket.get(name));
    }
    ulids.push(ulid);
  }
  return ulids.sort();
}

/** readBlockMeta parses `<blockDir>/meta.json`. */
export function readBlockMeta(blockDir: string): BlockMeta {
  return JSON.parse(readFileSync(join(blockDir, 'meta.json'), 'utf8')) as BlockMeta;
}

/**
 * dumpBlock runs `promtool tsdb dump` over a throw-away data dir holding only the block at
 * `blockDir` (and the empty wal/ promtool expects) and returns its lines, parsed.
 */
export async function dumpBlock(blockDir: string): Promise<DumpLine[]> {
  const db = mkdtempSync(join(tmpdir(), 'sluice-dump-'));
  try {
    cpSync(blockDir, join(db, basename(blockDir)), { recursive: true });
    mkdirSync(join(db, 'wal'));
    const { stdout } = await run(PROMTOOL, ['tsdb', 'dump', db], { maxBuffer: 512 << 20 });
    const out: DumpLine[] = [];
    for (const line of stdout.split('\n')) if (line !== '') out.push(parseDumpLine(line));
    return out;
  } finally {
    rmSync(db, { recursive: true, force: true });
  }
}
