/**
 * Shard failure: a shard thread that dies is replaced by a new one that replays its WAL; while it
 * is down, requests touching it get 503 (with Retry-After) and the other shard keeps serving; no
 * acknowledged sample is lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, write, series } from '../helpers/node.js';
import { readHeads, labelKey } from '../helpers/heads.js';

const T0 = 1_700_000_000_000;

async function metric(url: string, name: string, shard: number): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name}\\{shard="${shard}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

test('a dead shard thread is restarted, replays its WAL, and only its series get 503 meanwhile', async () => {
  const n = await startNode(['--receive.shards=2', '--receive.gateways=1'], { shardRestartMinMs: 1500 });
  try {
    const acked = new Map<string, [number, number][]>();
    const send = async (name: string, i: number, samples: [number, number][]): Promise<number> => {
      const labels = { __name__: name, i: String(i) };
      const r = await write(n.writeUrl, [series(labels, samples)]);
      if (r.status === 200) {
        const k = labelKey(Object.entries(labels).sort());
        acked.set(k, [...(acked.get(k) ?? []), ...samples]);
      }
      return r.status;
    };
    for (let i = 0; i < 40; i++) {
      assert.equal(await send('before', i, [[T0, i], [T0 + 15_000, i + 0.5]]), 200);
    }

    const shard = n.node.pool.shards[1]!;
    await shard.worker.terminate();
    assert.ok(shard.failed, 'the supervisor noticed the dead thread');
    assert.equal(await metric(n.httpUrl, 'sluice_shard_up', 1), 0);

    // During the restart delay: single-series requests land on one shard or the other.
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 30; i++) {
      const labels = { __name__: 'during', i: String(i) };
      const r = await write(n.writeUrl, [series(labels, [[T0, i]])]);
      statuses.push(r.status);
      if (r.status === 503) {
        retryAfter = r.headers.get('retry-after');
        assert.match(r.text, /shard 1 is unavailable/);
      } else acked.set(labelKey(Object.entries(labels).sort()), [[T0, i]]);
    }
    assert.ok(statuses.includes(200), `the live shard kept serving: ${statuses.join(',')}`);
    assert.ok(statuses.includes(503), `the dead shard's series got 503: ${statuses.join(',')}`);
    assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(','));
    assert.notEqual(retryAfter, null, '503 carries Retry-After');

    // The replacement replays the WAL and serves again.
    const until = Date.now() + 20_000;
    while ((shard.failed || shard.restarts === 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.equal(shard.failed, undefined, 'the shard came back');
    assert.equal(shard.restarts, 1);
    assert.equal(await metric(n.httpUrl, 'sluice_shard_restarts_total', 1), 1);
    assert.ok((shard.replay?.samples ?? 0) > 0, 'the new thread replayed samples from the WAL');

    for (let i = 0; i < 40; i++) assert.equal(await send('before', i, [[T0 + 30_000, i + 1]]), 200);
    for (let i = 0; i < 30; i++) assert.equal(await send('during', i, [[T0 + 15_000, i + 1]]), 200);

    const got = await readHeads(n.node.pool, 'default-tenant');
    for (const [k, samples] of acked) {
      const have = new Map(got.get(k) ?? []);
      for (const [t, v] of samples) assert.equal(have.get(t), v, `acknowledged sample ${k}@${t} is readable`);
    }
  } finally {
    await n.stop();
  }
});
