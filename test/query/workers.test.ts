/**
 * PromQL evaluation in worker threads (--query.workers): answers equal the same engine run in
 * process over the same storage, errors keep Prometheus' statuses, and while a heavy query is
 * being evaluated the main thread still answers probes (with --query.workers=0 it cannot: the
 * probe's answer would come after the query's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { startNode, write, series, getJson, type TestNode } from '../helpers/node.js';
import { Engine } from '../../src/query/promql/engine.js';
import { TenantQuerier } from '../../src/query/querier.js';
import { ShardCtl, ShardState } from '../../src/sharedmem/layout.js';

const T0 = 1_700_000_000_000;
const STEP = 15_000;
const SAMPLES = 240;
const SERIES = 60;

async function load(n: TestNode): Promise<void> {
  for (let k0 = 0; k0 < SAMPLES; k0 += 60) {
    const ts = Array.from({ length: 60 }, (_, k) => T0 + 7 + (k0 + k) * STEP);
    const r = await write(n.writeUrl, Array.from({ length: SERIES }, (_, s) => series(
      { __name__: 'wq', job: `j${s % 3}`, s: String(s) },
      ts.map((t, k) => [t, (s + 1) * (k0 + k) + ((k0 + k) % 7 === 0 ? 0.5 : 0)]),
    )));
    assert.equal(r.status, 200, r.text);
  }
}

const byLabels = (v: unknown[]): unknown[] => [...v].sort((a, b) => {
  const ka = JSON.stringify((a as { metric: unknown }).metric);
  const kb = JSON.stringify((b as { metric: unknown }).metric);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
});

const QUERIES = [
  'sum by (job) (rate(wq[5m]))',
  'topk(3, wq)',
  'wq{job="j1"} / ignoring(s) group_left sum by (job) (wq)',
  'histogram_quantile(0.9, sum by (le) (wq))',
  'max_over_time(deriv(wq[10m])[30m:1m])',
];

test('queries evaluated in worker threads equal the in-process engine; errors keep their status', async () => {
  const n = await startNode(['--receive.shards=2', '--receive.gateways=1', '--query.workers=2']);
  try {
    await load(n);
    const engine = new Engine();
    const querier = new TenantQuerier({ pool: n.node.pool, tenantLabelName: 'tenant_id', externalLabels: [] }, 'default-tenant');
    const start = T0 + 30 * 60_000 + 1;
    const end = T0 + 55 * 60_000;
    for (const q of QUERIES) {
      const want = await engine.rangeQuery(querier, q, start, end, 60_000);
      const r = await getJson(`${n.httpUrl}/api/v1/query_range?query=${encodeURIComponent(q)}&start=${start / 1000}&end=${end / 1000}&step=60`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const data = r.body.data as { resultType: string; result: unknown };
      assert.equal(data.resultType, want.resultType, q);
      assert.deepEqual(data.result, want.result, q);
      const wi = await engine.instantQuery(querier, q, end);
      const ri = await getJson(`${n.httpUrl}/api/v1/query?query=${encodeURIComponent(q)}&time=${end / 1000}`);
      // Instant vectors come in no defined order (as in Prometheus): compared by labels.
      assert.deepEqual(byLabels((ri.body.data as { result: unknown[] }).result), byLabels(wi.result as unknown[]), q);
    }
    // An evaluation error in a worker: 422 execution, in Prometheus' words.
    const e = await getJson(`${n.httpUrl}/api/v1/query?query=${encodeURIComponent('wq + on(job) wq')}&time=${end / 1000}`);
    assert.equal(e.status, 422);
    assert.equal(e.body.errorType, 'execution');
    assert.match(e.body.error!, /many-to-many matching not allowed/);
    // A parse error never reaches a worker: 400 bad_data.
    const p = await getJson(`${n.httpUrl}/api/v1/query?query=${encodeURIComponent('sum(wq')}`);
    assert.equal(p.status, 400);
    assert.equal(p.body.errorType, 'bad_data');
    // The worker survives errors: the next query is answered.
    const ok = await getJson(`${n.httpUrl}/api/v1/query?query=count(wq)&time=${end / 1000}`);
    assert.deepEqual((ok.body.data as { result: { value: [number, string] }[] }).result[0]!.value, [end / 1000, String(SERIES)]);
  } finally {
    await n.stop();
  }
});

test('query threads read the heads themselves, and read them again after a shard thread is replaced', async () => {
  const n = await startNode(['--receive.shards=2', '--receive.gateways=1', '--query.workers=1'], { shardRestartMinMs: 200 });
  try {
    await load(n);
    const end = T0 + SAMPLES * STEP;
    const q = `/api/v1/query_range?query=${encodeURIComponent('sum by (job) (rate(wq[5m]))')}&start=${(T0 + 600_000) / 1000}&end=${end / 1000}&step=60`;
    const before = await getJson(`${n.httpUrl}${q}`);
    assert.equal(before.status, 200, JSON.stringify(before.body));
    assert.equal((before.body.data as { result: unknown[] }).result.length, 3);
    // The query thread opened its own feed of each shard's segment news.
    const shard = n.node.pool.shards[1]!;
    const gen = shard.generation;
    await shard.worker.terminate();
    const deadline = Date.now() + 20_000;
    while ((shard.generation === gen || Atomics.load(shard.ctl, ShardCtl.STATE) !== ShardState.RUNNING) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(shard.generation, gen + 1, 'a new shard thread runs');
    // Its replay is done when it answers queries: the same answer, read through a new feed.
    let after = await getJson(`${n.httpUrl}${q}`);
    for (let i = 0; i < 50 && after.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await getJson(`${n.httpUrl}${q}`);
    }
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.deepEqual(after.body.data, before.body.data);
  } finally {
    await n.stop();
  }
});

/** race sends a heavy query, then a probe once the query is under way; says which answered first. */
async function race(n: TestNode): Promise<string[]> {
  const order: string[] = [];
  const end = T0 + SAMPLES * STEP;
  // Thousands of subquery steps over every series: seconds of evaluation, little data.
  const heavy = `max_over_time(sum by (s) (rate(wq[5m]))[${SAMPLES * STEP / 1000}s:100ms])`;
  const q = getJson(`${n.httpUrl}/api/v1/query?query=${encodeURIComponent(heavy)}&time=${end / 1000}`).then((r) => {
    assert.equal(r.status, 200, JSON.stringify(r.body));
    order.push('query');
  });
  await new Promise((r) => setTimeout(r, 300));
  const probe = fetch(`${n.httpUrl}/-/ready`).then((r) => { assert.equal(r.status, 200); order.push('probe'); });
  await Promise.all([q, probe]);
  return order;
}

test('a heavy query in a worker leaves the main thread free: the probe sent after it answers first', async () => {
  const n = await startNode(['--receive.shards=1', '--receive.gateways=1', '--query.workers=1']);
  try {
    await load(n);
    assert.deepEqual(await race(n), ['probe', 'query']);
  } finally {
    await n.stop();
  }
  // The control: evaluated on the main thread, the probe waits for the query.
  const m = await startNode(['--receive.shards=1', '--receive.gateways=1', '--query.workers=0']);
  try {
    await load(m);
    assert.deepEqual(await race(m), ['query', 'probe']);
  } finally {
    await m.stop();
  }
});

/** queryThreads returns [policy, nice] of every thread named sluice-query in this process. */
function queryThreads(): [number, number][] {
  const out: [number, number][] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    let comm = '';
    try { comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(); } catch { continue; }
    if (comm !== 'sluice-query') continue;
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command: state is field 3; nice is field 19 and policy field 41 (proc(5)).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push([Number(f[38]), Number(f[16])]);
  }
  return out;
}

const SCHED_OTHER = 0;
const SCHED_IDLE = 5;

test('query threads run at SCHED_IDLE by default, at nice 10 with --query.cpu-priority=low', { skip: process.platform !== 'linux' && 'Linux only' }, async () => {
  for (const [flag, want] of [[[], [SCHED_IDLE, 0]], [['--query.cpu-priority=low'], [SCHED_OTHER, 10]]] as const) {
    const n = await startNode(['--receive.shards=1', '--receive.gateways=1', '--query.workers=1', ...flag]);
    try {
      await load(n);
      const r = await getJson(`${n.httpUrl}/api/v1/query?query=${encodeURIComponent('sum(wq)')}&time=${(T0 + 3_600_000) / 1000}`);
      assert.equal(r.status, 200);
      const threads = queryThreads();
      assert.equal(threads.length, 1, 'one query thread, named');
      assert.deepEqual(threads[0], want, `${flag.join(' ') || 'default'}: [policy, nice]`);
    } finally {
      await n.stop();
    }
  }
});

/** durationOf reads the count and sum of sluice_query_duration_seconds for one handler and code. */
async function durationOf(n: TestNode, handler: string, code: number): Promise<{ count: number; sum: number }> {
  const text = await (await fetch(`${n.httpUrl}/metrics`)).text();
  const read = (kind: string): number => {
    const m = new RegExp(`^sluice_query_duration_seconds_${kind}\\{([^}]*)\\} (\\S+)$`, 'm');
    for (const line of text.split('\n')) {
      const g = m.exec(line);
      if (g && g[1]!.includes(`handler="${handler}"`) && g[1]!.includes(`code="${code}"`)) return Number(g[2]);
    }
    return 0;
  };
  return { count: read('count'), sum: read('sum') };
}

test('a query whose client goes away stops: its thread is free at once and it counts as 499 canceled', async () => {
  const n = await startNode(['--receive.shards=1', '--receive.gateways=1', '--query.workers=1', '--query.timeout=10m']);
  try {
    await load(n);
    // Billions of additions over one series and no storage: minutes of evaluation unless stopped.
    const heavy = 'sum_over_time((sum_over_time(vector(1)[2d:1s]))[2d:1s])';
    const ac = new AbortController();
    const gone = fetch(`${n.httpUrl}/api/v1/query?query=${encodeURIComponent(heavy)}&time=${T0 / 1000}`, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 500));
    ac.abort();
    await assert.rejects(gone, { name: 'AbortError' });
    // One thread: the next query waits for it, and is answered only once the heavy one stopped.
    const began = performance.now();
    const ok = await getJson(`${n.httpUrl}/api/v1/query?query=count(wq)&time=${(T0 + SAMPLES * STEP) / 1000}`);
    const waited = performance.now() - began;
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual((ok.body.data as { result: { value: [number, string] }[] }).result[0]!.value[1], String(SERIES));
    const canceled = await durationOf(n, 'query', 499);
    assert.equal(canceled.count, 1, 'the heavy query ended canceled (499)');
    assert.ok(canceled.sum < 15, `it stopped soon after its client left, not at its end (${canceled.sum.toFixed(1)} s)`);
    assert.ok(waited < 15_000, `the next query waited ${waited.toFixed(0)} ms`);
  } finally {
    await n.stop();
  }
});
