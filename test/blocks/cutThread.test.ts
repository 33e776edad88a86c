/**
 * The cut thread (src/blocks/cutThread.ts): it writes byte for byte the block the main thread
 * writes from the same head refs, runs at SCHED_IDLE, reads the heads through feeds it asks for
 * (again after a shard thread is replaced), and refuses refs of a shard thread that is gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ShardPool } from '../../src/shards/pool.js';
import { ShardLink } from '../../src/shards/link.js';
import { Ingest } from '../../src/gateway/ingest.js';
import { CutThread } from '../../src/blocks/cutThread.js';
import { writeHeadBlock, type HeadBlockJob } from '../../src/blocks/headBlock.js';
import { ShardCtl, ShardState } from '../../src/sharedmem/layout.js';
import { encodeBody, series } from '../helpers/node.js';
import type { WrittenBlock } from '../../src/blocks/writer.js';

const H = 3_600_000;
const T0 = Math.floor(1_700_000_000_000 / (2 * H)) * 2 * H;
const SCHED_IDLE = 5;

/** files returns a block's index and chunk files' bytes (meta.json holds the ULID and differs). */
function files(b: WrittenBlock): Map<string, Buffer> {
  const out = new Map<string, Buffer>([['index', readFileSync(join(b.dir, 'index'))]]);
  for (const f of readdirSync(join(b.dir, 'chunks'))) out.set(`chunks/${f}`, readFileSync(join(b.dir, 'chunks', f)));
  return out;
}

/** cutThreadPolicy returns the scheduling policy of this process' thread named sluice-cut. */
function cutThreadPolicy(): number | undefined {
  for (const tid of readdirSync('/proc/self/task')) {
    let comm = '';
    try { comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(); } catch { continue; }
    if (comm !== 'sluice-cut') continue;
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
  }
  return undefined;
}

test('the cut thread writes the block the main thread writes, at SCHED_IDLE, and follows shard restarts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cutthread-'));
  const pool = new ShardPool({ shards: 2, gateways: 1, ringBytes: 8 << 20, blockDurationMs: 2 * H, restartMinMs: 50 });
  await pool.ready();
  const th = new CutThread({ subscribe: (shards) => pool.subscribe(shards) });
  try {
    const ingest = new Ingest(pool.shards.map((sh, i) => new ShardLink(i, sh.rings[0]!, sh.ctlSab)), { maxDecompressedBytes: 64 << 20 });
    const load = async (name: string): Promise<void> => {
      for (let k0 = 0; k0 < 480; k0 += 120) {
        const ts = Array.from({ length: 300 }, (_, s) => series({ __name__: name, s: String(s), job: `j${s % 4}` },
          Array.from({ length: 120 }, (_, k) => [T0 + (k0 + k) * 15_000 + 3, s * 7 + (k0 + k) * 0.5])));
        assert.equal((await ingest.write('t', encodeBody({ timeseries: ts }))).conflict, '');
      }
    };
    await load('cut_a');
    const jobFor = async (blocksDir: string): Promise<HeadBlockJob> => ({
      blocksDir, mint: T0, maxt: T0 + 2 * H, thanos: { tenant_id: 't' },
      heads: (await pool.refs({ tenant: 't', matcherSets: [], mint: T0, maxt: T0 + 2 * H - 1 })).filter((h) => h.refs.length > 0),
    });
    const onMain = await writeHeadBlock(await jobFor(join(dir, 'main')), (i) => pool.shards[i]!.view);
    const inThread = await th.write(await jobFor(join(dir, 'thread')));
    assert.ok(onMain !== undefined && inThread !== undefined);
    assert.equal(inThread.meta.stats.numSeries, 300);
    assert.equal(inThread.meta.stats.numSamples, 300 * 480);
    assert.deepEqual(inThread.meta.stats, onMain.meta.stats);
    assert.deepEqual(files(inThread), files(onMain));
    if (process.platform === 'linux') assert.equal(cutThreadPolicy(), SCHED_IDLE, 'the cut thread runs at SCHED_IDLE');

    // A shard thread is replaced (without a WAL it starts empty): refs of the old one are refused,
    // the new one's are read through a new feed.
    const stale = await jobFor(join(dir, 'stale'));
    const sh = pool.shards[1]!;
    const gen = sh.generation;
    await sh.worker.terminate();
    const deadline = Date.now() + 10_000;
    while ((sh.generation === gen || Atomics.load(sh.ctl, ShardCtl.STATE) !== ShardState.RUNNING) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sh.generation, gen + 1);
    await assert.rejects(th.write(stale), /shard 1 restarted since its series were selected/);
    await load('cut_b');
    const after = await jobFor(join(dir, 'after'));
    const a = await th.write(after);
    const b = await writeHeadBlock({ ...after, blocksDir: join(dir, 'after-main') }, (i) => pool.shards[i]!.view);
    assert.ok(a !== undefined && b !== undefined);
    assert.deepEqual(files(a), files(b));
    // cut_b's 300 series, and cut_a's that shard 0 still holds.
    const selected = after.heads.reduce((n, h) => n + h.refs.length, 0);
    assert.ok(selected > 300 && selected < 600, `${selected} series selected`);
    assert.equal(a.meta.stats.numSeries, selected);
  } finally {
    await th.close();
    await pool.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
