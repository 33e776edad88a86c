/**
 * End to end: hashring replication between real receivers on loopback (three ReceiveNodes in this
 * process, each with its own shard and gateway threads, data dir and ports). Covers RF=3 with
 * hashmod and ketama, quorum with one and two nodes down, RF=1 ownership against the ring's own
 * placement, conflicts on every replica, writes already replicated, and hashring file reloads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, freePort, write, post, encodeBody, series, RW_HEADERS, type TestNode } from '../helpers/node.js';
import { readHeads, labelKey } from '../helpers/heads.js';
import { seriesHash } from '../peer/helpers.js';
import { Hashrings } from '../../src/peer/hashrings.js';
import { parseHashringsConfig } from '../../src/peer/config.js';
import type { HashringAlgorithm } from '../../src/peer/ring.js';

const TENANT = 'team-a';

/** Cluster is three receivers sharing one hashring file. */
interface Cluster {
  nodes: (TestNode | undefined)[];
  addresses: string[];
  file: string;
  dir: string;
  stop(): Promise<void>;
}

/** ringJson renders a one-hashring file over `addresses`. */
function ringJson(addresses: string[]): string {
  return JSON.stringify([{ hashring: 'all', endpoints: addresses }]);
}

/** startCluster starts three nodes whose hashring lists all three (or `members`, by index). */
async function startCluster(rf: number, algorithm: HashringAlgorithm, members = [0, 1, 2], extra: string[] = []): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-repl-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const file = join(dir, 'hashrings.json');
  writeFileSync(file, ringJson(members.map((i) => addresses[i]!)));
  const nodes: (TestNode | undefined)[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(await startNode([
        `--remote-write.address=${addresses[i]}`, '--receive.shards=1', '--receive.gateways=1', '--tsdb.wal.fsync=off',
        `--receive.hashrings-file=${file}`, `--receive.hashrings-algorithm=${algorithm}`,
        `--receive.replication-factor=${rf}`, `--receive.local-endpoint=${addresses[i]}`, '--receive-forward-timeout=2s',
        ...extra,
      ]));
    }
  } catch (e) {
    for (const n of nodes) await n?.stop();
    throw e;
  }
  return {
    nodes, addresses, file, dir,
    async stop() {
      for (const n of nodes) await n?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** batch builds `n` series named `<prefix>_<i>` with one sample at `t`. */
function batch(prefix: string, n: number, t = 1000): ReturnType<typeof series>[] {
  return Array.from({ length: n }, (_, i) => series({ __name__: `${prefix}_${i}`, job: 'repl' }, [[t, i]]));
}

/** keysOf returns the label keys a node holds for the tenant whose name starts with `prefix`. */
async function keysOf(n: TestNode, prefix: string): Promise<Set<string>> {
  const heads = await readHeads(n.node.pool, TENANT);
  return new Set([...heads.keys()].filter((k) => k.startsWith(`{__name__="${prefix}`)));
}

/**
 * heldEventually polls until node `n` holds the series `want` of `prefix` (at most 5 s) and returns
 * what it holds then. A 200 needs only a quorum: the last replica may land just after the answer.
 */
async function heldEventually(n: TestNode, prefix: string, want: Set<string>): Promise<Set<string>> {
  const until = Date.now() + 5000;
  let got = await keysOf(n, prefix);
  while (got.size < want.size && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    got = await keysOf(n, prefix);
  }
  return got;
}

/** expectedKeys renders the label keys of batch(prefix, n). */
function expectedKeys(prefix: string, n: number): Set<string> {
  return new Set(Array.from({ length: n }, (_, i) => labelKey([['__name__', `${prefix}_${i}`], ['job', 'repl']])));
}

for (const algorithm of ['hashmod', 'ketama'] as const) {
  test(`RF=3 (${algorithm}): a write to any node is stored on all three; quorum with nodes down`, async () => {
    const c = await startCluster(3, algorithm);
    try {
      const [a, b] = [c.nodes[0]!, c.nodes[1]!];
      let r = await write(a.writeUrl, batch('via_a', 30), TENANT);
      assert.equal(r.status, 200, r.text);
      r = await write(b.writeUrl, batch('via_b', 30), TENANT);
      assert.equal(r.status, 200, r.text);
      for (const n of c.nodes) {
        assert.deepEqual(await heldEventually(n!, 'via_a', expectedKeys('via_a', 30)), expectedKeys('via_a', 30));
        assert.deepEqual(await heldEventually(n!, 'via_b', expectedKeys('via_b', 30)), expectedKeys('via_b', 30));
      }
      // The samples themselves arrived intact (values and timestamps), not only the series.
      const heads = await readHeads(c.nodes[2]!.node.pool, TENANT);
      assert.deepEqual(heads.get(labelKey([['__name__', 'via_a_7'], ['job', 'repl']])), [[1000, 7]]);
      if (algorithm === 'ketama') return;

      // One node down: quorum 2 of 3 still holds; the two live nodes have the data.
      await c.nodes[2]!.stop();
      c.nodes[2] = undefined;
      r = await write(a.writeUrl, batch('one_down', 20), TENANT);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(await heldEventually(a, 'one_down', expectedKeys('one_down', 20)), expectedKeys('one_down', 20));
      assert.deepEqual(await heldEventually(b, 'one_down', expectedKeys('one_down', 20)), expectedKeys('one_down', 20));

      // Two nodes down: no series can reach quorum → 503 (retryable).
      await c.nodes[1]!.stop();
      c.nodes[1] = undefined;
      r = await write(a.writeUrl, batch('two_down', 20), TENANT);
      assert.equal(r.status, 503, r.text);
      assert.equal(r.headers.get('retry-after'), '1');
    } finally {
      await c.stop();
    }
  });
}

test('RF=3: conflicts on every replica → 409; THANOS-REPLICA writes stay local; replica > RF → 400', async () => {
  const c = await startCluster(3, 'hashmod');
  try {
    const [a, b, n3] = [c.nodes[0]!, c.nodes[1]!, c.nodes[2]!];
    const s = [series({ __name__: 'ooo', job: 'repl' }, [[5000, 1]])];
    assert.equal((await write(a.writeUrl, s, TENANT)).status, 200);
    const older = [series({ __name__: 'ooo', job: 'repl' }, [[4000, 2]])];
    const r = await write(b.writeUrl, older, TENANT);
    assert.equal(r.status, 409, r.text);
    assert.match(r.text, /out of order/);

    // A bad label set is a conflict found before placement; valid series are still replicated.
    const mixed = [
      series({ __name__: 'good', job: 'repl' }, [[1000, 1]]),
      { labels: [{ name: 'job', value: 'x' }, { name: '__name__', value: 'unsorted' }], samples: [{ timestamp: 1000, value: 1 }] },
    ];
    const rm = await write(a.writeUrl, mixed, TENANT);
    assert.equal(rm.status, 409, rm.text);
    assert.match(rm.text, /not sorted/);
    const good = new Set([labelKey([['__name__', 'good'], ['job', 'repl']])]);
    for (const n of [a, b, n3]) assert.deepEqual(await heldEventually(n, 'good', good), good);

    // Already replicated (THANOS-REPLICA: 1): written on the receiving node only.
    const body = encodeBody({ timeseries: batch('replica1', 10) });
    const rr = await post(a.writeUrl, body, { ...RW_HEADERS, 'thanos-tenant': TENANT, 'thanos-replica': '1' });
    assert.equal(rr.status, 200, rr.text);
    assert.deepEqual(await keysOf(a, 'replica1'), expectedKeys('replica1', 10));
    assert.equal((await keysOf(b, 'replica1')).size, 0);
    assert.equal((await keysOf(n3, 'replica1')).size, 0);

    const bad = await post(a.writeUrl, body, { ...RW_HEADERS, 'thanos-tenant': TENANT, 'thanos-replica': '4' });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /replica count exceeds replication factor/);
  } finally {
    await c.stop();
  }
});

test('RF=1: every series lives on exactly the node ring.getN(lo, hi, 0) names; hashring reload moves new writes', async () => {
  const c = await startCluster(1, 'hashmod', [0, 1, 2], ['--receive.hashrings-file-refresh-interval=200ms']);
  try {
    const n = 60;
    const r = await write(c.nodes[0]!.writeUrl, batch('owned', n), TENANT);
    assert.equal(r.status, 200, r.text);
    const ring = new Hashrings(parseHashringsConfig(ringJson(c.addresses)), { algorithm: 'hashmod', replicationFactor: 1 }).ringFor(TENANT).ring;
    const held = await Promise.all(c.nodes.map((node) => keysOf(node!, 'owned')));
    const owners = new Set<number>();
    for (let i = 0; i < n; i++) {
      const labels: [string, string][] = [['__name__', `owned_${i}`], ['job', 'repl']];
      const [lo, hi] = seriesHash(TENANT, labels);
      const owner = c.addresses.indexOf(ring.endpoints[ring.getN(lo, hi, 0)]!.address);
      owners.add(owner);
      for (let k = 0; k < 3; k++) assert.equal(held[k]!.has(labelKey(labels)), k === owner, `owned_${i} on node ${k} (owner ${owner})`);
    }
    // 60 series over 3 nodes: node 0 forwarded some to the other two (a write to A owned by B arrives at B).
    assert.equal(owners.size, 3);

    // Reload: the ring now holds node 2 only; new writes to node 0 follow it (file swapped by rename).
    const tmp = join(c.dir, 'next.json');
    writeFileSync(tmp, ringJson([c.addresses[2]!]));
    renameSync(tmp, c.file);
    const until = Date.now() + 10_000;
    let moved = false;
    for (let round = 0; !moved && Date.now() < until; round++) {
      await new Promise((res) => setTimeout(res, 150));
      const w = await write(c.nodes[0]!.writeUrl, batch(`reload${round}`, 12), TENANT);
      assert.equal(w.status, 200, w.text);
      moved = (await keysOf(c.nodes[2]!, `reload${round}_`)).size === 12;
      if (moved) {
        assert.equal((await keysOf(c.nodes[0]!, `reload${round}_`)).size, 0);
        assert.equal((await keysOf(c.nodes[1]!, `reload${round}_`)).size, 0);
      }
    }
    assert.ok(moved, 'writes follow the reloaded hashring');
  } finally {
    await c.stop();
  }
});
