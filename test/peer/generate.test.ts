/**
 * Tests of src/peer/generate.ts and `sluice hashring generate`: the exact file for a StatefulSet,
 * cluster domain, zones round robin, tenants, refusals, and that what it writes loads as a ring
 * whose entries are the pods' local endpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSluiceError, ErrorCode } from '../../src/errors.js';
import { parseHashringsConfig } from '../../src/peer/config.js';
import { generateHashrings, type GenerateOptions } from '../../src/peer/generate.js';
import { hashringMain, type CliIO } from '../../src/peer/hashringCli.js';
import { Hashrings } from '../../src/peer/hashrings.js';
import { hasErrors, lintHashringsText } from '../../src/peer/lint.js';

const BASE: GenerateOptions = { replicas: 3, statefulSet: 'sluice', service: 'sluice', namespace: 'monitoring', port: 19291 };

/** run calls `sluice hashring …` and captures its output. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (l) => { out.push(l); }, err: (l) => { err.push(l); } };
  const code = await hashringMain(args, io);
  return { code, out: out.map((l) => `${l}\n`).join(''), err: err.join('\n') };
}

test('generateHashrings writes one ketama ring of the pods in ordinal order', () => {
  assert.equal(generateHashrings(BASE), `[
  {
    "hashring": "default",
    "algorithm": "ketama",
    "tenants": [],
    "endpoints": [
      "sluice-0.sluice.monitoring.svc:19291",
      "sluice-1.sluice.monitoring.svc:19291",
      "sluice-2.sluice.monitoring.svc:19291"
    ]
  }
]
`);
});

test('cluster domain, ring name, tenants and algorithm', () => {
  const text = generateHashrings({ ...BASE, replicas: 2, clusterDomain: 'cluster.local.', hashring: 'edge', tenants: ['a', 'b'], algorithm: 'hashmod', port: 8080 });
  const [ring] = parseHashringsConfig(text);
  assert.equal(ring!.hashring, 'edge');
  assert.equal(ring!.algorithm, 'hashmod');
  assert.deepEqual(ring!.tenants, ['a', 'b']);
  assert.deepEqual(ring!.endpoints.map((e) => e.address), ['sluice-0.sluice.monitoring.svc.cluster.local:8080', 'sluice-1.sluice.monitoring.svc.cluster.local:8080']);
});

test('zones are assigned round robin and the ring spreads RF 3 over them', () => {
  const text = generateHashrings({ ...BASE, replicas: 6, zones: ['eu-1a', 'eu-1b', 'eu-1c'] });
  const cfg = parseHashringsConfig(text);
  assert.deepEqual(cfg[0]!.endpoints.map((e) => e.az), ['eu-1a', 'eu-1b', 'eu-1c', 'eu-1a', 'eu-1b', 'eu-1c']);
  assert.equal(cfg[0]!.endpoints[4]!.address, 'sluice-4.sluice.monitoring.svc:19291');
  const rings = new Hashrings(cfg, { algorithm: 'hashmod', replicationFactor: 3 });
  // Every series' 3 replicas land in 3 different zones.
  const ring = rings.rings[0]!.ring;
  for (let h = 0; h < 200; h++) {
    const lo = (Math.imul(h, 0x9e3779b1) >>> 0);
    const zones = new Set([0, 1, 2].map((n) => ring.endpoints[ring.getN(lo, h, n)]!.az));
    assert.equal(zones.size, 3);
  }
  assert.ok(!hasErrors(lintHashringsText(text, { algorithm: 'ketama', replicationFactor: 3 })));
});

test('lint agrees: a generated ring is fine up to RF = replicas and an error beyond', () => {
  const text = generateHashrings(BASE);
  assert.deepEqual(lintHashringsText(text, { algorithm: 'ketama', replicationFactor: 3 }).filter((f) => f.severity === 'error'), []);
  assert.ok(lintHashringsText(text, { algorithm: 'ketama', replicationFactor: 4 }).some((f) => f.code === 'below-rf' && f.severity === 'error'));
});

test('bad options are refused with a ConfigError naming the option', () => {
  const bad: [Partial<GenerateOptions>, RegExp][] = [
    [{ replicas: 0 }, /^replicas:/], [{ replicas: 1001 }, /^replicas:/], [{ replicas: 2.5 }, /^replicas:/],
    [{ namespace: 'Monitoring' }, /^namespace: "Monitoring" is not a DNS label/], [{ service: '' }, /^service:/],
    [{ statefulSet: 'a'.repeat(62) }, /^statefulset:/], // sts-<ordinal> would be over 63 bytes
    [{ port: 0 }, /^port:/], [{ port: 70000 }, /^port:/], [{ clusterDomain: 'cluster..local' }, /^cluster domain:/],
    [{ zones: ['a', 'b'], algorithm: 'hashmod' }, /^zones: only a ketama ring/], [{ zones: ['a', 'a'] }, /^zones: "a" is listed twice/],
    [{ tenants: [''] }, /^tenants: an entry is empty/],
  ];
  for (const [opts, re] of bad) {
    assert.throws(() => generateHashrings({ ...BASE, ...opts }), (e: unknown) => isSluiceError(e) && e.code === ErrorCode.Config && re.test(e.message), JSON.stringify(opts));
  }
});

test('sluice hashring generate prints exactly generateHashrings', async () => {
  const r = await run(['generate', '--replicas', '5', '--statefulset', 'sluice', '--service', 'sluice', '--namespace', 'monitoring', '--port', '19291']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, generateHashrings({ ...BASE, replicas: 5 }));
  const z = await run(['generate', '--replicas=4', '--namespace=obs', '--statefulset=rcv', '--zones=a,b', '--cluster-domain=k8s.local', '--tenant=t1', '--tenant=t2', '--hashring=tenants']);
  assert.equal(z.code, 0, z.err);
  assert.equal(z.out, generateHashrings({
    replicas: 4, statefulSet: 'rcv', service: 'rcv', namespace: 'obs', port: 19291, zones: ['a', 'b'], clusterDomain: 'k8s.local', tenants: ['t1', 't2'], hashring: 'tenants',
  }));
});

test('sluice hashring generate: usage errors exit 2, bad values 1', async () => {
  assert.equal((await run(['generate', '--replicas', '3'])).code, 2);
  assert.equal((await run(['generate', '--namespace', 'monitoring'])).code, 2);
  assert.equal((await run(['generate', '--replicas', 'three', '--namespace', 'm'])).code, 2);
  assert.equal((await run(['generate', '--replicas', '3', '--namespace', 'm', '--algorithm', 'rendezvous'])).code, 2);
  assert.equal((await run(['generate', '--replicas', '3', '--namespace', 'm', '--bogus'])).code, 2);
  const bad = await run(['generate', '--replicas', '3', '--namespace', 'Monitoring']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /namespace: "Monitoring" is not a DNS label/);
  assert.equal(bad.out, '', 'nothing on stdout, so a redirect never writes half a file');
  const help = await run(['--help']);
  assert.match(help.out, /sluice hashring generate --replicas N --namespace NS/);
});
