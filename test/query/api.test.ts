/**
 * The PromQL HTTP API end to end on a real receiver: one range query spans the head, a local
 * block and a block that exists only in the bucket (read by byte ranges), and equals the values
 * written; a tenant sees only its own series; errors come in Prometheus' shape and status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, write, series, getJson } from '../helpers/node.js';

const H = 3_600_000;
const T0 = Math.floor(1_700_000_000_000 / (2 * H)) * 2 * H;
const STEP = 15_000;
const END = T0 + 5 * H + H / 4;
const SERIES = 5;
const value = (s: number, t: number): number => s * 1000 + (t - T0) / STEP;

type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

test('query_range spans head, local block and bucket-only block; tenants are isolated; errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-q-'));
  const n = await startNode([`--tsdb.path=${dir}`, '--receive.shards=2', '--receive.gateways=1']);
  try {
    for (const tenant of ['a', 'b']) {
      for (let t0 = T0; t0 < END; t0 += 200 * STEP) {
        const ts = Array.from({ length: 200 }, (_, k) => t0 + k * STEP).filter((t) => t < END);
        const mul = tenant === 'a' ? 1 : -1;
        const r = await write(n.writeUrl, Array.from({ length: SERIES }, (_, s) => series({ __name__: 'q_test', s: String(s) }, ts.map((t) => [t, mul * value(s, t)]))), tenant);
        assert.equal(r.status, 200, r.text);
      }
    }
    const c1 = await n.node.cutter!.maybeCut();
    await n.node.cutter!.maybeCut();
    await n.node.shipper!.sync();
    // The oldest tenant-a block now lives only in the bucket.
    const aBlock = c1!.blocks.find((b) => b.meta.thanos?.labels['tenant_id'] === 'a')!;
    rmSync(join(dir, 'blocks', aBlock.ulid), { recursive: true });

    const url = (q: string, start: number, end: number, step: string): string =>
      `${n.httpUrl}/api/v1/query_range?query=${encodeURIComponent(q)}&start=${start / 1000}&end=${end / 1000}&step=${step}`;
    const r = await getJson(url('q_test', T0 + 7.5 * STEP, END - STEP, '900'), { 'thanos-tenant': 'a' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const data = r.body.data as { resultType: string; result: Matrix };
    assert.equal(data.resultType, 'matrix');
    assert.equal(data.result.length, SERIES);
    for (const s of data.result) {
      assert.equal(s.metric['tenant_id'], 'a');
      const i = Number(s.metric['s']);
      // Every step has a point: none is missing from the bucket-only block's range [T0, T0+2h).
      const first = T0 + 7.5 * STEP;
      assert.equal(s.values.length, Math.floor((END - STEP - first) / 900_000) + 1);
      assert.ok(s.values.filter(([ts]) => ts * 1000 < T0 + 2 * H).length >= 7);
      for (const [ts, v] of s.values) {
        const last = Math.floor((ts * 1000 - T0) / STEP) * STEP + T0; // the sample a lookback finds
        assert.equal(Number(v), value(i, last), `series ${i} at ${ts}`);
      }
    }
    // The same over POST (form), for tenant b: only b's (negative) values.
    const form = new URLSearchParams({ query: 'sum(q_test)', time: String((T0 + H) / 1000) });
    const rb = await fetch(`${n.httpUrl}/api/v1/query`, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded', 'thanos-tenant': 'b' } });
    const bb = await rb.json() as { data: { resultType: string; result: { value: [number, string] }[] } };
    assert.equal(bb.data.resultType, 'vector');
    let want = 0;
    for (let s = 0; s < SERIES; s++) want -= value(s, T0 + H);
    assert.equal(Number(bb.data.result[0]!.value[1]), want);
    // A tenant never sees another's series.
    const rc = await getJson(`${n.httpUrl}/api/v1/query?query=${encodeURIComponent('count(q_test)')}&time=${(T0 + 4.5 * H) / 1000}`, { 'thanos-tenant': 'c' });
    assert.deepEqual((rc.body.data as { result: unknown[] }).result, []);

    // Errors in Prometheus' shape.
    const bad = await getJson(`${n.httpUrl}/api/v1/query?query=${encodeURIComponent('sum(')}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.status, 'error');
    assert.equal(bad.body.errorType, 'bad_data');
    const zero = await getJson(url('q_test', T0, T0 + H, '0'));
    assert.equal(zero.status, 400);
    assert.match(zero.body.error!, /zero or negative query resolution step/);
    const bi = await getJson(`${n.httpUrl}/api/v1/status/buildinfo`);
    assert.equal(bi.status, 200);
  } finally {
    await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('answered queries are counted in sluice_query_duration_seconds by endpoint and status', async () => {
  const n = await startNode(['--receive.shards=1', '--receive.gateways=1']);
  try {
    assert.equal((await write(n.writeUrl, [series({ __name__: 'm', a: '1' }, [[Date.now(), 1]])])).status, 200);
    assert.equal((await getJson(`${n.httpUrl}/api/v1/query?query=m`)).status, 200);
    assert.equal((await getJson(`${n.httpUrl}/api/v1/query?query=m`)).status, 200);
    assert.equal((await getJson(`${n.httpUrl}/api/v1/query_range?query=(`)).status, 400);
    const text = await (await fetch(`${n.httpUrl}/metrics`)).text();
    assert.match(text, /^sluice_query_duration_seconds_count\{handler="query",code="200"\} 2$/m);
    assert.match(text, /^sluice_query_duration_seconds_count\{handler="query_range",code="400"\} 1$/m);
  } finally {
    await n.stop();
  }
});
