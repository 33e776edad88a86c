/**
 * Multi-node reads on real receivers on loopback: a PromQL query sent to any node of a hashring
 * sees every node's series once. RF=1 spreads the series (each node holds a part); RF=3 keeps three
 * replicas that differ only by a replica external label, merged with --query.replica-label; a node
 * that is down makes the answer partial with a warning naming it, never an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { startNode, freePort, write, series, getJson, type TestNode } from '../helpers/node.js';
import { readHeads } from '../helpers/heads.js';

const TENANT = 'team-m';
const T0 = 1_700_000_000_000;
const N = 60;

async function startRing(rf: number, extra: (i: number) => string[]): Promise<{ nodes: (TestNode | undefined)[]; addresses: string[]; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-multi-'));
  const addresses = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  const file = join(dir, 'hashrings.json');
  writeFileSync(file, JSON.stringify([{ hashring: 'all', endpoints: addresses }]));
  const nodes: (TestNode | undefined)[] = [];
  for (let i = 0; i < 3; i++) {
    nodes.push(await startNode([
      `--remote-write.address=${addresses[i]}`, '--receive.shards=1', '--receive.gateways=1', '--tsdb.wal.fsync=off',
      `--receive.hashrings-file=${file}`, `--receive.replication-factor=${rf}`, `--receive.local-endpoint=${addresses[i]}`,
      '--receive-forward-timeout=2s', '--query.timeout=5s', ...extra(i),
    ]));
  }
  return {
    nodes, addresses,
    async stop() {
      for (const n of nodes) await n?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function load(n: TestNode): Promise<void> {
  const r = await write(n.writeUrl, Array.from({ length: N }, (_, i) => series({ __name__: 'mn', i: String(i) }, [[T0, i], [T0 + 15_000, i + 1]])), TENANT);
  assert.equal(r.status, 200, r.text);
}

type Vector = { metric: Record<string, string>; value: [number, string] }[];

async function instant(n: TestNode, q: string): Promise<{ result: Vector; warnings: string[] }> {
  const r = await getJson(`${n.httpUrl}/api/v1/query?query=${encodeURIComponent(q)}&time=${(T0 + 20_000) / 1000}`, { 'thanos-tenant': TENANT });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { result: (r.body.data as { result: Vector }).result, warnings: (r.body as { warnings?: string[] }).warnings ?? [] };
}

test('RF=1: a query on any node sees the series of all three; a node down makes it partial, with a warning', async () => {
  const ring = await startRing(1, () => []);
  try {
    await load(ring.nodes[0]!);
    const held = await Promise.all(ring.nodes.map(async (n) => (await readHeads(n!.node.pool, TENANT)).size));
    assert.equal(held.reduce((a, b) => a + b, 0), N, 'each series on exactly one node');
    assert.ok(held.every((h) => h > 0 && h < N), `spread over the three nodes: ${held}`);
    for (const n of ring.nodes) {
      const { result, warnings } = await instant(n!, 'mn');
      assert.deepEqual(warnings, []);
      assert.equal(result.length, N);
      for (const s of result) assert.equal(Number(s.value[1]), Number(s.metric['i']) + 1);
      assert.equal((await instant(n!, 'sum(mn)')).result[0]!.value[1], String((N * (N + 1)) / 2));
    }
    // Node 2 goes away: nodes 0 and 1 answer what they and each other hold, and say so.
    await ring.nodes[2]!.stop();
    ring.nodes[2] = undefined;
    const { result, warnings } = await instant(ring.nodes[0]!, 'mn');
    assert.equal(result.length, held[0]! + held[1]!);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!, new RegExp(`peer ${ring.addresses[2]!.replace(/\./g, '\\.')} could not be read, the answer may be partial`));
  } finally {
    await ring.stop();
  }
});

test('RF=3: replicas differing by a replica label are merged with --query.replica-label, each sample once', async () => {
  const ring = await startRing(3, (i) => [`--label=replica="r${i}"`, '--query.replica-label=replica']);
  try {
    await load(ring.nodes[1]!);
    // Every node holds every series (quorum is 2, the third replica may land just after the 200).
    for (let k = 0; k < 50; k++) {
      const sizes = await Promise.all(ring.nodes.map(async (n) => (await readHeads(n!.node.pool, TENANT)).size));
      if (sizes.every((s) => s === N)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const { result } = await instant(ring.nodes[2]!, 'mn');
    assert.equal(result.length, N, 'three replicas merged into one series each');
    assert.ok(result.every((s) => s.metric['replica'] === undefined));
    assert.equal((await instant(ring.nodes[0]!, 'count_over_time(mn[1m])')).result.every((s) => s.value[1] === '2'), true, 'each sample counted once');
  } finally {
    await ring.stop();
  }
  // Without the flag the replicas stay apart, three per series.
  const apart = await startRing(3, (i) => [`--label=replica="r${i}"`]);
  try {
    await load(apart.nodes[0]!);
    for (let k = 0; k < 50; k++) {
      const sizes = await Promise.all(apart.nodes.map(async (n) => (await readHeads(n!.node.pool, TENANT)).size));
      if (sizes.every((s) => s === N)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await instant(apart.nodes[0]!, 'mn')).result.length, 3 * N);
  } finally {
    await apart.stop();
  }
});

test('a peer that answers too slowly: the query stops at --query.timeout (503 timeout), not later; once the peer is gone, answers are partial', async () => {
  // The peer: its StoreAPI discovery answers after DISCOVERY_MS, and its StoreAPI port accepts
  // connections but never says a word (a hung process, a stalled network path).
  const TIMEOUT_MS = 4000;
  const DISCOVERY_MS = 3000;
  const held = new Set<Socket>();
  const silent = createNetServer((s) => {
    held.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const grpcPort = (silent.address() as AddressInfo).port;
  const slow = createHttpServer((_req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ port: grpcPort })), DISCOVERY_MS);
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
  const peer = `127.0.0.1:${(slow.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-slowpeer-'));
  const file = join(dir, 'hashrings.json');
  const self = `127.0.0.1:${await freePort()}`;
  writeFileSync(file, JSON.stringify([{ hashring: 'all', endpoints: [self, peer] }]));
  const n = await startNode([
    `--remote-write.address=${self}`, '--receive.shards=1', '--receive.gateways=1', '--tsdb.wal.fsync=off',
    `--receive.hashrings-file=${file}`, '--receive.replication-factor=1', `--receive.local-endpoint=${self}`,
    `--query.timeout=${TIMEOUT_MS}ms`,
  ]);
  try {
    // The peer's discovery takes most of the timeout, and its Series stream never answers: both
    // count against the one deadline.
    const began = performance.now();
    const r = await getJson(`${n.httpUrl}/api/v1/query?query=count(mn)&time=${(T0 + 20_000) / 1000}`, { 'thanos-tenant': TENANT });
    const took = performance.now() - began;
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.errorType, 'timeout', JSON.stringify(r.body));
    assert.ok(took < TIMEOUT_MS + 1500, `answered after ${Math.round(took)} ms, --query.timeout is ${TIMEOUT_MS} ms`);
    // The peer goes away (connections refused): the next query is partial and says why.
    silent.close();
    for (const s of held) s.destroy();
    slow.close();
    slow.closeAllConnections();
    const { result, warnings } = await instant(n, 'count(mn) or vector(0)');
    assert.equal(result.length, 1);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!, new RegExp(`peer ${peer.replace(/\./g, '\\.')} could not be read, the answer may be partial`));
  } finally {
    silent.close();
    for (const s of held) s.destroy();
    slow.close();
    slow.closeAllConnections();
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
