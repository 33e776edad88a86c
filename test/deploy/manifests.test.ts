/**
 * Tests of deploy/: every overlay renders with `kubectl kustomize`, every rendered object passes
 * the Kubernetes / prometheus-operator OpenAPI schemas (kubernetes-models), and each overlay is
 * consistent: the hashring file is byte for byte `generateHashrings` for the StatefulSet's replica
 * count and lists each pod's --receive.local-endpoint, the ring builds with the replication factor,
 * the PodDisruptionBudget keeps the write quorum, the probes, grace period and CPU-derived shard
 * count are right, and every pod's command line is accepted by Sluice's own flag parser and config
 * loader (with the mounted files in place). Deliberately broken copies must fail those checks.
 * The Dockerfile's ENTRYPOINT, CMD, USER and EXPOSE are checked against the StatefulSet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { parseHashringsConfig } from '../../src/peer/config.js';
import { NODE_FLAGS } from '../../src/util/nodeFlags.js';
import { generateHashrings } from '../../src/peer/generate.js';
import { Hashrings } from '../../src/peer/hashrings.js';
import { hasErrors, lintHashringsText } from '../../src/peer/lint.js';
import { writeQuorum } from '../../src/peer/quorum.js';
import type { HashringAlgorithm } from '../../src/peer/ring.js';
import { parseReceiveFlags, toConfig } from '../../src/receive/flags.js';
import {
  DEPLOY, ROOT, container, cpuQuantity, durationMs, flagValue, localizeArgs, one, parseYamlDocs, podArgs, podEnv, render,
  type K8sObject,
} from './helpers.js';

/** What each overlay is meant to be; a new overlay directory must be added here. */
const OVERLAYS: Record<string, { replicas: number; rf: number; ownObjstore: boolean }> = {
  single: { replicas: 1, rf: 1, ownObjstore: true },
  'ha-3': { replicas: 3, rf: 3, ownObjstore: false },
  'scale-5': { replicas: 5, rf: 3, ownObjstore: false },
};

/** The flags of the seed's Thanos Receive StatefulSet: all must still be passed. */
const SEED_FLAGS = [
  'tsdb.path', 'grpc-address', 'http-address', 'remote-write.address', 'receive.replication-factor',
  'receive.hashrings-file', 'label', 'objstore.config-file', 'tsdb.retention',
];
/** The seed's container ports. */
const SEED_PORTS = { http: 10902, grpc: 10901, 'remote-write': 19291 };

/** Kustomization keys both kustomize v2.0.3 (kubectl 1.20) and v5 understand the same way. */
const PORTABLE_KEYS = new Set([
  'apiVersion', 'kind', 'resources', 'bases', 'namespace', 'images', 'patchesStrategicMerge',
  'configMapGenerator', 'secretGenerator', 'generatorOptions', 'commonLabels',
]);

/** validate checks one object against its OpenAPI schema; an unknown kind fails. */
function validate(o: K8sObject): void {
  const models: Record<string, (x: any) => { validate(): void }> = {
    'v1/ConfigMap': (x) => new ConfigMap(x),
    'v1/Secret': (x) => new Secret(x),
    'v1/Service': (x) => new Service(x),
    'apps/v1/StatefulSet': (x) => new StatefulSet(x),
    'policy/v1/PodDisruptionBudget': (x) => new PodDisruptionBudget(x),
    'monitoring.coreos.com/v1/ServiceMonitor': (x) => new ServiceMonitor(x),
    'monitoring.coreos.com/v1/PrometheusRule': (x) => new PrometheusRule(x),
  };
  const make = models[`${o.apiVersion}/${o.kind}`];
  assert.ok(make !== undefined, `no schema for ${o.apiVersion} ${o.kind}`);
  make(o).validate();
}

/** kustomization reads an overlay's (or the base's) kustomization.yaml. */
function kustomization(dir: string): any {
  return parseYamlDocs(readFileSync(join(DEPLOY, dir, 'kustomization.yaml'), 'utf8'), `${dir}/kustomization.yaml`)[0];
}

/** exampleSecret is deploy/objstore-secret.example.yaml, the Secret the multi-node overlays need. */
function exampleSecret(): K8sObject {
  return parseYamlDocs(readFileSync(join(DEPLOY, 'objstore-secret.example.yaml'), 'utf8'), 'objstore-secret.example.yaml')[0] as K8sObject;
}

/**
 * checkOverlay asserts everything an overlay's rendered objects must satisfy; `name` picks the
 * overlay directory (for hashrings.json) and, unless `want` is given, the expectations. Throws an AssertionError (or the
 * ConfigError of Sluice's parser) at the first violation.
 */
function checkOverlay(name: string, objs: K8sObject[], want = OVERLAYS[name]!): void {
  const ns = kustomization(`overlays/${name}`).namespace as string;
  for (const o of objs) {
    validate(o);
    assert.equal(o.metadata.namespace, ns, `${o.kind} ${o.metadata.name} is not in namespace ${ns}`);
  }
  const kinds = objs.map((o) => o.kind).sort();
  assert.deepEqual(kinds, ['ConfigMap', 'ConfigMap', 'PodDisruptionBudget', 'PrometheusRule', ...(want.ownObjstore ? ['Secret'] : []), 'Service', 'Service', 'ServiceMonitor', 'StatefulSet']);

  // StatefulSet shape.
  const sts = one(objs, 'StatefulSet');
  const spec = sts['spec'];
  const pod = spec.template.spec;
  const c = container(sts);
  assert.equal(spec.replicas, want.replicas, 'replicas');
  assert.equal(spec.podManagementPolicy, 'Parallel');
  assert.deepEqual(spec.template.metadata.labels, { ...spec.template.metadata.labels, ...spec.selector.matchLabels }, 'the selector matches the pod labels');
  const anti = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
  assert.equal(anti.topologyKey, 'kubernetes.io/hostname', 'one pod per node');
  assert.deepEqual(anti.labelSelector.matchLabels, spec.selector.matchLabels);
  assert.match(c.image, /^[^/]+\/.+:.+$/, 'the image is set to a registry path and tag by kustomize');
  const ports: Record<string, number> = Object.fromEntries((c.ports as any[]).map((p) => [p.name, p.containerPort]));
  assert.deepEqual({ ...ports }, SEED_PORTS, 'the seed\'s container ports');
  const args = podArgs(sts, 0);
  assert.equal(args[0], 'receive');
  for (const f of SEED_FLAGS) assert.ok(args.some((a) => a.startsWith(`--${f}=`)), `seed flag --${f} missing`);
  assert.equal(flagValue(args, 'http-address'), `0.0.0.0:${ports['http']}`);
  assert.equal(flagValue(args, 'remote-write.address'), `0.0.0.0:${ports['remote-write']}`);
  assert.equal(flagValue(args, 'grpc-address'), `0.0.0.0:${ports['grpc']}`);
  assert.equal(flagValue(args, 'tsdb.path'), (c.volumeMounts as any[]).find((m) => m.name === 'data').mountPath);
  assert.equal(spec.volumeClaimTemplates[0].metadata.name, 'data');

  // Probes, grace period.
  assert.equal(c.readinessProbe.httpGet.path, '/-/ready');
  assert.equal(c.livenessProbe.httpGet.path, '/-/healthy');
  for (const p of [c.readinessProbe, c.livenessProbe]) assert.equal(p.httpGet.port, 'http');
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > durationMs(flagValue(args, 'http-grace-period')!),
    'terminationGracePeriodSeconds must exceed --http-grace-period');

  // CPU: shards follow the limit.
  const cpuEnv = (c.env as any[]).find((e) => e.valueFrom?.resourceFieldRef !== undefined);
  assert.deepEqual(cpuEnv?.valueFrom.resourceFieldRef, { resource: 'limits.cpu', divisor: '1' });
  assert.ok((c.args as string[]).includes(`--receive.shards=$(${cpuEnv.name})`), '--receive.shards follows the CPU limit');
  assert.equal(cpuQuantity(c.resources.requests.cpu), cpuQuantity(c.resources.limits.cpu), 'CPU request = limit');
  assert.equal(flagValue(args, 'receive.shards'), String(Math.ceil(cpuQuantity(c.resources.limits.cpu))));

  // Volumes reference objects that exist (the multi-node objstore Secret is the user's, named as the example).
  for (const v of pod.volumes as any[]) {
    if (v.configMap !== undefined) one(objs, 'ConfigMap', v.configMap.name);
    if (v.secret !== undefined) {
      if (want.ownObjstore) one(objs, 'Secret', v.secret.secretName);
      else assert.equal(v.secret.secretName, exampleSecret().metadata.name, 'the Secret the README tells users to create');
    }
  }

  // The hashring: generated from replicas, one entry per pod, equal to its local endpoint.
  const ringVolume = (pod.volumes as any[]).find((v) => v.name === 'hashring-config');
  const ringFile = flagValue(args, 'receive.hashrings-file')!;
  const ringMount = (c.volumeMounts as any[]).find((m) => m.name === 'hashring-config');
  assert.equal(posix.dirname(ringFile), ringMount.mountPath);
  const text = one(objs, 'ConfigMap', ringVolume.configMap.name)['data'][posix.basename(ringFile)] as string;
  const onDisk = readFileSync(join(DEPLOY, 'overlays', name, 'hashrings.json'), 'utf8');
  assert.equal(text, onDisk, 'the ConfigMap carries the overlay\'s hashrings.json unchanged');
  const headless = one(objs, 'Service', spec.serviceName);
  const generated = generateHashrings({
    replicas: spec.replicas, statefulSet: sts.metadata.name, service: headless.metadata.name, namespace: ns, port: ports['remote-write']!,
  });
  assert.equal(text, generated, `deploy/overlays/${name}/hashrings.json is not what \`sluice hashring generate --replicas ${spec.replicas}\` writes: regenerate it (deploy/README.md)`);
  const rings = parseHashringsConfig(text, `${name}/hashrings.json`);
  const endpoints = rings[0]!.endpoints.map((e) => e.address);
  assert.equal(endpoints.length, spec.replicas, 'hashring endpoints = replicas');
  const rf = Number(flagValue(args, 'receive.replication-factor'));
  assert.equal(rf, want.rf, 'replication factor');
  assert.ok(rf <= endpoints.length, 'RF ≤ endpoints');
  const algorithm = flagValue(args, 'receive.hashrings-algorithm') as HashringAlgorithm;
  const built = new Hashrings(rings, { algorithm, replicationFactor: rf });
  assert.equal(built.rings[0]!.ring.algorithm, 'ketama', 'ketama: scaling moves only the new pods\' share');
  assert.ok(!hasErrors(lintHashringsText(text, { algorithm, replicationFactor: rf })), 'sluice hashring lint finds no error');
  for (let i = 0; i < spec.replicas; i++) {
    assert.equal(flagValue(podArgs(sts, i), 'receive.local-endpoint'), endpoints[i], `pod ${i}'s --receive.local-endpoint is its ring entry`);
  }

  // The PodDisruptionBudget: drains possible, and with more than one pod the write quorum holds.
  const pdb = one(objs, 'PodDisruptionBudget');
  assert.deepEqual(pdb['spec'].selector.matchLabels, spec.selector.matchLabels);
  const maxUnavailable = pdb['spec'].maxUnavailable as number;
  assert.ok(Number.isInteger(maxUnavailable) && maxUnavailable >= 1, 'maxUnavailable ≥ 1, or node drains block forever');
  if (spec.replicas > 1) {
    assert.ok(rf - maxUnavailable >= writeQuorum(rf), `with ${maxUnavailable} pod(s) down a series keeps ${rf - maxUnavailable} of ${rf} replicas, below quorum ${writeQuorum(rf)}`);
  }

  // Services.
  const client = objs.find((o) => o.kind === 'Service' && o !== headless)!;
  assert.equal(headless['spec'].clusterIP, 'None');
  assert.equal(headless['spec'].publishNotReadyAddresses, true, 'peers resolve pods that are still replaying');
  for (const svc of [headless, client]) {
    assert.deepEqual(svc['spec'].selector, spec.selector.matchLabels);
    for (const p of svc['spec'].ports as any[]) assert.equal(ports[p.targetPort], p.port, `${svc.metadata.name} port ${p.name}`);
    assert.deepEqual((svc['spec'].ports as any[]).map((p) => p.port).sort(), [10901, 10902, 19291]);
  }
  const sm = one(objs, 'ServiceMonitor');
  const selects = (svc: K8sObject): boolean =>
    Object.entries(sm['spec'].selector.matchLabels as Record<string, string>).every(([k, v]) => svc.metadata.labels?.[k] === v);
  assert.ok(selects(client), 'the ServiceMonitor selects the client Service');
  assert.ok(!selects(headless), 'and not the headless one (every pod would be scraped twice)');
  assert.ok((client['spec'].ports as any[]).some((p) => p.name === sm['spec'].endpoints[0].port));

  // Every pod's command line is accepted by Sluice: flags, then the config with the mounted files.
  for (let i = 0; i < spec.replicas; i++) {
    const { args: local, dir } = localizeArgs(podArgs(sts, i), sts, objs, [exampleSecret()]);
    try {
      const cfg = toConfig(parseReceiveFlags(local.slice(1)));
      assert.equal(cfg.replicationFactor, rf);
      assert.equal(cfg.shards, Math.ceil(cpuQuantity(c.resources.limits.cpu)));
      assert.equal(cfg.hashrings?.localEndpoint, endpoints[i]);
      assert.ok(cfg.limits !== undefined, 'the limits file loads');
      assert.equal(cfg.objstore.type, want.ownObjstore ? 'FILESYSTEM' : 'S3', 'the overlay\'s bucket, or the example S3 secret');
      // The single overlay's bucket is where Sluice puts it without a config: <tsdb.path>/bucket.
      if (cfg.objstore.type === 'FILESYSTEM') assert.equal(cfg.objstore.filesystem.directory, posix.join(flagValue(args, 'tsdb.path')!, 'bucket'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

test('deploy/ has the base and exactly the overlays this test knows; kustomizations use only portable features', () => {
  assert.deepEqual(readdirSync(join(DEPLOY, 'overlays')).sort(), Object.keys(OVERLAYS).sort());
  for (const dir of ['base', ...Object.keys(OVERLAYS).map((o) => `overlays/${o}`)]) {
    const k = kustomization(dir);
    for (const key of Object.keys(k)) assert.ok(PORTABLE_KEYS.has(key), `${dir}/kustomization.yaml: ${key} is not understood by kustomize v2.0.3`);
    // kustomize v2.0.3 takes only files under resources (directories go under bases).
    for (const r of (k.resources ?? []) as string[]) assert.ok(existsSync(join(DEPLOY, dir, r)) && r.endsWith('.yaml'), `${dir}: resource ${r}`);
    for (const b of (k.bases ?? []) as string[]) assert.ok(existsSync(join(DEPLOY, dir, b, 'kustomization.yaml')), `${dir}: base ${b}`);
    for (const g of (k.configMapGenerator ?? []) as any[]) assert.ok(k.generatorOptions?.disableNameSuffixHash === true, `${dir}: ${g.name} needs a fixed name`);
  }
  assert.ok(!readFileSync(join(DEPLOY, 'base', 'kustomization.yaml'), 'utf8').includes('objstore-secret.example'), 'the example secret is never applied');
});

for (const name of Object.keys(OVERLAYS)) {
  test(`overlay ${name}: renders, validates and is consistent`, () => {
    checkOverlay(name, render(name));
  });
}

test('broken copies of ha-3 fail the checks', () => {
  const mutate = (f: (objs: K8sObject[]) => void): K8sObject[] => { const objs = render('ha-3'); f(objs); return objs; };
  const sts = (objs: K8sObject[]): any => one(objs, 'StatefulSet');
  assert.throws(() => checkOverlay('ha-3', mutate((o) => { sts(o).spec.replicas = 'three'; })), /replicas must be integer/);
  assert.throws(() => checkOverlay('ha-3', mutate((o) => { delete sts(o).spec.selector; })), /required property 'selector'|must have required property selector/);
  const want = OVERLAYS['ha-3']!;
  // One more pod than ring entries: the overlay's file is no longer what generate writes.
  assert.throws(() => checkOverlay('ha-3', mutate((o) => { sts(o).spec.replicas = 4; }), { ...want, replicas: 4 }),
    /hashrings.json is not what `sluice hashring generate --replicas 4` writes/);
  assert.throws(() => checkOverlay('ha-3', mutate((o) => {
    (container(sts(o)).env as any[]).find((x) => x.name === 'REPLICATION_FACTOR').value = '4';
  }), { ...want, rf: 4 }), /RF ≤ endpoints/);
  assert.throws(() => checkOverlay('ha-3', mutate((o) => { one(o, 'PodDisruptionBudget')['spec'].maxUnavailable = 2; })), /below quorum/);
  assert.throws(() => checkOverlay('ha-3', mutate((o) => { container(sts(o)).args.push('--receive.grpc-compression=snappy'); })), /not supported yet: --receive.grpc-compression/);
  assert.throws(() => checkOverlay('ha-3', mutate((o) => { container(sts(o)).args.push('--receive.shard=2'); })), /unknown flag: --receive.shard/);
  assert.throws(() => checkOverlay('ha-3', mutate((o) => { sts(o).spec.template.spec.terminationGracePeriodSeconds = 60; })), /grace/);
  assert.throws(() => checkOverlay('ha-3', mutate((o) => { container(sts(o)).readinessProbe.httpGet.path = '/ready'; })), /\/-\/ready/);
  assert.throws(() => checkOverlay('ha-3', mutate((o) => {
    const args = container(sts(o)).args as string[];
    args[args.findIndex((a) => a.startsWith('--receive.local-endpoint='))] = '--receive.local-endpoint=$(POD_NAME).sluice.$(POD_NAMESPACE).svc.cluster.local:19291';
  })), /local-endpoint/);
  assert.throws(() => checkOverlay('ha-3', mutate((o) => { one(o, 'ConfigMap', 'sluice-limits')['data']['limits.yaml'] = 'write:\n  defualt: {}\n'; })), /defualt/);
  // A resource field ref without a CPU limit would hand the pod the node's CPUs.
  assert.throws(() => podEnv(mutate((o) => { delete container(sts(o)).resources.limits.cpu; }).find((x) => x.kind === 'StatefulSet')!, 0), /no CPU limit/);
});

test('Dockerfile: ENTRYPOINT runs bin/sluice.js as copied, CMD receive, non-root, EXPOSE = containerPorts', () => {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const stages = lines.reduce<string[][]>((acc, l) => { if (/^FROM\s/i.test(l)) acc.push([]); acc.at(-1)?.push(l); return acc; }, []);
  assert.ok(stages.length >= 2, 'multi-stage');
  for (const s of stages) assert.match(s[0]!, /^FROM node:20-bookworm-slim\b/);
  const last = stages.at(-1)!;
  const instr = (name: string): string[] => last.filter((l) => l.toUpperCase().startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());
  const entry = JSON.parse(instr('ENTRYPOINT').at(-1)!) as string[];
  // node with the flags a receiver is meant to run with (src/util/nodeFlags.ts), then the script.
  assert.deepEqual(entry.slice(0, 1 + NODE_FLAGS.length), ['node', ...NODE_FLAGS]);
  assert.deepEqual(JSON.parse(instr('CMD').at(-1)!), ['receive']);
  // Where did the final stage put bin/? Follow WORKDIR and COPY destinations.
  let workdir = '/';
  const copied = new Map<string, string>(); // destination in the image → source path relative to the build's /app
  for (const l of last) {
    const [op, ...rest] = l.split(/\s+/);
    if (op!.toUpperCase() === 'WORKDIR') workdir = posix.resolve(workdir, rest[0]!);
    if (op!.toUpperCase() === 'COPY') {
      const parts = rest.filter((p) => !p.startsWith('--'));
      const dest = posix.resolve(workdir, parts.at(-1)!);
      for (const src of parts.slice(0, -1)) copied.set(dest, posix.relative('/app', posix.resolve('/app', src)));
    }
  }
  const script = entry[1 + NODE_FLAGS.length]!;
  const hit = [...copied.entries()].find(([dest]) => script.startsWith(`${dest}/`));
  assert.ok(hit !== undefined, `nothing is copied to where ENTRYPOINT runs ${script}`);
  assert.ok(existsSync(join(ROOT, hit[1], script.slice(hit[0].length + 1))), `${script} comes from ${hit[1]}/, which has no such file`);
  assert.ok([...copied.values()].includes('dist/src') && [...copied.values()].includes('src/proto'), 'the compiled sources and remote.proto are in the image');
  const sts = one(render('ha-3'), 'StatefulSet');
  assert.equal(instr('USER').at(-1), `${sts['spec'].template.spec.securityContext.runAsUser}:${sts['spec'].template.spec.securityContext.runAsGroup}`);
  assert.equal(container(sts).args[0], 'receive');
  const exposed = instr('EXPOSE').flatMap((e) => e.split(/\s+/)).map(Number).sort((a, b) => a - b);
  assert.deepEqual(exposed, (container(sts).ports as any[]).map((p) => p.containerPort as number).sort((a, b) => a - b));
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  for (const p of ['node_modules', 'dist', '.git']) assert.ok(ignore.includes(p), `.dockerignore leaves out ${p}`);
});
