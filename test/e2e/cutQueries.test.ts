/**
 * Queries during a block cut: the range being cut is always in the heads, in the new blocks, or
 * in both (merged), never in neither. The cut tells the block set of its new blocks before the
 * shards drop the range; a query run right after the shards dropped it (before the cut's WAL
 * checkpoint ends) must still count every sample. A query thread reads the heads after the main
 * thread listed the blocks for it: a query that listed them before the cut's were visible must
 * still find the range in the heads (the cut waits for it before the shards drop the range).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, write, series, getJson } from '../helpers/node.js';

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 7_200_000); // on the 2h grid
const STEP = 60_000;
const SERIES = 20;
const SAMPLES = 180; // 3 h: the first 2h range is cut into a block

/** load writes SERIES series × SAMPLES samples of `cq`. */
async function load(writeUrl: string): Promise<void> {
  for (let k0 = 0; k0 < SAMPLES; k0 += 60) {
    const r = await write(writeUrl, Array.from({ length: SERIES }, (_, s) => series({ __name__: 'cq', s: String(s) },
      Array.from({ length: 60 }, (_, k) => [T0 + 500 + (k0 + k) * STEP, k0 + k] as [number, number]))));
    assert.equal(r.status, 200, r.text);
  }
}

/** countAll is the number of `cq` samples a query counts over the whole loaded range. */
async function countAll(httpUrl: string): Promise<string> {
  const at = (T0 + SAMPLES * STEP) / 1000;
  const r = await getJson(`${httpUrl}/api/v1/query?query=${encodeURIComponent('sum(count_over_time(cq[4h]))')}&time=${at}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const res = (r.body.data as { result: { value: [number, string] }[] }).result;
  return res[0]?.value[1] ?? '0';
}

test('a query between the heads dropping a cut range and the end of the cut sees every sample', async () => {
  const n = await startNode(['--receive.shards=1', '--receive.gateways=1', '--query.workers=0']);
  try {
    await load(n.writeUrl);
    const count = (): Promise<string> => countAll(n.httpUrl);
    // A query now lists the blocks (none yet): the list is fresh for a while.
    assert.equal(await count(), String(SERIES * SAMPLES));
    // Right after the shard drops the cut range, before the cut returns, query again.
    const shard = n.node.pool.shards[0]!;
    const query = shard.query.bind(shard);
    let during: string | undefined;
    shard.query = (async (msg: Parameters<typeof query>[0]) => {
      const answer = await query(msg);
      if ((msg as { op?: string }).op === 'truncate') during = await count();
      return answer;
    }) as typeof shard.query;
    const { ulids } = await n.node.flush();
    assert.ok(ulids.length >= 1, 'the flush cut blocks');
    assert.equal(during, String(SERIES * SAMPLES), 'samples seen while the cut was between truncation and its end');
    assert.equal(await count(), String(SERIES * SAMPLES), 'after the cut');
  } finally {
    await n.stop();
  }
});

test('a query thread that listed the blocks before a cut made its own visible reads the heads before they drop the range', async () => {
  const n = await startNode(['--receive.shards=1', '--receive.gateways=1', '--query.workers=1', '--query.warm-up=false']);
  try {
    await load(n.writeUrl);
    const count = (): Promise<string> => countAll(n.httpUrl);
    assert.equal(await count(), String(SERIES * SAMPLES), 'before the cut');
    // The query lists the blocks (none) before the flush starts, then is slow to read the heads:
    // its listing waits, after it is made, until the shard has dropped the range (or 1.5 s,
    // whichever comes first). Reading the heads after they dropped the range, with a list that
    // lacks the new block, would lose the range.
    const shard = n.node.pool.shards[0]!;
    const query = shard.query.bind(shard);
    let truncated!: () => void;
    const dropped = new Promise<void>((resolve) => { truncated = resolve; });
    shard.query = (async (msg: Parameters<typeof query>[0]) => {
      const answer = await query(msg);
      if ((msg as { op?: string }).op === 'truncate') truncated();
      return answer;
    }) as typeof shard.query;
    const blockSet = (n.node as unknown as { blockSet: { blocks: (...a: unknown[]) => Promise<unknown[]> } }).blockSet;
    const blocks = blockSet.blocks.bind(blockSet);
    let listed!: () => void;
    const hasListed = new Promise<void>((resolve) => { listed = resolve; });
    let armed = true;
    blockSet.blocks = async (...a: unknown[]) => {
      const list = await blocks(...a);
      if (armed) {
        armed = false;
        listed();
        await Promise.race([dropped, new Promise((resolve) => setTimeout(resolve, 1500))]);
      }
      return list;
    };
    const slow = count();
    await hasListed;
    const { ulids } = await n.node.flush();
    assert.ok(ulids.length >= 1, 'the flush cut blocks');
    assert.equal(await slow, String(SERIES * SAMPLES), 'the query that listed the blocks before the cut');
    assert.equal(await count(), String(SERIES * SAMPLES), 'after the cut');
  } finally {
    await n.stop();
  }
});
