/**
 * Split evaluation of series-local range queries (src/query/split.ts, seriesLocal.ts): which
 * queries may be split, that a partition keeps every series and its chunks and keeps together the
 * series that differ only in `__` labels, that merged parts come in label order, and, end to end,
 * that a node with two query threads answers split queries exactly as the in-process engine
 * does, counts them, and answers a query over --query.max-samples with Prometheus' error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExpr } from '../../src/query/promql/parse.js';
import { isSeriesLocal } from '../../src/query/promql/seriesLocal.js';
import { SeriesSetBuilder, seriesCount, seriesLabels, type RawSeriesSet } from '../../src/query/seriesSet.js';
import { mergeParts, partAnswer, partBudget, partitionGathered, partitionSet, splitWays } from '../../src/query/split.js';
import { encodeLabelBlob } from '../../src/model/labels.js';
import type { Gathered } from '../../src/query/headSelect.js';
import { Engine } from '../../src/query/promql/engine.js';
import { TenantQuerier } from '../../src/query/querier.js';
import type { Labels } from '../../src/model/labels.js';
import { startNode, write, series, getJson, type TestNode } from '../helpers/node.js';

test('series-local queries are recognised; anything that mixes series is not', () => {
  const yes = [
    'rate(x[5m])', 'abs(rate(x{a="b"}[5m])) * 8', 'max_over_time(rate(x[5m])[30m:1m])', 'clamp(x, 0, 1)',
    'x > 0', '-x', 'round(x, 0.5)', 'quantile_over_time(0.9, x[5m])', '2 * x', 'x + time()', '(x) / 2 > bool 1',
    'timestamp(x)', 'hour(x)', 'x offset 5m', 'rate(x[5m] @ 100)',
  ];
  const no = [
    'sum(x)', 'sum by (a) (rate(x[5m]))', 'x + y', 'x * x', 'label_replace(x, "a", "b", "c", ".*")', 'sort(x)',
    'histogram_quantile(0.9, x)', 'absent(x)', 'x + scalar(y)', 'vector(1)', '1', 'rate(x[5m]) * on() vector(2)',
    'x[5m]', 'x and y', 'count_values("v", x)', 'label_join(x, "a", ",", "b")', 'topk(2, x)',
  ];
  for (const q of yes) assert.equal(isSeriesLocal(parseExpr(q)), true, q);
  for (const q of no) assert.equal(isSeriesLocal(parseExpr(q)), false, q);
});

/** setOf builds a raw set of the given series, each with `chunks` chunks of distinct bytes. */
function setOf(all: Labels[], chunks: number): RawSeriesSet {
  const b = new SeriesSetBuilder();
  all.forEach((ls, i) => {
    const e = b.add(ls);
    for (let c = 0; c < chunks; c++) b.chunk(e, Uint8Array.from({ length: 10 + c }, (_, k) => (i * 31 + c * 7 + k) & 255), 0, 10 + c, c * 1000, c * 1000 + 999);
  });
  return b.build();
}

/** gathered is a selection of `rest` alone (no head refs). */
function gathered(rest: RawSeriesSet): Gathered {
  return { heads: [], rest, external: [], drop: [] };
}

function chunksOf(s: RawSeriesSet, i: number): string[] {
  const out: string[] = [];
  for (let c = s.seriesChunks[i]!; c < s.seriesChunks[i + 1]!; c++) {
    out.push(`${s.chunkMinT?.[c]}-${s.chunkMaxT?.[c]}:${Buffer.from(s.bytes.subarray(s.chunkOffs[c]!, s.chunkOffs[c + 1]!)).toString('hex')}`);
  }
  return out;
}

test('partitionSet keeps every series with its chunks, and keeps series equal but for __ labels together', () => {
  const all: Labels[] = [];
  for (let i = 0; i < 200; i++) {
    all.push([['__name__', 'a'], ['i', String(i)]]);
    if (i % 10 === 0) all.push([['__name__', 'b'], ['i', String(i)]]);
  }
  const set = setOf(all, 3);
  const parts = partitionSet(set, 3);
  assert.equal(parts.length, 3);
  const whole = new Map<string, string[]>();
  for (let i = 0; i < seriesCount(set); i++) whole.set(JSON.stringify(seriesLabels(set, i)), chunksOf(set, i));
  const partOfI = new Map<string, number>();
  let total = 0;
  parts.forEach((p, w) => {
    assert.ok(seriesCount(p) > 20, `part ${w} has ${seriesCount(p)} series`);
    for (let i = 0; i < seriesCount(p); i++) {
      const ls = seriesLabels(p, i);
      const key = JSON.stringify(ls);
      assert.deepEqual(chunksOf(p, i), whole.get(key), key);
      total++;
      const id = ls.find(([n]) => n === 'i')![1];
      const seen = partOfI.get(id);
      assert.ok(seen === undefined || seen === w, `series i=${id} split over parts ${seen} and ${w}`);
      partOfI.set(id, w);
    }
  });
  assert.equal(total, seriesCount(set));
  // Ways: bounded by threads, series and bytes.
  assert.equal(splitWays(gathered(set), 1), 1);
  assert.equal(splitWays(gathered(setOf(all.slice(0, 40), 3)), 4), 1);
  assert.equal(partBudget(1000, 1, 3), 334);
});

test('partitionGathered puts a head series and the same series from a block in the same part', () => {
  const external: Labels = [['region', 'eu'], ['tenant_id', 't']];
  const drop = ['replica'];
  // Head blobs lack the external labels and still carry the replica label; the blocks' set has
  // them set and dropped (as TenantSource builds it).
  const heads: Labels[] = [];
  const blocks: Labels[] = [];
  for (let i = 0; i < 300; i++) {
    heads.push([['__name__', 'x'], ['i', String(i)], ['replica', `r${i % 2}`]]);
    if (i % 3 === 0) blocks.push([['__name__', 'x'], ['i', String(i)]]);
  }
  const rb = new SeriesSetBuilder({ external, drop });
  blocks.forEach((ls, k) => b2(rb, ls, k));
  const blobs = heads.map((ls) => encodeLabelBlob(ls));
  const g: Gathered = { heads: [{ shard: 0, generation: 1, refs: Int32Array.from(heads.keys()) }], rest: rb.build(), external, drop };
  const parts = partitionGathered(g, 3, (_shard, ref, f) => f(blobs[ref]!, 0, blobs[ref]!.length));
  assert.equal(parts.length, 3);
  const partOfHead = new Map<string, number>();
  let headTotal = 0;
  parts.forEach((p, w) => {
    for (const h of p.heads) for (const ref of h.refs) { partOfHead.set(String(ref), w); headTotal++; }
  });
  assert.equal(headTotal, heads.length);
  let restTotal = 0;
  parts.forEach((p, w) => {
    assert.ok(p.heads[0]!.refs.length > 50, `part ${w} has ${p.heads[0]!.refs.length} head series`);
    for (let k = 0; k < seriesCount(p.rest); k++) {
      const i = seriesLabels(p.rest, k).find(([n]) => n === 'i')![1];
      assert.equal(partOfHead.get(i), w, `series i=${i}: head in part ${partOfHead.get(i)}, block in part ${w}`);
      restTotal++;
    }
  });
  assert.equal(restTotal, blocks.length);
  assert.equal(splitWays(g, 4), 4);
  assert.equal(splitWays({ ...g, heads: [{ shard: 0, generation: 1, refs: new Int32Array(40) }], rest: new SeriesSetBuilder().build() }, 4), 1);
});

function b2(b: SeriesSetBuilder, ls: Labels, k: number): void {
  const e = b.add(ls);
  b.chunk(e, Uint8Array.of(k & 255, 1, 2), 0, 3, 0, 999);
}

test('mergeParts interleaves the parts in label order and keeps each annotation once', () => {
  const l = (v: string): Labels => [['i', v]];
  const body = mergeParts([
    partAnswer([l('a'), l('c'), l('d')], ['"a"', '"c"', '"d€"'], ['w1'], []),
    partAnswer([l('b'), l('e')], ['"b"', '"e"'], ['w1', 'w2ü'], ['i1']),
  ]);
  assert.deepEqual(JSON.parse(Buffer.from(body).toString('utf8')), {
    status: 'success', data: { resultType: 'matrix', result: ['a', 'b', 'c', 'd€', 'e'] }, warnings: ['w1', 'w2ü'], infos: ['i1'],
  });
  const empty = mergeParts([partAnswer([], [], [], []), partAnswer([], [], [], [])]);
  assert.deepEqual(JSON.parse(Buffer.from(empty).toString('utf8')), { status: 'success', data: { resultType: 'matrix', result: [] } });
});

const T0 = 1_700_000_000_000;
const STEP = 15_000;
const SERIES = 96;
const SAMPLES = 480;

async function load(n: TestNode): Promise<void> {
  // Gauges with noisy values: ~10 bytes a sample, so the selection is well over the split minimum.
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let k0 = 0; k0 < SAMPLES; k0 += 120) {
    // `sr` repeats the labels of 8 `sq` series: without the metric name they are equal.
    const r = await write(n.writeUrl, Array.from({ length: SERIES + 8 }, (_, i) => series(
      { __name__: i < SERIES ? 'sq' : 'sr', job: `j${i % 4}`, s: String(i % SERIES) },
      Array.from({ length: 120 }, (_, k): [number, number] => [T0 + 3 + (k0 + k) * STEP, (k0 + k) * (i + 1) + rnd()]),
    )));
    assert.equal(r.status, 200, r.text);
  }
}

async function splits(n: TestNode): Promise<Record<string, number>> {
  const text = await (await fetch(`${n.httpUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^sluice_query_splits_total\{outcome="(\w+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

test('a node with two query threads answers split range queries as the in-process engine does', async () => {
  const n = await startNode(['--receive.shards=2', '--receive.gateways=1', '--query.workers=2', '--query.split-threads=2']);
  try {
    await load(n);
    const engine = new Engine();
    const querier = new TenantQuerier({ pool: n.node.pool, tenantLabelName: 'tenant_id', externalLabels: [] }, 'default-tenant');
    const start = T0 + 10 * 60_000 + 1;
    const end = T0 + (SAMPLES - 1) * STEP;
    const queries = ['rate(sq[5m])', 'abs(sq{job!="j3"}) * 2', 'sq > 100', 'max_over_time(deriv(sq[10m])[30m:1m])'];
    for (const q of queries) {
      const want = await engine.rangeQuery(querier, q, start, end, 15_000);
      const r = await getJson(`${n.httpUrl}/api/v1/query_range?query=${encodeURIComponent(q)}&start=${start / 1000}&end=${end / 1000}&step=15`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const data = r.body.data as { resultType: string; result: unknown[] };
      assert.equal(data.resultType, 'matrix', q);
      assert.ok(data.result.length > 40, `${q}: ${data.result.length} series`);
      assert.deepEqual(data.result, want.result, q);
    }
    assert.equal((await splits(n)).merged, queries.length, 'every query was split');
    // Series equal but for the metric name are in the same part: the error an unsplit query gives.
    const dup = 'rate({__name__=~"sq|sr"}[5m])';
    await assert.rejects(engine.rangeQuery(querier, dup, start, end, 15_000), /vector cannot contain metrics with the same labelset/);
    const d = await getJson(`${n.httpUrl}/api/v1/query_range?query=${encodeURIComponent(dup)}&start=${start / 1000}&end=${end / 1000}&step=15`);
    assert.equal(d.status, 422, JSON.stringify(d.body));
    assert.match(d.body.error!, /vector cannot contain metrics with the same labelset/);
    assert.equal((await splits(n)).merged, queries.length, 'a failed split query is not counted as merged');
    // Not series-local: one thread, no split.
    const agg = await getJson(`${n.httpUrl}/api/v1/query_range?query=${encodeURIComponent('sum by (job) (rate(sq[5m]))')}&start=${start / 1000}&end=${end / 1000}&step=15`);
    assert.equal(agg.status, 200);
    assert.equal((await splits(n)).merged, queries.length);
  } finally {
    await n.stop();
  }
});

test('a split query over --query.max-samples is evaluated again whole and fails as Prometheus does', async () => {
  const n = await startNode(['--receive.shards=1', '--receive.gateways=1', '--query.workers=2', '--query.split-threads=2', '--query.max-samples=5000']);
  try {
    await load(n);
    const start = T0 + 10 * 60_000 + 1;
    const end = T0 + (SAMPLES - 1) * STEP;
    const r = await getJson(`${n.httpUrl}/api/v1/query_range?query=${encodeURIComponent('rate(sq[5m])')}&start=${start / 1000}&end=${end / 1000}&step=15`);
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.body.errorType, 'execution');
    assert.equal(r.body.error, 'query processing would load too many samples into memory in query execution');
    assert.equal((await splits(n)).rerun, 1);
  } finally {
    await n.stop();
  }
});

test('--query.split-threads=1 evaluates a splittable query in one thread', async () => {
  const n = await startNode(['--receive.shards=1', '--receive.gateways=1', '--query.workers=2', '--query.split-threads=1']);
  try {
    await load(n);
    const start = T0 + 10 * 60_000 + 1;
    const end = T0 + (SAMPLES - 1) * STEP;
    const r = await getJson(`${n.httpUrl}/api/v1/query_range?query=${encodeURIComponent('rate(sq[5m])')}&start=${start / 1000}&end=${end / 1000}&step=15`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok((r.body.data as { result: unknown[] }).result.length > 40);
    const s = await splits(n);
    assert.equal((s.merged ?? 0) + (s.rerun ?? 0), 0, JSON.stringify(s));
  } finally {
    await n.stop();
  }
});
