/**
 * Blocks cut by a running `sluice receive` process (issue 4), read by the real Prometheus tools:
 *   (3) two tenants write over a block boundary; one admin flush gives one block per tenant per
 *       range in the (FILESYSTEM) bucket, each meta.json's thanos.labels carries the external
 *       label and its own tenant, and promtool finds in each block only its tenant's series, with
 *       exactly the samples of that tenant and range;
 *   (4) Prometheus 2.42 started on a fresh data dir holding one tenant's blocks copied from the
 *       bucket answers query_range for a few selectors exactly as Sluice's own query_range does.
 * Sample timestamps sit 1.234 s past 15 s steps and queries step on whole 30 s, so no sample ever
 * sits on a step or on the edge of a lookback or range window (where engines may differ).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, series, waitReady, write } from '../helpers/node.js';
import { labelKey } from '../helpers/heads.js';
import { ReceiverProcess } from '../helpers/receiverProcess.js';
import { dumpBlock, hasPromtool, readBlockMeta, PROMTOOL } from '../helpers/blockDump.js';
import { hasPrometheus, PROMETHEUS_BIN } from '../helpers/prometheus.js';
import { ULID_RE } from '../../src/blocks/shipperState.js';
import type { BlockMeta } from '../../src/blocks/meta.js';

const H = 3_600_000;
const M = 60_000;
const TENANTS = ['team-a', 'team-b'] as const;
/** B is a 2h block boundary two hours back; samples run from B − 40 min to B + 40 min. */
const B = Math.floor(Date.now() / (2 * H)) * 2 * H - 2 * H;
const T0 = B - 40 * M + 1234;
const STEP = 15_000;
const POINTS = 320;
const LAST = T0 + (POINTS - 1) * STEP;

/** Written: tenant → label key → timestamp → value. */
const written = new Map<string, Map<string, Map<number, number>>>();
/** labelsOf: label key → label object. */
const labelsOf = new Map<string, Record<string, string>>();
const root = mkdtempSync(join(tmpdir(), 'sluice-e2e-cut-'));
let rx: ReceiverProcess | undefined;
/** Blocks of the flush: ULID → meta.json as the bucket holds it. */
const blocks = new Map<string, BlockMeta>();
const bucketDir = join(root, 'data', 'bucket');

/** seriesOf builds tenant `ti`'s series: shared names (gauges, a counter with a reset) and one of its own. */
function seriesOf(ti: number): { labels: Record<string, string>; value: (k: number) => number }[] {
  const out: { labels: Record<string, string>; value: (k: number) => number }[] = [];
  for (let i = 0; i < 3; i++) {
    out.push({ labels: { __name__: 'e2e_gauge', job: 'cut', i: String(i) }, value: (k) => ti * 1000 + i * 10 + ((k * 7 + i) % 13) / 4 });
  }
  for (let i = 0; i < 2; i++) {
    // A counter that grows by 1…5 per sample and resets once, in the second block.
    out.push({ labels: { __name__: 'e2e_counter', job: 'cut', i: String(i) }, value: (k) => (k < 250 ? 0 : -250 * 3) + k * 3 + ((k + i + ti) % 5) });
  }
  out.push({ labels: { __name__: 'e2e_only', job: 'cut', owner: TENANTS[ti]! }, value: (k) => k / 2 });
  return out;
}

before(async () => {
  rx = await ReceiverProcess.start(join(root, 'data'), ['--label=cluster="e2e"']);
  for (let ti = 0; ti < TENANTS.length; ti++) {
    const tenant = TENANTS[ti]!;
    const book = new Map<string, Map<number, number>>();
    written.set(tenant, book);
    const defs = seriesOf(ti);
    for (const d of defs) {
      const key = labelKey(Object.entries(d.labels).sort(([a], [b]) => (a < b ? -1 : 1)));
      labelsOf.set(key, d.labels);
      book.set(key, new Map());
    }
    // Four requests per tenant, in time order.
    for (let part = 0; part < 4; part++) {
      const ks = Array.from({ length: POINTS / 4 }, (_, j) => part * (POINTS / 4) + j);
      const ts = defs.map((d) => {
        const samples = ks.map((k): [number, number] => [T0 + k * STEP, d.value(k)]);
        const m = book.get(labelKey(Object.entries(d.labels).sort(([a], [b]) => (a < b ? -1 : 1))))!;
        for (const [t, v] of samples) m.set(t, v);
        return series(d.labels, samples);
      });
      const r = await write(rx.writeUrl, ts, tenant);
      assert.equal(r.status, 200, r.text);
    }
  }
  const f = await rx.flush();
  assert.equal(f.status, 200, JSON.stringify(f.body));
  for (const u of f.body.data!.ulids) blocks.set(u, readBlockMeta(join(bucketDir, u)));
});

after(async () => {
  await rx?.stop();
  rmSync(root, { recursive: true, force: true });
});

test('a flush cuts one block per tenant and range, labelled with its tenant, holding only its series', { skip: hasPromtool() ? false : `${PROMTOOL} not installed` }, async () => {
  assert.equal(blocks.size, 4, `blocks of the flush: ${[...blocks.keys()].join(',')}`);
  assert.deepEqual(readdirSync(bucketDir).filter((n) => ULID_RE.test(n)).sort(), [...blocks.keys()].sort(), 'the bucket holds the flushed blocks');
  const ranges = new Set<string>();
  for (const tenant of TENANTS) {
    const mine = [...blocks].filter(([, m]) => m.thanos?.labels['tenant_id'] === tenant).sort(([, a], [, b]) => a.minTime - b.minTime);
    assert.deepEqual(mine.map(([, m]) => [m.minTime, m.maxTime]), [[T0, B], [B, LAST + 1]], `${tenant}: one block per range`);
    const got = new Map<string, Map<number, number>>();
    for (const [ulid, meta] of mine) {
      ranges.add(`${meta.minTime}-${meta.maxTime}`);
      assert.deepEqual(meta.thanos?.labels, { cluster: 'e2e', tenant_id: tenant }, `${ulid}: thanos.labels`);
      assert.equal(meta.thanos?.source, 'receive');
      assert.equal(meta.thanos?.downsample.resolution, 0);
      const lines = await dumpBlock(join(bucketDir, ulid));
      assert.equal(lines.length, meta.stats.numSamples, `${ulid}: samples dumped = numSamples`);
      for (const d of lines) {
        assert.ok(d.t >= meta.minTime && d.t < meta.maxTime, `${ulid}: sample at ${d.t} outside its range`);
        const key = labelKey(d.labels);
        let m = got.get(key);
        if (m === undefined) got.set(key, m = new Map());
        assert.ok(!m.has(d.t), `${ulid}: ${key}@${d.t} twice`);
        m.set(d.t, d.value);
      }
    }
    // Exactly this tenant's series and values (the other tenant's shared-name series hold other values).
    assert.deepEqual(got, written.get(tenant), `${tenant}: its blocks hold exactly what it wrote`);
  }
  assert.equal(ranges.size, 2, 'both tenants cut on the same ranges');
});

/** RangeResult is the part of a query_range answer compared here. */
interface RangeResult { metric: Record<string, string>; values: [number, string][] }

/** queryRange runs a query_range and returns its series by label key (without `drop` labels). */
async function queryRange(base: string, q: string, headers: Record<string, string>, drop: string[]): Promise<Map<string, [number, string][]>> {
  const params = new URLSearchParams({ query: q, start: String((B - 35 * M) / 1000), end: String((B + 35 * M) / 1000), step: '30' });
  const r = await fetch(`${base}/api/v1/query_range?${params}`, { headers });
  const body = await r.json() as { status: string; data: { resultType: string; result: RangeResult[] } };
  assert.equal(r.status, 200, `${base} ${q}: ${JSON.stringify(body)}`);
  assert.equal(body.data.resultType, 'matrix');
  const out = new Map<string, [number, string][]>();
  for (const s of body.data.result) {
    const key = labelKey(Object.entries(s.metric).filter(([n]) => !drop.includes(n)).sort(([a], [b]) => (a < b ? -1 : 1)));
    assert.ok(!out.has(key), `${q}: ${key} twice`);
    out.set(key, s.values);
  }
  return out;
}

/** waitExit resolves once `c` has exited, or with false after `ms`. */
function waitExit(c: ChildProcess, ms: number): Promise<boolean> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    c.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

test('Prometheus 2.42 opens the blocks a running receiver cut and answers query_range as Sluice does', { skip: hasPrometheus() ? false : `${PROMETHEUS_BIN} not installed`, timeout: 60_000 }, async (t) => {
  const tenant = 'team-a';
  const mine = [...blocks].filter(([, m]) => m.thanos?.labels['tenant_id'] === tenant).map(([u]) => u);
  assert.equal(mine.length, 2);
  const promDir = join(root, 'prom');
  mkdirSync(join(promDir, 'data'), { recursive: true });
  for (const u of mine) cpSync(join(bucketDir, u), join(promDir, 'data', u), { recursive: true });
  writeFileSync(join(promDir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
  const port = await freePort();
  const child = spawn(PROMETHEUS_BIN, [
    `--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`,
    '--storage.tsdb.retention.time=10y', `--web.listen-address=127.0.0.1:${port}`, '--query.lookback-delta=5m',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (b: Buffer) => { log += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
  const prom = `http://127.0.0.1:${port}`;
  try {
    try {
      await waitReady(`${prom}/-/ready`, child, 30_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${log}`);
    }
    for (const u of mine) assert.match(log, new RegExp(`ulid=${u}`), `Prometheus loaded block ${u}`);

    const queries = [
      'e2e_gauge',
      'e2e_counter{i="1"}',
      'e2e_only',
      'rate(e2e_counter[2m])',
      'sum by (job) (e2e_gauge)',
      'max_over_time(e2e_gauge{i="2"}[3m])',
    ];
    let points = 0;
    for (const q of queries) {
      const want = await queryRange(prom, q, {}, []);
      const got = await queryRange(rx!.httpUrl, q, { 'thanos-tenant': tenant }, ['tenant_id', 'cluster']);
      assert.ok(want.size > 0, `${q}: Prometheus returned series`);
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `${q}: same series`);
      for (const [key, values] of want) {
        const mineValues = got.get(key)!;
        assert.equal(mineValues.length, values.length, `${q} ${key}: points`);
        for (let i = 0; i < values.length; i++) {
          assert.equal(mineValues[i]![0], values[i]![0], `${q} ${key}: step ${i} time`);
          assert.equal(Number(mineValues[i]![1]), Number(values[i]![1]), `${q} ${key} at ${values[i]![0]}`);
        }
        points += values.length;
      }
    }
    // The range crosses the block boundary: points come from both blocks.
    assert.ok(points > queries.length * 100, `points compared: ${points}`);
    t.diagnostic(`${points} points of ${queries.length} queries equal in Prometheus and Sluice`);
  } finally {
    child.kill('SIGTERM');
    if (!await waitExit(child, 5_000)) {
      child.kill('SIGKILL');
      await waitExit(child, 5_000);
    }
  }
  assert.doesNotMatch(log, /level=error/, 'Prometheus logged no error');
});
