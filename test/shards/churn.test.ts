/**
 * Series churn end to end on a real receiver (2 shards, WAL, block cuts): series A..N are written
 * in the first block range and only half of them in the second; once the first range is cut, the
 * other half is gone from the shards' postings, the label values and series APIs, the active
 * series count and the WAL checkpoints; a restart replays only the live half; and a dropped series
 * written again is created anew and reads back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, write, series, getJson, type TestNode } from '../helpers/node.js';
import { readHeads } from '../helpers/heads.js';
import { WalReader } from '../../src/wal/segment.js';
import { RecordType, decodeSeries, recordType } from '../../src/wal/records.js';

const H = 3_600_000;
const T0 = Math.floor(1_700_000_000_000 / (2 * H)) * 2 * H; // 2h-aligned
const CUT = T0 + 2 * H;
const N = 40;
const STEP = 15 * 60_000;
const pods = (pred: (i: number) => boolean): string[] => Array.from({ length: N }, (_, i) => `p${i}`).filter((_, i) => pred(i)).sort();
const EVEN = pods((i) => i % 2 === 0);
const FLAGS = ['--receive.shards=2', '--receive.gateways=1'];

/** send writes pods `which` with samples from `from` to `to` (exclusive), every STEP. */
async function send(n: TestNode, which: number[], from: number, to: number): Promise<void> {
  const ts: [number, number][] = [];
  for (let t = from; t < to; t += STEP) ts.push([t, (t - T0) / STEP]);
  const r = await write(n.writeUrl, which.map((i) => series({ __name__: 'churn', pod: `p${i}` }, ts)));
  assert.equal(r.status, 200, r.text);
}

/** checkpointPods reads the pods named by every shard's newest checkpoint. */
function checkpointPods(dir: string): string[] {
  const out: string[] = [];
  for (const shard of ['shard-000', 'shard-001']) {
    const wal = join(dir, 'wal', shard);
    const cps = readdirSync(wal).filter((f) => /^checkpoint\.\d+$/.test(f)).sort();
    assert.ok(cps.length > 0, `${shard} has a checkpoint`);
    for (const rec of new WalReader(join(wal, cps.at(-1)!)).records()) {
      if (recordType(rec) === RecordType.Series) decodeSeries(rec, (_ref, flat) => { out.push(flat[flat.indexOf('pod') + 1]!); });
    }
  }
  return out.sort();
}

/** podValues asks the label API; by default only about data since the cut (the block has the rest). */
async function podValues(n: TestNode, qs = `?start=${CUT / 1000}`): Promise<string[]> {
  const r = await getJson(`${n.httpUrl}/api/v1/label/pod/values${qs}`);
  assert.equal(r.status, 200);
  return (r.body.data as string[]).slice().sort();
}

test('churn: the half not written since the cut leaves postings, label APIs and checkpoints; a restart replays only the live half; a dropped series comes back when written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-churn-'));
  let n = await startNode([`--tsdb.path=${dir}`, ...FLAGS]);
  try {
    const all = Array.from({ length: N }, (_, i) => i);
    await send(n, all, T0, CUT);
    await send(n, all.filter((i) => i % 2 === 0), CUT, CUT + H + STEP); // past 1.5 ranges: range 1 is due
    assert.equal((await podValues(n, '')).length, N);
    const cut = await n.node.cutter!.maybeCut();
    assert.equal(cut?.upTo, CUT);
    assert.equal(cut.blocks.length, 1);

    // The shards' index: label values and series API since the cut, active series, postings.
    assert.deepEqual(await podValues(n), EVEN);
    const s = await getJson(`${n.httpUrl}/api/v1/series?match[]=churn&start=${CUT / 1000}`);
    assert.deepEqual((s.body.data as { pod: string }[]).map((x) => x.pod).sort(), EVEN);
    assert.equal((await n.node.pool.tenantSeries()).get('default-tenant'), N / 2);
    const heads = await readHeads(n.node.pool, 'default-tenant');
    assert.deepEqual([...heads.keys()].map((k) => /pod="(p\d+)"/.exec(k)![1]!).sort(), EVEN);
    // The checkpoints name only the live half.
    assert.deepEqual(checkpointPods(dir), EVEN);

    // Restart: replay creates only the live half.
    await n.stop();
    n = await startNode([`--tsdb.path=${dir}`, ...FLAGS]);
    const replayed = n.node.pool.shards.reduce((a, sh) => a + (sh.replay?.series ?? 0), 0);
    assert.equal(replayed, N / 2);
    assert.deepEqual(await podValues(n), EVEN);
    const again = await readHeads(n.node.pool, 'default-tenant');
    assert.equal(again.size, N / 2);
    for (const samples of again.values()) assert.ok(samples.length > 0 && samples.every(([t]) => t >= CUT));

    // A dropped series written again is a new series that reads back.
    await send(n, [1], CUT + H + STEP, CUT + H + 3 * STEP);
    assert.deepEqual(await podValues(n), [...EVEN, 'p1'].sort());
    const p1 = await readHeads(n.node.pool, 'default-tenant', [{ type: '=', name: 'pod', value: 'p1' }]);
    assert.deepEqual([...p1.values()], [[[CUT + H + STEP, (CUT + H + STEP - T0) / STEP], [CUT + H + 2 * STEP, (CUT + H + 2 * STEP - T0) / STEP]]]);
    const q = await getJson(`${n.httpUrl}/api/v1/query?query=churn{pod="p1"}&time=${(CUT + H + 2 * STEP) / 1000}`);
    assert.deepEqual((q.body.data as { result: { value: [number, string] }[] }).result.map((r) => r.value[1]), [String((CUT + H + 2 * STEP - T0) / STEP)]);
  } finally {
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
