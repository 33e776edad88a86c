/**
 * The WAL directory of a node: `<tsdb.path>/wal/shard-NNN/` per shard, and a `shards` file that
 * records how many shards wrote it. A series lives in the shard its hash picks among N shards, so a
 * WAL written by N shards can only be replayed by N shards.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/atomicFile.js';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

/** checkWalLayout creates the WAL directory or checks that it was written by `shards` shards. */
export function checkWalLayout(walDir: string, shards: number): void {
  mkdirSync(walDir, { recursive: true });
  const file = join(walDir, 'shards');
  if (existsSync(file)) {
    const n = Number(readFileSync(file, 'utf8').trim());
    if (n !== shards) {
      throw new ConfigError(`the WAL in ${walDir} was written by ${n} shards; start with --receive.shards=${n} (changing the shard count of a WAL is not supported yet)`);
    }
    return;
  }
  writeFileAtomicSync(file, `${shards}\n`);
}
