/**
 * Tests of hashring lint (src/peer/lint.ts): the seed's case 3 (a one-endpoint catch-all smaller
 * than a tenant ring) is an error, its fix is clean, and each other check fires on its own layout
 * and stays quiet on a good one. The zone-spread rule is checked against KetamaRing itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasErrors, lintHashringsText, maxEvenReplicas, LintCode, type Finding, type LintOptions } from '../../src/peer/lint.js';
import { KetamaRing } from '../../src/peer/ketama.js';
import { ConfigError } from '../../src/errors.js';
import { Rng } from '../helpers/prng.js';

const RF1: LintOptions = { replicationFactor: 1, algorithm: 'hashmod' };
const lint = (file: unknown, opts: LintOptions = RF1): Finding[] => lintHashringsText(JSON.stringify(file), opts);
const codes = (fs: readonly Finding[], severity?: 'error' | 'warning'): string[] =>
  fs.filter((f) => severity === undefined || f.severity === severity).map((f) => f.code).sort();

/** The seed's "Case Study 3" file (comments removed), as its design doc shows it. */
const SEED_CASE_3 = [
  { hashring: 'tenant-a', endpoints: ['thanos-receive-0:10901', 'thanos-receive-1:10901'], tenants: ['cluster-02-tenant-a'] },
  { hashring: 'default', endpoints: ['thanos-receive-2:10901'], tenants: [] },
];
/** The seed's corrected file. */
const SEED_CASE_3_FIXED = [
  { hashring: 'tenant-a', endpoints: ['thanos-receive-0:10901', 'thanos-receive-1:10901'], tenants: ['cluster-02-tenant-a'] },
  { hashring: 'default', endpoints: ['thanos-receive-0:10901', 'thanos-receive-1:10901', 'thanos-receive-2:10901'], tenants: [] },
];

test("the seed's case 3: a one-endpoint catch-all smaller than the tenant ring is an error naming it", () => {
  const fs = lint(SEED_CASE_3);
  assert.ok(hasErrors(fs));
  assert.deepEqual(codes(fs, 'error'), [LintCode.DefaultSingle, LintCode.DefaultSmaller].sort());
  for (const f of fs.filter((x) => x.severity === 'error')) assert.equal(f.where, 'hashrings[1] ("default")');
  const smaller = fs.find((f) => f.code === LintCode.DefaultSmaller)!;
  assert.match(smaller.message, /1 endpoint, fewer than hashrings\[0\] \("tenant-a"\) \(2\)/);
  assert.ok(fs.some((f) => f.code === LintCode.DefaultMissing && /thanos-receive-0:10901, thanos-receive-1:10901/.test(f.message)));
  // With RF=3, as the seed runs, neither ring can even hold its replicas.
  const rf3 = lint(SEED_CASE_3, { replicationFactor: 3, algorithm: 'ketama' });
  assert.deepEqual(rf3.filter((f) => f.code === LintCode.BelowReplicationFactor).map((f) => f.where), ['hashrings[0] ("tenant-a")', 'hashrings[1] ("default")']);
});

test("the seed's corrected file has no errors (shared endpoints and Thanos' gRPC port are warnings)", () => {
  const fs = lint(SEED_CASE_3_FIXED);
  assert.equal(hasErrors(fs), false, JSON.stringify(fs));
  assert.deepEqual(codes(fs), [LintCode.GrpcPort, LintCode.SharedEndpoint, LintCode.SharedEndpoint].sort());
  // A receiver-port single-ring file is entirely clean, at RF 3 too.
  assert.deepEqual(lint([{ endpoints: ['a:19291', 'b:19291', 'c:19291'] }], { replicationFactor: 3, algorithm: 'ketama' }), []);
  // One receiver with one ring is a single-node setup, not a misconfiguration.
  assert.deepEqual(lint([{ endpoints: ['a:19291'] }]), []);
});

test('the file as pasted from the doc, comments and all, is refused but still linted', () => {
  const text = `[
  { "hashring": "tenant-a", "endpoints": ["r-0:19291", "r-1:19291"], "tenants": ["cluster-02-tenant-a"] },
  { "hashring": "default", "endpoints": ["r-2:19291"  // single node!
    ], "tenants": []  /* everyone else, "quoted" */ }
]`;
  const fs = lintHashringsText(text, RF1);
  assert.deepEqual(codes(fs, 'error'), [LintCode.Comments, LintCode.DefaultSingle, LintCode.DefaultSmaller].sort());
  // A // inside a string is not a comment.
  assert.deepEqual(lintHashringsText('[{"endpoints": ["http://x:19291"]}]', RF1), []);
  const bad = lintHashringsText('[{"endpoints": ', RF1);
  assert.deepEqual(codes(bad), [LintCode.Parse]);
  assert.deepEqual(codes(lintHashringsText('{"endpoints": []}', RF1)), [LintCode.Parse]);
  assert.deepEqual(codes(lintHashringsText('[]', RF1)), [LintCode.Parse]);
});

test('every ring with fewer distinct endpoints than RF is an error; duplicates are reported once each', () => {
  const fs = lint([
    { hashring: 'small', tenants: ['t'], endpoints: ['a:1', 'b:1', 'a:1', 'a:1'] },
    { hashring: 'default', endpoints: ['a:1', 'b:1', 'c:1'] },
  ], { replicationFactor: 3, algorithm: 'ketama' });
  assert.deepEqual(fs.filter((f) => f.code === LintCode.BelowReplicationFactor).map((f) => f.where), ['hashrings[0] ("small")']);
  const dups = fs.filter((f) => f.code === LintCode.DuplicateEndpoint);
  assert.equal(dups.length, 1);
  assert.match(dups[0]!.message, /a:1 more than once/);
  // The duplicate is not reported a second time by the parser.
  assert.equal(fs.filter((f) => f.code === LintCode.Invalid).length, 0);
});

test('what the receiver refuses is reported with the field path', () => {
  const fs = lint([{ hashring: 'x', algorithm: 'ketamma', endpoints: ['a:1'] }]);
  const inv = fs.filter((f) => f.code === LintCode.Invalid);
  assert.equal(inv.length, 1);
  assert.match(inv[0]!.message, /^hashrings\[0\]\.algorithm: expected "hashmod" or "ketama"/);
  const glob = lint([{ tenants: ['eu-['], tenant_matcher_type: 'glob', endpoints: ['a:1'] }, { endpoints: ['a:1'] }]);
  assert.ok(glob.some((f) => f.code === LintCode.Invalid && /tenants\[0\]: bad glob/.test(f.message)));
  assert.ok(hasErrors(lint([{ endpoints: ['a:1'] }, 7])));
});

test('shared endpoints and tenants are warnings; the first ring of a tenant is named as the winner', () => {
  const fs = lint([
    { hashring: 'eu', tenants: ['eu-*'], tenant_matcher_type: 'glob', endpoints: ['a:1', 'b:1'] },
    { hashring: 'one', tenants: ['t1', 't2'], endpoints: ['c:1', 'd:1'] },
    { hashring: 'two', tenants: ['t2', 'eu-west'], endpoints: ['d:1', 'e:1'] },
    { hashring: 'default', endpoints: ['a:1', 'b:1', 'c:1', 'd:1', 'e:1'] },
  ]);
  assert.equal(hasErrors(fs), false, JSON.stringify(fs));
  const tenants = fs.filter((f) => f.code === LintCode.SharedTenant);
  assert.equal(tenants.length, 2);
  assert.ok(tenants.every((f) => f.severity === 'warning' && f.where === 'hashrings[2] ("two")'));
  assert.ok(tenants.some((f) => /"t2" is also served by hashrings\[1\] \("one"\)/.test(f.message)));
  assert.ok(tenants.some((f) => /"eu-west" is also served by hashrings\[0\] \("eu"\)/.test(f.message)));
  const d = fs.find((f) => f.code === LintCode.SharedEndpoint && f.message.startsWith('d:1 '))!;
  assert.match(d.message, /hashrings\[1\] \("one"\), hashrings\[2\] \("two"\), hashrings\[3\] \("default"\)/);
});

test('catch-all: rings after it are unreachable, a glob "*" is one, and no catch-all is a warning', () => {
  const after = lint([{ hashring: 'all', endpoints: ['a:1', 'b:1'] }, { hashring: 'late', tenants: ['t'], endpoints: ['a:1'] }]);
  assert.deepEqual(after.filter((f) => f.code === LintCode.Unreachable).map((f) => f.where), ['hashrings[1] ("late")']);
  const star = lint([
    { hashring: 't', tenants: ['t'], endpoints: ['a:1', 'b:1', 'c:1'] },
    { hashring: 'star', tenants: ['*'], tenant_matcher_type: 'glob', endpoints: ['a:1', 'b:1'] },
  ]);
  assert.deepEqual(star.filter((f) => f.code === LintCode.DefaultSmaller).map((f) => f.where), ['hashrings[1] ("star")']);
  const none = lint([{ tenants: ['t'], endpoints: ['a:1'] }]);
  assert.deepEqual(codes(none), [LintCode.NoDefault]);
  assert.equal(none[0]!.severity, 'warning');
});

test('zones: hashmod with az, ketama spreads that cannot work, zones that cost the quorum', () => {
  const zoned = (alg: string | undefined, eps: [string, string][]) => [{ ...(alg ? { algorithm: alg } : {}), endpoints: eps.map(([address, az]) => ({ address, az })) }];
  const three: [string, string][] = [['a:1', 'z1'], ['b:1', 'z2'], ['c:1', 'z3']];
  assert.deepEqual(codes(lint(zoned(undefined, three))), [LintCode.HashmodZones]);
  assert.deepEqual(lint(zoned('ketama', three), { replicationFactor: 3, algorithm: 'hashmod' }), []);
  // Docs' example: RF 4 over three endpoints in one zone and one in another.
  const lopsided: [string, string][] = [['a:1', 'z1'], ['b:1', 'z1'], ['c:1', 'z1'], ['d:1', 'z2']];
  const spread = lint(zoned(undefined, lopsided), { replicationFactor: 4, algorithm: 'ketama' });
  assert.deepEqual(codes(spread, 'error'), [LintCode.ZoneSpread]);
  assert.match(spread[0]!.message, /"z1": 3, "z2": 1/);
  // RF 3 over two zones: a zone holds two replicas, losing it leaves one < quorum 2.
  const two: [string, string][] = [['a:1', 'z1'], ['b:1', 'z1'], ['c:1', 'z2'], ['d:1', 'z2']];
  assert.deepEqual(codes(lint(zoned('ketama', two), { replicationFactor: 3, algorithm: 'ketama' })), [LintCode.ZoneQuorum]);
  assert.deepEqual(lint(zoned('ketama', two), { replicationFactor: 2, algorithm: 'ketama' }), []);
  const mixed = lint(zoned('ketama', [['a:1', 'z1'], ['b:1', ''], ['c:1', 'z2']]));
  assert.deepEqual(codes(mixed), [LintCode.ZoneMissing]);
  assert.match(mixed[0]!.message, /^b:1 has no "az"/);
});

test('maxEvenReplicas agrees with what KetamaRing can build, over random zone layouts', () => {
  const rng = new Rng(11);
  let refused = 0;
  for (let trial = 0; trial < 150; trial++) {
    const zones = 2 + Math.floor(rng.next() * 3);
    const sizes = Array.from({ length: zones }, () => 1 + Math.floor(rng.next() * 4));
    const endpoints = sizes.flatMap((n, z) => Array.from({ length: n }, (_, i) => ({ address: `n${z}-${i}:1`, az: `z${z}` })));
    const rf = 1 + Math.floor(rng.next() * endpoints.length);
    let builds = true;
    try {
      new KetamaRing(endpoints, rf, 3);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      builds = false;
      refused++;
    }
    assert.equal(rf <= maxEvenReplicas(sizes), builds, `zones ${sizes.join('/')}, RF ${rf}`);
  }
  assert.ok(refused > 10, `only ${refused} impossible layouts drawn`);
});
