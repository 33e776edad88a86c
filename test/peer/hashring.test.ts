/**
 * Tests of the placement algorithms (src/peer/hashmod.ts, src/peer/ketama.ts): golden placements
 * that must match Thanos Receive, distinct replicas, even AZ and node spread, and how much moves
 * when a node joins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HashmodRing } from '../../src/peer/hashmod.js';
import { KetamaRing } from '../../src/peer/ketama.js';
import { ConfigError, SluiceError } from '../../src/errors.js';
import { xxh64BigInt } from '../../src/hash/xxhash64.js';
import type { Endpoint, Ring } from '../../src/peer/ring.js';
import { Rng } from '../helpers/prng.js';
import { azEps, eps, seriesHash } from './helpers.js';

/** placeAddr returns the address of replica n of a series with labels `ls` of `tenant`. */
function placeAddr(ring: Ring, tenant: string, ls: [string, string][], n: number): string {
  const [lo, hi] = seriesHash(tenant, ls);
  return ring.endpoints[ring.getN(lo, hi, n)]!.address;
}

// ---------------------------------------------------------------------------------------------
// ketama: Thanos' own golden cases
// ---------------------------------------------------------------------------------------------

// Literal expectations of thanos-io/thanos pkg/receive/hashring_test.go TestKetamaHashringGet
// (10 sections per node, tenant "tenant", RF = n + 1).
const THANOS_KETAMA_GOLDEN: { endpoints: string[]; pod: string; n: number; want: string }[] = [
  { endpoints: ['node-1', 'node-2', 'node-3'], pod: 'nginx', n: 0, want: 'node-2' },
  { endpoints: ['node-1', 'node-2', 'node-3'], pod: 'nginx', n: 1, want: 'node-1' },
  { endpoints: ['node-1', 'node-2', 'node-3'], pod: 'nginx', n: 2, want: 'node-3' },
  { endpoints: ['node-1', 'node-3', 'node-2'], pod: 'nginx', n: 2, want: 'node-3' },
  { endpoints: ['node-0', 'node-1', 'node-2', 'node-3'], pod: 'nginx', n: 0, want: 'node-2' },
  { endpoints: ['node-1', 'node-2', 'node-3', 'node-4'], pod: 'nginx', n: 0, want: 'node-2' },
  { endpoints: ['node-1', 'node-2', 'node-3'], pod: 'thanos', n: 0, want: 'node-3' },
];

test('ketama places series exactly as Thanos TestKetamaHashringGet expects', () => {
  for (const c of THANOS_KETAMA_GOLDEN) {
    const ring = new KetamaRing(eps(...c.endpoints), c.n + 1, 10);
    assert.equal(placeAddr(ring, 'tenant', [['pod', c.pod]], c.n), c.want, JSON.stringify(c));
  }
});

test('ketama refuses fewer endpoints than the replication factor (Thanos TestKetamaHashringBadConfigIsRejected)', () => {
  assert.throws(() => new KetamaRing(eps('node-1'), 2, 1), ConfigError);
  assert.throws(() => new KetamaRing(eps('a', 'b'), 3), /at least the replication factor/);
});

test('ketama refuses an AZ layout where an even spread is impossible instead of looping forever', () => {
  // 3 nodes in zone 1, 1 in zone 2, RF 4: after a1, b, a2 the walk can never add a3.
  const ring = () => new KetamaRing(azEps(['a1', '1'], ['a2', '1'], ['a3', '1'], ['b', '2']), 4, 20);
  assert.throws(ring, /evenly over the 2 availability zones/);
});

test('ketama: replicas of a series are distinct endpoints and reordering the config changes nothing', () => {
  const rng = new Rng(7);
  const a = new KetamaRing(eps('r-0:19291', 'r-1:19291', 'r-2:19291', 'r-3:19291', 'r-4:19291'), 3);
  const b = new KetamaRing(eps('r-3:19291', 'r-0:19291', 'r-4:19291', 'r-2:19291', 'r-1:19291'), 3);
  for (let i = 0; i < 2000; i++) {
    const lo = rng.uint32(), hi = rng.uint32();
    const got = [0, 1, 2].map((n) => a.endpoints[a.getN(lo, hi, n)]!.address);
    assert.equal(new Set(got).size, 3, `replicas ${got.join(',')} not distinct`);
    assert.deepEqual([0, 1, 2].map((n) => b.endpoints[b.getN(lo, hi, n)]!.address), got);
  }
});

test('ketama lookup agrees with a naive scan of the sections, at and around every section hash', () => {
  const enc = new TextEncoder();
  const endpoints = eps('a:19291', 'b:19291', 'c:19291', 'd:19291', 'e:19291');
  const perNode = 200;
  const ring = new KetamaRing(endpoints, 1, perNode);
  const sections: [bigint, number][] = [];
  endpoints.forEach((e, idx) => {
    for (let i = 1; i <= perNode; i++) sections.push([xxh64BigInt(enc.encode(`${e.address}:${i}`)), idx]);
  });
  sections.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const naive = (h: bigint): number => (sections.find(([sh]) => sh >= h) ?? sections[0]!)[1];
  const MAX = 2n ** 64n - 1n;
  const probes: bigint[] = [0n, 1n, MAX];
  for (const [h] of sections) for (const d of [-1n, 0n, 1n]) if (h + d >= 0n && h + d <= MAX) probes.push(h + d);
  const rng = new Rng(9);
  for (let i = 0; i < 2000; i++) probes.push((BigInt(rng.uint32()) << 32n) | BigInt(rng.uint32()));
  for (const h of probes) {
    const got = ring.getN(Number(h & 0xffffffffn), Number(h >> 32n), 0);
    assert.equal(ring.endpoints[got]!.address, endpoints[naive(h)]!.address, `hash ${h.toString(16)}`);
  }
});

test('ketama wraps past the last section and rejects n >= RF', () => {
  const ring = new KetamaRing(eps('a', 'b', 'c'), 2, 10);
  const top = ring.getN(0xffffffff, 0xffffffff, 0);
  const bottom = ring.getN(0, 0, 0);
  assert.equal(top, bottom, 'a hash above every section belongs to the first section');
  assert.throws(() => ring.getN(1, 2, 2), SluiceError);
});

// Thanos TestKetamaHashringEvenAZSpread: replicas of one series cover min(RF, #AZ) zones, and no
// zone holds more than one replica above the least occupied one.
const AZ_CASES: { nodes: Endpoint[]; replicas: number }[] = [
  { nodes: azEps(['a', '1'], ['b', '2'], ['c', '1'], ['d', '2']), replicas: 1 },
  { nodes: eps('a', 'b', 'c', 'd'), replicas: 1 },
  { nodes: azEps(['a', '1'], ['b', '2'], ['c', '1'], ['d', '2']), replicas: 2 },
  { nodes: azEps(['a', '1'], ['b', '2'], ['c', '3'], ['d', '1'], ['e', '2'], ['f', '3']), replicas: 3 },
  { nodes: eps('a', 'b', 'c', 'd', 'e', 'f', 'g'), replicas: 3 },
  {
    nodes: azEps(['a', '1'], ['b', '2'], ['c', '3'], ['d', '1'], ['e', '2'], ['f', '3'], ['g', '4'], ['h', '4'], ['i', '4'], ['j', '5'], ['k', '5'], ['l', '5']),
    replicas: 10,
  },
];

test('ketama spreads replicas evenly over availability zones', () => {
  const rng = new Rng(11);
  for (const c of AZ_CASES) {
    const ring = new KetamaRing(c.nodes, c.replicas);
    const zones = new Set(c.nodes.map((e) => e.az)).size;
    for (let i = 0; i < 300; i++) {
      const lo = rng.uint32(), hi = rng.uint32();
      const spread = new Map<string, number>();
      for (let n = 0; n < c.replicas; n++) {
        const az = ring.endpoints[ring.getN(lo, hi, n)]!.az;
        spread.set(az, (spread.get(az) ?? 0) + 1);
      }
      assert.equal(spread.size, Math.min(c.replicas, zones));
      const counts = [...spread.values()];
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `uneven spread ${JSON.stringify([...spread])}`);
    }
  }
});

test('ketama spreads series over nodes within 10% of the optimum (Thanos TestKetamaHashringEvenNodeSpread)', () => {
  const cases: { nodes: Endpoint[]; replicas: number; series: number }[] = [
    { nodes: azEps(['a', '1'], ['b', '2'], ['c', '1'], ['d', '2']), replicas: 2, series: 1000 },
    { nodes: eps('a', 'b', 'c', 'd'), replicas: 2, series: 1000 },
    { nodes: azEps(['a', '1'], ['b', '2'], ['c', '3'], ['d', '2'], ['e', '1'], ['f', '3']), replicas: 3, series: 10000 },
  ];
  for (const c of cases) {
    const ring = new KetamaRing(c.nodes, c.replicas);
    const per = new Map<string, number>();
    for (let i = 0; i < c.series; i++) {
      const [lo, hi] = seriesHash('default-tenant', [['foo', String(i)]]);
      for (let n = 0; n < c.replicas; n++) {
        const a = ring.endpoints[ring.getN(lo, hi, n)]!.address;
        per.set(a, (per.get(a) ?? 0) + 1);
      }
    }
    const optimal = (c.series * c.replicas) / c.nodes.length;
    for (const [node, got] of per) assert.ok(Math.abs(got - optimal) / optimal < 0.1, `${node}: ${got} vs ${optimal}`);
  }
});

test('ketama: adding a node moves about 1/N of the series, all of them onto the new node', () => {
  const before = new KetamaRing(eps('node-1', 'node-2', 'node-3', 'node-4'), 1);
  const after = new KetamaRing(eps('node-1', 'node-2', 'node-3', 'node-4', 'node-5'), 1);
  const series = 20000;
  let moved = 0;
  for (let i = 0; i < series; i++) {
    const [lo, hi] = seriesHash('tenant', [['pod', `nginx-${i}`]]);
    const a = before.endpoints[before.getN(lo, hi, 0)]!.address;
    const b = after.endpoints[after.getN(lo, hi, 0)]!.address;
    if (a !== b) {
      moved++;
      assert.equal(b, 'node-5', 'a series may only move to the new node');
    }
  }
  const share = moved / series;
  assert.ok(share > 0.15 && share < 0.25, `moved ${share}, expected about 1/5`);
});

test('ketama with RF 2: after a resize, old nodes receive no series they did not hold (Thanos TestKetamaHashringReplicationConsistency)', () => {
  const initial = new KetamaRing(eps('node-1', 'node-4', 'node-5'), 2);
  const resized = new KetamaRing(eps('node-4', 'node-3', 'node-1', 'node-2', 'node-5'), 2);
  const held = new Map<string, Set<number>>();
  for (let i = 0; i < 5000; i++) {
    const [lo, hi] = seriesHash('tenant', [['pod', `nginx-${i}`]]);
    for (let n = 0; n < 2; n++) {
      const a = initial.endpoints[initial.getN(lo, hi, n)]!.address;
      if (!held.has(a)) held.set(a, new Set());
      held.get(a)!.add(i);
    }
  }
  for (let i = 0; i < 5000; i++) {
    const [lo, hi] = seriesHash('tenant', [['pod', `nginx-${i}`]]);
    for (let n = 0; n < 2; n++) {
      const a = resized.endpoints[resized.getN(lo, hi, n)]!.address;
      if (held.has(a)) assert.ok(held.get(a)!.has(i), `${a} got series ${i} it did not hold`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// hashmod
// ---------------------------------------------------------------------------------------------

// Expectations derived from Thanos' simpleHashring (endpoints sorted, (h + n) mod N in uint64)
// with hashes computed by an independent xxhash64 (xxhash-wasm) and BigInt arithmetic: Thanos'
// own tests hold no literal hashmod placements. Hashes: tenant/pod=nginx 0x25c44c0780c34a23,
// default-tenant/up,job=node 0x60103fd36f09adeb, team-a/… 0x68594099119d9c00.
const SLUICE = ['sluice-2.sluice.monitoring.svc:19291', 'sluice-0.sluice.monitoring.svc:19291', 'sluice-1.sluice.monitoring.svc:19291'];
const HASHMOD_GOLDEN: { tenant: string; labels: [string, string][]; nodes: string[]; want: string[] }[] = [
  { tenant: 'tenant', labels: [['pod', 'nginx']], nodes: SLUICE, want: ['sluice-1', 'sluice-2', 'sluice-0'] },
  { tenant: 'default-tenant', labels: [['__name__', 'up'], ['job', 'node']], nodes: SLUICE, want: ['sluice-2', 'sluice-0', 'sluice-1'] },
  { tenant: 'team-a', labels: [['__name__', 'http_requests_total'], ['code', '200'], ['instance', '10.0.0.1:9100']], nodes: SLUICE, want: ['sluice-2', 'sluice-0', 'sluice-1'] },
  { tenant: 'tenant', labels: [['pod', 'nginx']], nodes: ['e:1', 'c:1', 'a:1', 'd:1', 'b:1'], want: ['d:1', 'e:1', 'a:1'] },
  { tenant: 'default-tenant', labels: [['__name__', 'up'], ['job', 'node']], nodes: ['e:1', 'c:1', 'a:1', 'd:1', 'b:1'], want: ['e:1', 'a:1', 'b:1'] },
];

test('hashmod places series as Thanos simpleHashring does (derived goldens)', () => {
  for (const c of HASHMOD_GOLDEN) {
    const ring = new HashmodRing(eps(...c.nodes), 3);
    const got = [0, 1, 2].map((n) => placeAddr(ring, c.tenant, c.labels, n).split('.')[0]);
    assert.deepEqual(got, c.want, JSON.stringify(c.labels));
  }
});

test('hashmod sorts endpoints bytewise and wraps h + n at 2^64', () => {
  const ring = new HashmodRing(eps('c', 'a', 'b'), 1);
  assert.deepEqual(ring.endpoints.map((e) => e.address), ['a', 'b', 'c']);
  // h = 2^64 - 1: (h + 1) mod 2^64 = 0 → endpoints[0]; h mod 3 = 0 as well (2^64 - 1 = 3·…).
  assert.equal(ring.getN(0xffffffff, 0xffffffff, 0), Number((2n ** 64n - 1n) % 3n));
  assert.equal(ring.getN(0xffffffff, 0xffffffff, 1), 0);
  assert.equal(ring.getN(0xffffffff, 0xffffffff, 2), 1);
  // Without the wrap, 2^64 + 1 mod 3 would be 2, not 1.
  assert.throws(() => ring.getN(0, 0, 3), SluiceError);
});

test('hashmod agrees with a BigInt reference on random hashes and ring sizes', () => {
  const rng = new Rng(3);
  for (const N of [1, 2, 3, 5, 7, 10, 64, 201]) {
    const ring = new HashmodRing(eps(...Array.from({ length: N }, (_, i) => `n${i}`)), 1);
    for (let i = 0; i < 500; i++) {
      const lo = rng.uint32(), hi = i < 10 ? 0xffffffff : rng.uint32();
      const n = rng.int(0, N - 1);
      const h = (BigInt(hi) << 32n) | BigInt(lo);
      const want = Number(((h + BigInt(n)) & (2n ** 64n - 1n)) % BigInt(N));
      assert.equal(ring.getN(lo, hi, n), want);
    }
  }
});

test('hashmod refuses AZs and fewer endpoints than the replication factor', () => {
  assert.throws(() => new HashmodRing(azEps(['a', '1'], ['b', '2']), 2), /does not support AZ/);
  assert.throws(() => new HashmodRing(eps('a', 'b'), 3), /cannot hold 3 replicas/);
});
