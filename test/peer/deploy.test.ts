/**
 * Tests of the Kubernetes manifests in deploy/: every file parses as YAML, the kustomization lists
 * files that exist, the StatefulSet, Services, PDB and ConfigMaps agree with each other (ports,
 * names, grace period, hashring endpoints = each pod's local endpoint, RF 3 buildable as ketama),
 * the alert rules pass `promtool check rules` and read metrics Sluice exposes, and the Grafana
 * datasource points at the client Service's http port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { parseHashringsConfig } from '../../src/peer/config.js';
import { Hashrings } from '../../src/peer/hashrings.js';

/** Repository root: this file runs from <root>/<build dir>/out/test/peer or <root>/dist/test/peer. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'deploy', 'kustomization.yaml')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('repository root with deploy/ not found');
}

const ROOT = repoRoot();
const DEPLOY = join(ROOT, 'deploy');

type Doc = any;

/** load parses every YAML document of a deploy file, failing on any YAML error. */
function load(rel: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, rel), 'utf8'));
  for (const d of docs) assert.equal(d.errors.length, 0, `${rel}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS());
}

function yamlFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...yamlFiles(join(dir, e.name), `${prefix}${e.name}/`));
    else if (/\.ya?ml$/.test(e.name)) out.push(prefix + e.name);
  }
  return out;
}

test('every deploy file parses and the kustomization lists existing resources', () => {
  const files = yamlFiles(DEPLOY);
  assert.ok(files.length >= 10, `found ${files.join(', ')}`);
  for (const f of files) assert.ok(load(f).length >= 1, f);
  const [k] = load('kustomization.yaml');
  for (const r of k.resources as string[]) assert.ok(existsSync(join(DEPLOY, r)), `kustomization lists missing ${r}`);
  assert.ok(!(k.resources as string[]).includes('objstore-secret.example.yaml'), 'the example secret must not be applied by default');
  const kinds = (k.resources as string[]).flatMap((r) => load(r).map((d) => d.kind)).sort();
  assert.deepEqual(kinds, ['ConfigMap', 'ConfigMap', 'Namespace', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'Service', 'ServiceMonitor', 'StatefulSet']);
});

test('StatefulSet: 3 parallel replicas, anti-affinity, probes, PVC, grace period above --http-grace-period', () => {
  const [sts] = load('statefulset.yaml');
  const spec = sts.spec;
  assert.equal(spec.replicas, 3);
  assert.equal(spec.podManagementPolicy, 'Parallel');
  assert.equal(spec.serviceName, 'sluice');
  const pod = spec.template.spec;
  const anti = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
  assert.equal(anti.topologyKey, 'kubernetes.io/hostname');
  assert.deepEqual(anti.labelSelector.matchLabels, spec.selector.matchLabels);
  const c = pod.containers[0];
  const args = c.args as string[];
  const flag = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  assert.equal(args[0], 'receive');
  assert.equal(flag('receive.replication-factor'), '3');
  assert.equal(flag('tsdb.path'), c.volumeMounts.find((m: Doc) => m.name === 'data').mountPath);
  const grace = durationMs(flag('http-grace-period')!);
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > grace, 'terminationGracePeriodSeconds must exceed --http-grace-period');
  assert.equal(c.readinessProbe.httpGet.path, '/-/ready');
  assert.equal(c.livenessProbe.httpGet.path, '/-/healthy');
  assert.equal(c.readinessProbe.httpGet.port, 'http');
  const ports = Object.fromEntries(c.ports.map((p: Doc) => [p.name, p.containerPort]));
  assert.deepEqual(ports, { 'remote-write': 19291, http: 10902, grpc: 10901 });
  assert.equal(flag('http-address'), '0.0.0.0:10902');
  assert.equal(flag('remote-write.address'), '0.0.0.0:19291');
  assert.equal(c.resources.requests.cpu, c.resources.limits.cpu, 'CPU request = limit (threads follow the limit)');
  assert.equal(spec.volumeClaimTemplates[0].metadata.name, 'data');
  // Mounted files exist in their ConfigMaps.
  const [hashringCm] = load('hashring-configmap.yaml');
  assert.equal(flag('receive.hashrings-file'), `${c.volumeMounts.find((m: Doc) => m.name === 'hashring').mountPath}/hashrings.json`);
  assert.ok('hashrings.json' in hashringCm.data);
  assert.equal(pod.volumes.find((v: Doc) => v.name === 'hashring').configMap.name, hashringCm.metadata.name);
});

test('the hashring ConfigMap builds as RF 3 ketama and lists exactly each pod\'s local endpoint', () => {
  const [sts] = load('statefulset.yaml');
  const [cm] = load('hashring-configmap.yaml');
  const [k] = load('kustomization.yaml');
  const cfg = parseHashringsConfig(cm.data['hashrings.json'], 'hashring-configmap.yaml');
  const args = sts.spec.template.spec.containers[0].args as string[];
  const algorithm = args.find((a) => a.startsWith('--receive.hashrings-algorithm='))!.split('=')[1] as 'ketama';
  const rings = new Hashrings(cfg, { algorithm, replicationFactor: 3 });
  assert.equal(rings.rings[0]!.ring.algorithm, 'ketama');
  const local = args.find((a) => a.startsWith('--receive.local-endpoint='))!.split('=')[1]!;
  const want = Array.from({ length: sts.spec.replicas }, (_, i) =>
    local.replace('$(POD_NAME)', `${sts.metadata.name}-${i}`).replace('$(POD_NAMESPACE)', k.namespace));
  assert.deepEqual(cfg[0]!.endpoints.map((e) => e.address), want);
  assert.ok(want.every((a) => a.endsWith(':19291')), 'peers are reached on the remote-write port');
});

test('Services, PodDisruptionBudget and limits', () => {
  const [headless] = load('service-headless.yaml');
  const [clientSvc] = load('service.yaml');
  const [sts] = load('statefulset.yaml');
  const [pdb] = load('poddisruptionbudget.yaml');
  assert.equal(headless.spec.clusterIP, 'None');
  assert.equal(headless.metadata.name, sts.spec.serviceName);
  for (const svc of [headless, clientSvc]) {
    assert.deepEqual(svc.spec.ports.map((p: Doc) => p.port).sort(), [10901, 10902, 19291]);
    assert.deepEqual(svc.spec.selector, sts.spec.selector.matchLabels);
  }
  assert.equal(pdb.spec.maxUnavailable, 1);
  assert.deepEqual(pdb.spec.selector.matchLabels, sts.spec.selector.matchLabels);
  const [limits] = load('limits-configmap.yaml');
  const inner = parseAllDocuments(limits.data['limits.yaml'])[0]!.toJS();
  assert.ok(inner.write.default.request !== undefined);
  const [secret] = load('objstore-secret.example.yaml');
  const objstore = parseAllDocuments(secret.stringData['objstore.yml'])[0]!.toJS();
  assert.equal(objstore.type, 'S3');
  assert.equal(sts.spec.template.spec.volumes.find((v: Doc) => v.name === 'objstore').secret.secretName, secret.metadata.name);
});

test('alert rules pass promtool and read metrics Sluice exposes', () => {
  const [rule] = load('prometheusrule.yaml');
  const groups = rule.spec.groups;
  const alerts = groups.flatMap((g: Doc) => g.rules.map((r: Doc) => r.alert));
  for (const seed of ['ThanosReceiverDown', 'RemoteWriteFailureRate', 'ThanosReceiverReplicationFailure', 'ReceiverDiskSpaceLow']) {
    assert.ok(alerts.includes(seed), `seed alert ${seed} missing`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rules-'));
  try {
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, stringify({ groups }));
    const out = execFileSync('/usr/bin/promtool', ['check', 'rules', file], { encoding: 'utf8' });
    assert.match(out, new RegExp(`SUCCESS: ${alerts.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Metric names in the expressions: Sluice's own must be defined somewhere under src/.
  const external = new Set(['up', 'kubelet_volume_stats_available_bytes', 'kubelet_volume_stats_capacity_bytes']);
  const srcText = sourceText(join(ROOT, 'src'));
  const functions = new Set(['sum', 'rate', 'by', 'on', 'and', 'or', 'unless']);
  for (const g of groups) {
    for (const r of g.rules) {
      const names = (r.expr as string).match(/\b[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*[{[])/g) ?? [];
      for (const n of names) {
        if (functions.has(n) || external.has(n)) continue;
        assert.ok(srcText.includes(`'${n}'`), `${r.alert}: metric ${n} is not defined in src/`);
      }
      assert.ok(!/thanos_receive_replication_requests_total/.test(r.expr), 'that metric does not exist');
    }
  }
});

test('Grafana datasource targets the client Service http port', () => {
  const [ds] = load('grafana/datasource.yaml');
  const [clientSvc] = load('service.yaml');
  const [k] = load('kustomization.yaml');
  const d = ds.datasources[0];
  assert.equal(d.type, 'prometheus');
  const http = clientSvc.spec.ports.find((p: Doc) => p.name === 'http').port;
  assert.equal(d.url, `http://${clientSvc.metadata.name}.${k.namespace}.svc:${http}`);
});

/** durationMs reads a simple Go duration (`90s`, `2m`, `1h`) as ms. */
function durationMs(s: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(s);
  assert.ok(m !== null, `unexpected duration ${s}`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
}

/** sourceText concatenates every .ts file under `dir`. */
function sourceText(dir: string): string {
  let s = '';
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) s += sourceText(p);
    else if (e.name.endsWith('.ts')) s += readFileSync(p, 'utf8');
  }
  return s;
}
