/**
 * Tests of the hashring file (src/peer/config.ts), tenant → ring matching (src/peer/hashrings.ts),
 * Go-compatible tenant globs (src/peer/glob.ts) and the file watcher (src/peer/watcher.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import client from 'prom-client';
import { parseHashringsConfig } from '../../src/peer/config.js';
import { Hashrings } from '../../src/peer/hashrings.js';
import { GlobPattern } from '../../src/peer/glob.js';
import { HashringWatcher } from '../../src/peer/watcher.js';
import { HashringMetrics } from '../../src/peer/metrics.js';
import { ConfigError, ErrorCode, SluiceError } from '../../src/errors.js';

const opts = { algorithm: 'hashmod' as const, replicationFactor: 1 };

test('parses the Thanos format: string and object endpoints, defaults filled in', () => {
  const cfg = parseHashringsConfig(JSON.stringify([
    { hashring: 'a', tenants: ['t1', 't2'], endpoints: ['h1:19291', { address: 'h2:19291', az: 'z1', capnproto_address: 'h2:19391' }], external_labels: { region: 'eu' } },
    { endpoints: ['h3:19291'], algorithm: 'ketama', tenant_matcher_type: 'glob' },
  ]));
  assert.equal(cfg.length, 2);
  assert.deepEqual(cfg[0]!.endpoints, [{ address: 'h1:19291', az: '' }, { address: 'h2:19291', az: 'z1' }]);
  assert.deepEqual(cfg[0]!.tenants, ['t1', 't2']);
  assert.equal(cfg[0]!.tenantMatcherType, 'exact');
  assert.deepEqual(cfg[0]!.externalLabels, { region: 'eu' });
  assert.equal(cfg[1]!.hashring, '');
  assert.equal(cfg[1]!.algorithm, 'ketama');
  assert.equal(cfg[1]!.tenantMatcherType, 'glob');
  assert.deepEqual(cfg[1]!.tenants, []);
});

test('validation errors name the offending field', () => {
  const bad: [unknown, RegExp][] = [
    [{}, /^hashrings: expected a JSON array/],
    [[], /configuration is empty/],
    [[{ endpoints: 'h:1' }], /^hashrings\[0\]\.endpoints: expected an array/],
    [[{ endpoints: [] }], /^hashrings\[0\]\.endpoints: a hashring needs at least one endpoint/],
    [[{ endpoints: ['a:1'] }, { endpoints: [{ az: 'z' }] }], /^hashrings\[1\]\.endpoints\[0\]\.address: expected a non-empty string/],
    [[{ endpoints: [{ address: 'a:1', zone: 'z' }] }], /^hashrings\[0\]\.endpoints\[0\]\.zone: unknown endpoint field/],
    [[{ endpoints: [{ address: 'a:1', az: 3 }] }], /^hashrings\[0\]\.endpoints\[0\]\.az: expected a string/],
    [[{ endpoints: ['a:1', 'a:1'] }], /^hashrings\[0\]\.endpoints\[1\]\.address: "a:1" is already endpoints\[0\]/],
    [[{ endpoints: ['a:1'], tenants: 'x' }], /^hashrings\[0\]\.tenants: expected an array/],
    [[{ endpoints: ['a:1'], tenants: ['x', 7] }], /^hashrings\[0\]\.tenants\[1\]: expected a string/],
    [[{ endpoints: ['a:1'], tenant_matcher_type: 'regex' }], /^hashrings\[0\]\.tenant_matcher_type: expected "exact" or "glob"/],
    [[{ endpoints: ['a:1'], tenant_matcher_type: 'glob', tenants: ['ok-*', 'bad-['] }], /^hashrings\[0\]\.tenants\[1\]: bad glob pattern/],
    [[{ endpoints: ['a:1'], algorithm: 'ketema' }], /^hashrings\[0\]\.algorithm: expected "hashmod" or "ketama"/],
    [[{ endpoints: ['a:1'], external_labels: { k: 1 } }], /^hashrings\[0\]\.external_labels\.k: expected a string/],
    [[{ endpoints: ['a:1'], shuffle_sharding_config: { shard_size: 2 } }], /^hashrings\[0\]\.shuffle_sharding_config: not supported yet/],
  ];
  for (const [input, re] of bad) {
    assert.throws(() => parseHashringsConfig(JSON.stringify(input)), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(input));
  }
  assert.throws(() => parseHashringsConfig('[{', '/etc/h.json'), messageMatches(/^\/etc\/h\.json: not valid JSON/));
});

test('building rings: AZ with hashmod and too few endpoints name the hashring', () => {
  const cfg = parseHashringsConfig(JSON.stringify([{ hashring: 'zoned', endpoints: [{ address: 'a:1', az: 'z' }] }]));
  assert.throws(() => new Hashrings(cfg, opts), messageMatches(/^hashrings\[0\] \("zoned"\): hashmod algorithm does not support AZ/));
  assert.doesNotThrow(() => new Hashrings(cfg, { algorithm: 'ketama', replicationFactor: 1 }));
  const small = parseHashringsConfig(JSON.stringify([{ endpoints: ['a:1', 'b:1'], algorithm: 'ketama' }]));
  assert.throws(() => new Hashrings(small, { algorithm: 'hashmod', replicationFactor: 3 }), messageMatches(/^hashrings\[0\]: ketama: amount of endpoints \(2\)/));
});

test('tenant → ring: first match in file order, catch-all without tenants, cached, error when none', () => {
  const rings = new Hashrings(parseHashringsConfig(JSON.stringify([
    { hashring: 'exact', tenants: ['team-a', 'team-b'], endpoints: ['x:1'] },
    { hashring: 'glob', tenants: ['team-*', 'ops-?'], tenant_matcher_type: 'glob', endpoints: ['y:1'] },
    { hashring: 'catch-all', endpoints: ['z:1'] },
    { hashring: 'never', tenants: ['team-a'], endpoints: ['w:1'] },
  ])), opts);
  assert.equal(rings.ringFor('team-a').name, 'exact');
  assert.equal(rings.ringFor('team-b').name, 'exact');
  assert.equal(rings.ringFor('team-c').name, 'glob');
  assert.equal(rings.ringFor('ops-1').name, 'glob');
  assert.equal(rings.ringFor('ops-12').name, 'catch-all');
  assert.equal(rings.ringFor('default-tenant').name, 'catch-all');
  assert.equal(rings.ringFor('team-c'), rings.ringFor('team-c'), 'cached answer is the same object');

  const noCatchAll = new Hashrings(parseHashringsConfig(JSON.stringify([{ tenants: ['only'], endpoints: ['x:1'] }])), opts);
  assert.throws(() => noCatchAll.ringFor('other'), (e: unknown) => e instanceof SluiceError && e.code === ErrorCode.Internal && /no matching hashring to handle tenant/.test(e.message));
  assert.throws(() => noCatchAll.ringFor('other'), /no matching hashring/, 'a miss is cached too and still an error');
  assert.deepEqual(rings.nodes().map((e) => e.address), ['w:1', 'x:1', 'y:1', 'z:1']);
});

test('glob patterns follow Go filepath.Match', () => {
  const m = (p: string, s: string): boolean => new GlobPattern(p).matches(s);
  assert.ok(m('team-*', 'team-'));
  assert.ok(m('team-*', 'team-alpha'));
  assert.ok(!m('team-*', 'xteam-alpha'));
  assert.ok(m('*', ''));
  assert.ok(!m('*', 'a/b'), '* does not cross a separator');
  assert.ok(m('a?c', 'abc'));
  assert.ok(!m('a?c', 'ac'));
  assert.ok(m('a?c', 'aéc'), '? is one code point, not one byte');
  assert.ok(m('[a-c]x', 'bx'));
  assert.ok(!m('[a-c]x', 'dx'));
  assert.ok(m('[^a-c]x', 'dx'));
  assert.ok(!m('[^a-c]x', 'ax'));
  assert.ok(m('\\*', '*'));
  assert.ok(!m('\\*', 'a'));
  assert.ok(m('*-prod-*', 'eu-prod-1'));
  assert.ok(!m('exact', 'exactly'));
  for (const bad of ['[', '[]', '[a', 'a\\', '[a-', '[-a]', '[a-]', '[ab-]', '[\\']) {
    assert.throws(() => new GlobPattern(bad), Error, `pattern ${JSON.stringify(bad)} should be bad`);
  }
});

test('watcher: load() then reload on change; invalid versions keep the old rings and are counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-peer-'));
  try {
    const path = join(dir, 'hashrings.json');
    writeFileSync(path, JSON.stringify([{ endpoints: ['a:1', 'b:1'] }]));
    const registry = new client.Registry();
    const metrics = new HashringMetrics(registry);
    const changes: Hashrings[] = [];
    const errors: Error[] = [];
    const w = new HashringWatcher({
      path, intervalMs: 30, algorithm: 'hashmod', replicationFactor: 2, metrics,
      onChange: (r) => changes.push(r), onError: (e) => errors.push(e),
    });
    const first = w.load();
    assert.equal(first.rings[0]!.ring.endpoints.length, 2);
    w.start();
    try {
      assert.equal(w.refresh(), false, 'unchanged content is not a change');
      writeFileSync(path, JSON.stringify([{ hashring: 'r', endpoints: ['a:1', 'b:1', 'c:1'] }]));
      await waitFor(() => changes.length === 1);
      assert.equal(changes[0]!.rings[0]!.ring.endpoints.length, 3);
      // Too few endpoints for RF 2: refused, counted, old rings kept.
      writeFileSync(path + '.tmp', JSON.stringify([{ endpoints: ['a:1'] }]));
      renameSync(path + '.tmp', path);
      await waitFor(() => errors.length >= 1);
      assert.match(errors[0]!.message, /cannot hold 2 replicas/);
      assert.equal(changes.length, 1);
      const text = await registry.metrics();
      assert.match(text, /thanos_receive_hashrings_file_changes_total 1/);
      assert.match(text, /thanos_receive_config_last_reload_successful 0/);
      assert.match(text, /thanos_receive_hashring_nodes\{name="r"\} 3/);
      assert.match(text, /thanos_receive_hashrings_file_errors_total [1-9]/);
    } finally {
      w.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** messageMatches validates a thrown ConfigError by its message (anchored regexps). */
function messageMatches(re: RegExp): (e: unknown) => boolean {
  return (e: unknown) => e instanceof ConfigError && re.test(e.message);
}

/** waitFor polls `cond` every 10 ms for up to 3 s. */
async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail('condition not reached within 3 s');
}
