/**
 * Tests of the hashring change plan (src/peer/plan.ts): growing a ring from 3 to 5 endpoints moves
 * about 2/5 of the data with ketama, all of it onto the new endpoints, and about 4/5 with hashmod;
 * random hashes stand in for real series hashes; tenants follow their rings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHashringsConfig, type HashringConfig } from '../../src/peer/config.js';
import { planHashringChange, planTenants, syntheticSample, CATCH_ALL_TENANT, type HashringPlan, type SeriesSample } from '../../src/peer/plan.js';
import { ConfigError } from '../../src/errors.js';
import { seriesHash } from './helpers.js';

const addrs = (n: number): string[] => Array.from({ length: n }, (_, i) => `sluice-${i}.sluice.monitoring.svc:19291`);
const ring = (endpoints: string[], extra: Record<string, unknown> = {}): HashringConfig[] =>
  parseHashringsConfig(JSON.stringify([{ hashring: 'default', endpoints, ...extra }]));
const THREE = ring(addrs(3));
const FIVE = ring(addrs(5));
const SAMPLE = syntheticSample([{ tenant: CATCH_ALL_TENANT, weight: 1 }], 100_000, 1);

function near(actual: number, want: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - want) <= tol, `${what}: ${actual.toFixed(4)} not within ${tol} of ${want.toFixed(4)}`);
}

function byAddress(p: HashringPlan, a: string) {
  const e = p.endpoints.find((x) => x.address === a);
  assert.ok(e, `no endpoint ${a} in the plan`);
  return e;
}

/** checkConservation: shares add up and every gained replica is matched by a lost one. */
function checkConservation(p: HashringPlan): void {
  near(p.endpoints.reduce((s, e) => s + e.beforeShare, 0), 1, 1e-9, 'sum of before shares');
  near(p.endpoints.reduce((s, e) => s + e.afterShare, 0), 1, 1e-9, 'sum of after shares');
  assert.equal(p.endpoints.reduce((s, e) => s + e.lost, 0), p.movedReplicas, 'replicas lost = replicas gained');
  for (const e of p.endpoints) assert.equal(e.after, e.before + e.gained - e.lost, `${e.address}: after = before + gained - lost`);
}

for (const rf of [1, 3]) {
  test(`ketama 3 -> 5 endpoints, RF=${rf}: about 2/5 moves, each new endpoint gains about 1/5, old ones gain nothing`, () => {
    const p = planHashringChange(THREE, FIVE, { algorithm: 'ketama', replicationFactor: rf }, SAMPLE);
    checkConservation(p);
    assert.equal(p.totalReplicas, 100_000 * rf);
    near(p.movedReplicaShare, 2 / 5, 0.05, 'moved replica share');
    const [o0, o1, o2, n3, n4] = addrs(5).map((a) => byAddress(p, a));
    for (const n of [n3!, n4!]) {
      assert.equal(n.inFrom, false);
      assert.equal(n.before, 0);
      near(n.gainedShare, 1 / 5, 0.05, `${n.address} gained`);
    }
    for (const o of [o0!, o1!, o2!]) {
      // Consistent hashing: a series only ever moves onto a new endpoint.
      assert.equal(o.gained, 0, `${o.address} gained replicas`);
      near(o.afterShare, 1 / 5, 0.05, `${o.address} after`);
    }
    if (rf === 1) assert.equal(p.movedSeries, p.movedReplicas);
    else assert.ok(p.movedSeriesShare > p.movedReplicaShare, 'with RF=3 most series have some replica moved');
  });
}

test('hashmod 3 -> 5 endpoints moves most series (4/5), old endpoints trading among themselves', () => {
  const p = planHashringChange(THREE, FIVE, { algorithm: 'hashmod', replicationFactor: 1 }, SAMPLE);
  checkConservation(p);
  // A series stays only if h mod 3 == h mod 5, i.e. h mod 15 < 3: 1/5 of them.
  near(p.movedReplicaShare, 4 / 5, 0.02, 'hashmod moved share');
  const ketama = planHashringChange(THREE, FIVE, { algorithm: 'ketama', replicationFactor: 1 }, SAMPLE);
  assert.ok(p.movedReplicaShare > ketama.movedReplicaShare + 0.3, 'hashmod moves far more than ketama');
  for (const a of addrs(3)) assert.ok(byAddress(p, a).gained > 0, `${a} gains series under hashmod`);
});

test('an unchanged file moves nothing; a ring of its own algorithm overrides the flag', () => {
  const same = planHashringChange(FIVE, FIVE, { algorithm: 'ketama', replicationFactor: 3 }, SAMPLE);
  assert.equal(same.movedReplicas, 0);
  assert.equal(same.movedSeries, 0);
  for (const e of same.endpoints) assert.equal(e.before, e.after);
  // Same endpoints, algorithm switched by the ring's own field: nearly everything moves.
  const switched = planHashringChange(FIVE, ring(addrs(5), { algorithm: 'hashmod' }), { algorithm: 'ketama', replicationFactor: 1 }, SAMPLE);
  assert.ok(switched.movedReplicaShare > 0.6, `switching algorithm moved only ${switched.movedReplicaShare}`);
});

test('seeded random hashes give the same answer as xxhash64 of real label sets', () => {
  const n = 30_000;
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  const names = ['up', 'container_cpu_usage_seconds_total', 'kube_pod_status_phase', 'node_memory_MemAvailable_bytes', 'http_requests_total'];
  for (let s = 0; s < n; s++) {
    const [l, h] = seriesHash(CATCH_ALL_TENANT, [
      ['__name__', names[s % names.length]!],
      ['cluster', `cluster-0${s % 7}`],
      ['namespace', `ns-${(s >> 3) % 40}`],
      ['pod', `app-${s}`],
    ]);
    lo[s] = l;
    hi[s] = h;
  }
  const real: SeriesSample = { tenants: [CATCH_ALL_TENANT], tenantOf: new Uint32Array(n), lo, hi };
  const synthetic = syntheticSample([{ tenant: CATCH_ALL_TENANT, weight: 1 }], n, 7);
  for (const algorithm of ['ketama', 'hashmod'] as const) {
    const a = planHashringChange(THREE, FIVE, { algorithm, replicationFactor: 1 }, real);
    const b = planHashringChange(THREE, FIVE, { algorithm, replicationFactor: 1 }, synthetic);
    near(a.movedReplicaShare, b.movedReplicaShare, 0.02, `${algorithm}: real vs synthetic moved share`);
    for (let i = 0; i < a.endpoints.length; i++) {
      near(a.endpoints[i]!.afterShare, b.endpoints[i]!.afterShare, 0.02, `${algorithm}: ${a.endpoints[i]!.address} after share`);
    }
  }
});

test("the seed's case 3 fix: the overloaded catch-all receiver sheds its load", () => {
  const before = parseHashringsConfig(JSON.stringify([
    { hashring: 'tenant-a', endpoints: ['r-0:19291', 'r-1:19291'], tenants: ['cluster-02-tenant-a'] },
    { hashring: 'default', endpoints: ['r-2:19291'], tenants: [] },
  ]));
  const after = parseHashringsConfig(JSON.stringify([
    { hashring: 'tenant-a', endpoints: ['r-0:19291', 'r-1:19291'], tenants: ['cluster-02-tenant-a'] },
    { hashring: 'default', endpoints: ['r-0:19291', 'r-1:19291', 'r-2:19291'], tenants: [] },
  ]));
  const tenants = planTenants(before, after);
  assert.deepEqual(tenants.map((t) => t.tenant).sort(), ['cluster-02-tenant-a', CATCH_ALL_TENANT].sort());
  // The seed's numbers: 1M series of tenant-a, 3.5M of everyone else.
  const sample = syntheticSample([{ tenant: 'cluster-02-tenant-a', weight: 1 }, { tenant: 'cluster-03', weight: 3.5 }], 45_000, 3);
  const p = planHashringChange(before, after, { algorithm: 'ketama', replicationFactor: 1 }, sample);
  checkConservation(p);
  assert.deepEqual(p.tenants.map((t) => [t.tenant, t.series, t.ringBefore, t.ringAfter]), [
    ['cluster-02-tenant-a', 10_000, 'hashrings[0] ("tenant-a")', 'hashrings[0] ("tenant-a")'],
    ['cluster-03', 35_000, 'hashrings[1] ("default")', 'hashrings[1] ("default")'],
  ]);
  const r2 = byAddress(p, 'r-2:19291');
  near(r2.beforeShare, 3.5 / 4.5, 1e-9, 'r-2 held every catch-all series');
  near(r2.afterShare, 3.5 / 4.5 / 3, 0.04, 'r-2 keeps about a third of them');
  assert.equal(r2.gained, 0);
  assert.equal(byAddress(p, 'r-0:19291').lost, 0);
});

test('tenants: glob examples, a tenant whose ring disappears is unroutable, weights split the sample', () => {
  const from = parseHashringsConfig(JSON.stringify([
    { hashring: 'eu', tenants: ['eu-*'], tenant_matcher_type: 'glob', endpoints: ['a:1', 'b:1'] },
    { hashring: 'rest', endpoints: ['c:1'] },
  ]));
  const to = parseHashringsConfig(JSON.stringify([
    { hashring: 'eu', tenants: ['eu-*'], tenant_matcher_type: 'glob', endpoints: ['a:1', 'b:1'] },
  ]));
  const notes: string[] = [];
  const tenants = planTenants(from, to, notes);
  assert.deepEqual(notes, []);
  const names = tenants.map((t) => t.tenant);
  assert.ok(names.includes(CATCH_ALL_TENANT));
  const glob = names.find((t) => t !== CATCH_ALL_TENANT)!;
  assert.match(glob, /^eu-/);
  const sample = syntheticSample([{ tenant: glob, weight: 3 }, { tenant: CATCH_ALL_TENANT, weight: 1 }], 10_000);
  const p = planHashringChange(from, to, { algorithm: 'ketama', replicationFactor: 1 }, sample);
  assert.equal(p.tenants[0]!.series, 7_500);
  assert.equal(p.unroutableBefore, 0);
  assert.equal(p.unroutableAfter, 2_500);
  assert.equal(p.tenants[1]!.ringAfter, null);
  const c = byAddress(p, 'c:1');
  assert.equal(c.inTo, false);
  assert.equal(c.lost, 2_500);
  assert.equal(p.movedReplicas, 0, 'nothing lands anywhere new');
  assert.equal(p.movedSeries, 2_500);
});

test('a file the receiver would refuse is a ConfigError naming it; samples are reproducible', () => {
  assert.throws(
    () => planHashringChange(THREE, ring(addrs(2)), { algorithm: 'ketama', replicationFactor: 3 }, SAMPLE),
    (e: unknown) => e instanceof ConfigError && /^--to: hashrings\[0\] \("default"\)/.test(e.message),
  );
  assert.throws(() => syntheticSample([], 10), ConfigError);
  assert.throws(() => syntheticSample([{ tenant: 't', weight: 0 }], 10), ConfigError);
  const a = syntheticSample([{ tenant: 't', weight: 1 }], 1000, 42);
  const b = syntheticSample([{ tenant: 't', weight: 1 }], 1000, 42);
  const c = syntheticSample([{ tenant: 't', weight: 1 }], 1000, 43);
  assert.deepEqual(a.lo, b.lo);
  assert.deepEqual(a.hi, b.hi);
  assert.notDeepEqual(a.lo, c.lo);
});
