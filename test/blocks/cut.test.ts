/**
 * The head cut end to end on a real receiver: the oldest ranges become Prometheus blocks (checked
 * with promtool from Debian's prometheus package), the head drops them, older samples are refused,
 * the WAL is checkpointed, a restart neither loses nor re-cuts anything (nor keeps a series without
 * data), and the flush endpoint cuts the rest, uploads it to the (filesystem) bucket and leaves no
 * series in the head.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startNode, write, series } from '../helpers/node.js';
import { readHeads } from '../helpers/heads.js';

const H = 3_600_000;
const T0 = Math.floor(1_700_000_000_000 / (2 * H)) * 2 * H; // 2h-aligned
const SERIES = 20;
const STEP = 15_000;
const END = T0 + 5 * H + H / 4; // exclusive: the head spans past 4h + half a block, so [2h, 4h) is due
const HEAD_SAMPLES = (END - (T0 + 4 * H)) / STEP;

const value = (s: number, t: number): number => s * 1000 + (t - T0) / STEP;

/** promtoolDump returns "labels@t" → value for every sample promtool reads from `dir`. */
function promtoolDump(dir: string, mint: number, maxt: number): Map<string, number> {
  const out = execFileSync('promtool', ['tsdb', 'dump', `--min-time=${mint}`, `--max-time=${maxt}`, dir], { maxBuffer: 256 << 20 }).toString();
  const m = new Map<string, number>();
  for (const line of out.split('\n')) {
    const mm = /^(\{.*\}) (\S+) (\d+)$/.exec(line);
    if (!mm) continue;
    m.set(`${mm[1]}@${mm[3]}`, Number(mm[2]));
  }
  return m;
}

test('head cut: blocks promtool reads, truncated head, out-of-bounds refusals, checkpointed WAL, restart, flush', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cut-'));
  let n = await startNode([`--tsdb.path=${dir}`, '--receive.shards=2', '--receive.gateways=1', '--label=replica="r0"']);
  try {
    for (let t0 = T0; t0 < END; t0 += 100 * STEP) {
      const ts = Array.from({ length: 100 }, (_, k) => t0 + k * STEP).filter((t) => t < END);
      const r = await write(n.writeUrl, Array.from({ length: SERIES }, (_, s) => series({ __name__: 'cut_test', s: String(s) }, ts.map((t) => [t, value(s, t)]))), 'acme');
      assert.equal(r.status, 200, r.text);
    }
    const cutter = n.node.cutter!;
    const c1 = await cutter.maybeCut();
    const c2 = await cutter.maybeCut();
    const c3 = await cutter.maybeCut();
    assert.equal(c1?.upTo, T0 + 2 * H);
    assert.equal(c2?.upTo, T0 + 4 * H);
    assert.equal(c3, undefined, 'the newest range is not due yet');
    assert.equal(c1!.blocks.length, 1);
    const meta = JSON.parse(readFileSync(join(cutter.blocksDir, c1!.blocks[0]!.ulid, 'meta.json'), 'utf8'));
    assert.equal(meta.minTime, T0);
    assert.equal(meta.maxTime, T0 + 2 * H);
    assert.equal(meta.stats.numSeries, SERIES);
    assert.equal(meta.stats.numSamples, SERIES * (2 * H / STEP));
    assert.deepEqual(meta.thanos.labels, { replica: 'r0', tenant_id: 'acme' });
    assert.equal(meta.thanos.source, 'receive');

    // promtool reads both blocks, sample for sample.
    execFileSync('promtool', ['tsdb', 'analyze', cutter.blocksDir, c1!.blocks[0]!.ulid], { stdio: 'pipe' });
    const dump = promtoolDump(cutter.blocksDir, T0, T0 + 4 * H - 1);
    assert.equal(dump.size, SERIES * (4 * H / STEP));
    for (let s = 0; s < SERIES; s++) {
      for (let t = T0; t < T0 + 4 * H; t += STEP * 37) assert.equal(dump.get(`{__name__="cut_test", s="${s}"}@${t}`), value(s, t));
    }

    // The head keeps only what is not in a block.
    const head = await readHeads(n.node.pool, 'acme');
    for (const samples of head.values()) {
      assert.ok(samples.every(([t]) => t >= T0 + 4 * H), 'persisted chunks were dropped');
      assert.equal(samples.length, HEAD_SAMPLES);
    }
    // Older samples are refused: their range is in a block.
    const old = await write(n.writeUrl, [series({ __name__: 'cut_test', s: '0' }, [[T0 + 3 * H, 1]]), series({ __name__: 'cut_new' }, [[T0 + H, 1]])], 'acme');
    assert.equal(old.status, 409, old.text);
    assert.match(old.text, /out of bounds/);
    // The WAL was checkpointed.
    const wal0 = readdirSync(join(dir, 'wal', 'shard-000'));
    assert.ok(wal0.some((f) => f.startsWith('checkpoint.')), wal0.join(','));

    // Restart: replay brings back exactly the unpersisted part, and nothing is cut twice.
    await n.stop();
    n = await startNode([`--tsdb.path=${dir}`, '--receive.shards=2', '--receive.gateways=1', '--label=replica="r0"']);
    // The refused request above created series `cut_new` without samples: replay drops it (series
    // GC, headTruncate.ts), so the head holds exactly the series with data.
    const again = await readHeads(n.node.pool, 'acme');
    assert.equal(again.size, SERIES);
    assert.ok(![...again.keys()].some((k) => k.includes('cut_new')), [...again.keys()].join(' '));
    for (const samples of again.values()) {
      assert.equal(samples.length, HEAD_SAMPLES);
      assert.ok(samples.every(([t]) => t >= T0 + 4 * H));
    }
    assert.equal(await n.node.cutter!.maybeCut(), undefined);

    // Flush: the rest becomes a block, uploaded to the default filesystem bucket.
    const res = await fetch(`${n.httpUrl}/api/v1/admin/tsdb/flush`, { method: 'POST' });
    assert.equal(res.status, 200);
    const body = await res.json() as { status: string; data: { ulids: string[] } };
    assert.equal(body.data.ulids.length, 1);
    const ulid = body.data.ulids[0]!;
    for (const b of [...c1!.blocks, ...c2!.blocks].map((x) => x.ulid).concat([ulid])) {
      assert.ok(existsSync(join(dir, 'bucket', b, 'meta.json')), `block ${b} uploaded`);
      assert.ok(existsSync(join(dir, 'bucket', b, 'index')));
    }
    // promtool opens a directory as a TSDB and wants a (here empty) wal/ in it.
    mkdirSync(join(dir, 'bucket', 'wal'), { recursive: true });
    const all = promtoolDump(join(dir, 'bucket'), T0, END);
    assert.equal(all.size, SERIES * ((END - T0) / STEP), 'every sample is in the bucket exactly once');
    // Everything is in blocks and nothing was written since: series GC left no series in the head.
    assert.equal((await readHeads(n.node.pool, 'acme')).size, 0);
    assert.equal((await n.node.pool.tenantSeries()).get('acme') ?? 0, 0);
  } finally {
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
