/**
 * Tests of what deploy/ observes Sluice with: a receiver started from the single overlay's own
 * command line and files answers the StatefulSet's probe paths, and its /metrics is the list of
 * metric names the alert rules (PrometheusRule, checked by promtool) and the Grafana dashboard
 * (deploy/grafana/dashboard.json, every expression parsed by Sluice's PromQL parser) may read.
 * Also the Grafana provisioning files. Starts one receiver on loopback and stops it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseExpr } from '../../src/query/promql/parse.js';
import { inspect } from '../../src/query/promql/ast.js';
import { parseReceiveFlags, toConfig } from '../../src/receive/flags.js';
import { ReceiveNode } from '../../src/receive/node.js';
import { Logger } from '../../src/util/log.js';
import { DEPLOY, ROOT, container, localizeArgs, one, parseYamlDocs, podArgs, render } from './helpers.js';

/** Metrics that come from elsewhere: Prometheus itself, the kubelet, kube-state-metrics. */
const EXTERNAL = new Set(['up', 'kubelet_volume_stats_available_bytes', 'kubelet_volume_stats_capacity_bytes', 'kube_statefulset_replicas']);

/** Grafana's variables, replaced by sample values so the expressions parse as PromQL. */
const GRAFANA_VARS: [RegExp, string][] = [
  [/\$__rate_interval|\$__interval|\$__range/g, '5m'],
  [/\$\{?job\}?/g, 'sluice'], [/\$\{?namespace\}?/g, 'monitoring'], [/\$\{?pod\}?/g, '.*'],
];

let exposed: Set<string> | undefined;

/**
 * exposedMetrics starts a receiver with pod sluice-0's arguments from the single overlay (files
 * from its ConfigMaps and Secret, listeners moved to loopback port 0), checks that the probe paths
 * answer 200, and returns every sample name its /metrics declares (histograms and summaries with
 * their _bucket/_sum/_count series).
 */
async function exposedMetrics(): Promise<Set<string>> {
  if (exposed !== undefined) return exposed;
  const objs = render('single');
  const sts = one(objs, 'StatefulSet');
  const { args, dir } = localizeArgs(podArgs(sts, 0), sts, objs);
  const loopback = args.slice(1).map((a) => (/^--(remote-write\.address|http-address|grpc-address)=/.test(a) ? a.replace(/=.*/, '=127.0.0.1:0') : a));
  const node = new ReceiveNode(toConfig(parseReceiveFlags(loopback)), new Logger('error'));
  try {
    await node.start();
    const base = `http://127.0.0.1:${node.http!.port}`;
    const c = container(sts);
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      const r = await fetch(`${base}${probe.httpGet.path}`);
      assert.equal(r.status, 200, `probe ${probe.httpGet.path}`);
    }
    const text = await (await fetch(`${base}/metrics`)).text();
    const names = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name, type] = m;
      names.add(name!);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
      if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name! + s);
    }
    exposed = names;
    return names;
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** metricNames parses a PromQL expression and returns the metric names its selectors read. */
function metricNames(expr: string): string[] {
  const out: string[] = [];
  inspect(parseExpr(expr), (n) => {
    if (n.type !== 'VectorSelector') return;
    const name = n.name ?? n.matchers.find((m) => m.name === '__name__')?.value;
    assert.ok(name !== undefined, `${expr}: a selector without a metric name`);
    out.push(name);
  });
  return out;
}

/** checkNames asserts every metric an expression reads is exposed by Sluice or external. */
function checkNames(expr: string, names: Set<string>, where: string): string[] {
  const used = metricNames(expr);
  assert.ok(used.length > 0, `${where}: reads no metric`);
  for (const n of used) assert.ok(names.has(n) || EXTERNAL.has(n), `${where}: metric ${n} is not on a Sluice node's /metrics`);
  return used;
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

test('a receiver started from the single overlay answers its probes and exposes the metrics deploy/ reads', async () => {
  const names = await exposedMetrics();
  for (const n of ['thanos_receive_replications_total', 'thanos_receive_hashring_nodes', 'http_request_duration_seconds_bucket', 'process_cpu_seconds_total']) {
    assert.ok(names.has(n), `${n} missing from /metrics`);
  }
});

test('alert rules pass promtool and read only metrics Sluice exposes', async () => {
  const names = await exposedMetrics();
  const rule = one(render('ha-3'), 'PrometheusRule');
  const groups = rule['spec'].groups as any[];
  const alerts = groups.flatMap((g) => g.rules.map((r: any) => r.alert as string));
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
  const src = sourceText(join(ROOT, 'src'));
  for (const g of groups) {
    for (const r of g.rules) {
      for (const n of checkNames(r.expr as string, names, `alert ${r.alert}`)) {
        // Sluice's own families are defined by name somewhere under src/.
        if (/^(thanos|sluice|prometheus)_/.test(n)) assert.ok(src.includes(`'${n}'`), `${r.alert}: ${n} is not defined in src/`);
      }
      assert.ok(!/thanos_receive_replication_requests_total/.test(r.expr), 'the seed\'s metric that exists nowhere');
      assert.equal(r.labels.component, 'sluice');
    }
  }
});

test('the Grafana dashboard: templated datasource, schemaVersion ≥ 36, every query parses and reads exposed metrics', async () => {
  const names = await exposedMetrics();
  const dash = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'dashboard.json'), 'utf8'));
  assert.ok(dash.schemaVersion >= 36, `schemaVersion ${dash.schemaVersion}`);
  assert.ok(typeof dash.uid === 'string' && dash.uid !== '' && typeof dash.title === 'string');
  const vars = dash.templating.list as any[];
  const ds = vars.find((v) => v.type === 'datasource');
  assert.equal(ds?.name, 'datasource');
  assert.equal(ds.query, 'prometheus');
  const sub = (q: string): string => GRAFANA_VARS.reduce((s, [re, v]) => s.replace(re, v), q);
  for (const v of vars.filter((x) => x.type === 'query')) {
    assert.equal(v.datasource.uid, '${datasource}', `variable ${v.name}`);
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(v.definition as string);
    assert.ok(m !== null, `variable ${v.name}: ${v.definition}`);
    checkNames(sub(m[1]!), names, `variable ${v.name}`);
  }
  const panels = (dash.panels as any[]).filter((p) => p.type !== 'row');
  const ids = (dash.panels as any[]).map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const used = new Set<string>();
  for (const p of panels) {
    assert.equal(p.datasource?.uid, '${datasource}', `panel ${p.title}: datasource`);
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `panel ${p.title}: gridPos`);
    assert.ok(p.targets.length > 0, `panel ${p.title}: no query`);
    const refIds = p.targets.map((t: any) => t.refId);
    assert.equal(new Set(refIds).size, refIds.length, `panel ${p.title}: refIds`);
    for (const t of p.targets) {
      assert.equal(t.datasource.uid, '${datasource}', `panel ${p.title}: target datasource`);
      let read: string[] = [];
      assert.doesNotThrow(() => { read = checkNames(sub(t.expr), names, `panel ${p.title}`); }, `panel ${p.title}: ${t.expr}`);
      for (const n of read) used.add(n);
    }
  }
  // What the dashboard is for: ingest, requests by code, write latency, replication, forwards,
  // head series, the WAL, uploads and their failures.
  for (const n of [
    'prometheus_tsdb_head_samples_appended_total', 'http_requests_total', 'http_request_duration_seconds_bucket',
    'thanos_receive_replications_total', 'thanos_receive_forward_requests_total', 'prometheus_tsdb_head_series',
    'sluice_wal_write_failures_total', 'thanos_shipper_uploads_total', 'thanos_shipper_upload_failures_total',
  ]) assert.ok(used.has(n), `no panel shows ${n}`);
});

test('Grafana provisioning: the datasource targets the client Service, the dashboards provider loads a directory', () => {
  const [ds] = parseYamlDocs(readFileSync(join(DEPLOY, 'grafana', 'datasource.yaml'), 'utf8'), 'datasource.yaml');
  const objs = render('ha-3');
  const client = objs.find((o) => o.kind === 'Service' && o['spec'].clusterIP !== 'None')!;
  const d = ds.datasources[0];
  assert.equal(d.type, 'prometheus');
  const http = (client['spec'].ports as any[]).find((p) => p.name === 'http').port;
  assert.equal(d.url, `http://${client.metadata.name}.${client.metadata.namespace}.svc:${http}`);
  const [prov] = parseYamlDocs(readFileSync(join(DEPLOY, 'grafana', 'dashboards.yaml'), 'utf8'), 'dashboards.yaml');
  assert.equal(prov.apiVersion, 1);
  assert.equal(prov.providers[0].type, 'file');
  assert.match(prov.providers[0].options.path, /^\//);
});
