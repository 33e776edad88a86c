/**
 * The metadata endpoints (/api/v1/series, /api/v1/labels, /api/v1/label/<name>/values) and the
 * StoreAPI LabelNames/LabelValues read where PromQL reads, on real receivers on loopback: series
 * cut out of the head into blocks (local, then bucket-only) are still listed; a range outside the
 * block lists nothing; another tenant's block never leaks in; and with a hashring the HTTP API
 * lists the other node's series (replica labels dropped, a peer that is down gives a warning)
 * while the StoreAPI answers only for its own node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, freePort, write, series, getJson, type TestNode } from '../helpers/node.js';
import { StoreClient } from '../../src/query/storeapi/client.js';

const H = 3_600_000;
const T0 = Math.floor(1_700_000_000_000 / (2 * H)) * 2 * H; // on the 2h grid
const STEP = 15_000;

type Json = { status: string; data?: unknown; warnings?: string[]; error?: string };

/** get fetches a read-API URL as `tenant` and expects 200. */
async function get(n: TestNode, path: string, tenant: string): Promise<Json> {
  const r = await getJson(`${n.httpUrl}${path}`, { 'thanos-tenant': tenant });
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
  return r.body as Json;
}

const q = (sel: string): string => `match[]=${encodeURIComponent(sel)}`;
const range = (start: number, end: number): string => `start=${start / 1000}&end=${end / 1000}`;

/** headSeries lists what the shards' heads hold for a tenant (any time). */
async function headSeries(n: TestNode, tenant: string): Promise<number> {
  return (await n.node.pool.series({ tenant, matcherSets: [], mint: -Infinity, maxt: Infinity })).length;
}

/** blockOf finds the local block of a tenant among `ulids`. */
function blockOf(dir: string, ulids: string[], tenant: string): string {
  const u = ulids.find((x) => (JSON.parse(readFileSync(join(dir, 'blocks', x, 'meta.json'), 'utf8')) as { thanos?: { labels?: Record<string, string> } }).thanos?.labels?.['tenant_id'] === tenant);
  assert.ok(u !== undefined, `a block of tenant ${tenant} among ${ulids}`);
  return u;
}

test('series, labels and label values still list series cut into blocks; ranges and tenants are respected', async () => {
  const n = await startNode(['--receive.shards=2', '--receive.gateways=1', '--query.workers=0', '--tsdb.wal.fsync=off', '--label=cluster="eu"']);
  try {
    const samples = Array.from({ length: 40 }, (_, k) => [T0 + k * STEP, k] as [number, number]);
    const last = samples[samples.length - 1]![0];
    let r = await write(n.writeUrl, ['1', '2', '3'].map((inst) => series({ __name__: 'meta_a', job: 'api', inst }, samples)), 'a');
    assert.equal(r.status, 200, r.text);
    r = await write(n.writeUrl, [series({ __name__: 'meta_b', job: 'db', secret: 'b-only' }, samples)], 'b');
    assert.equal(r.status, 200, r.text);
    assert.equal(await headSeries(n, 'a'), 3, 'in the head before the flush');

    const fr = await fetch(`${n.httpUrl}/api/v1/admin/tsdb/flush`, { method: 'POST' });
    const flushed = await fr.json() as { data: { ulids: string[] } };
    assert.equal(fr.status, 200, JSON.stringify(flushed));
    const ulids = flushed.data.ulids;
    assert.equal(ulids.length, 2, 'one block per tenant');
    assert.equal(await headSeries(n, 'a'), 0, 'tenant a left the head');
    assert.equal(await headSeries(n, 'b'), 0, 'tenant b left the head');

    const check = async (where: string): Promise<void> => {
      const s = await get(n, `/api/v1/series?${q('meta_a')}`, 'a');
      assert.deepEqual(s.data, ['1', '2', '3'].map((inst) => ({ __name__: 'meta_a', cluster: 'eu', inst, job: 'api', tenant_id: 'a' })), where);
      // A selector matching every job: tenant b's block does not leak in.
      const all = await get(n, `/api/v1/series?${q('{job=~".+"}')}&${range(T0, last)}`, 'a');
      assert.deepEqual((all.data as Record<string, string>[]).map((x) => x['__name__']), ['meta_a', 'meta_a', 'meta_a'], where);
      assert.deepEqual((await get(n, '/api/v1/labels', 'a')).data, ['__name__', 'cluster', 'inst', 'job', 'tenant_id'], where);
      assert.deepEqual((await get(n, `/api/v1/labels?${q('meta_a')}&${range(T0, last)}`, 'a')).data, ['__name__', 'cluster', 'inst', 'job', 'tenant_id'], where);
      assert.deepEqual((await get(n, '/api/v1/label/__name__/values', 'a')).data, ['meta_a'], where);
      assert.deepEqual((await get(n, `/api/v1/label/inst/values?${q('{job="api",inst!="2"}')}`, 'a')).data, ['1', '3'], where);
      assert.deepEqual((await get(n, '/api/v1/label/secret/values', 'a')).data, [], where);
      assert.deepEqual((await get(n, '/api/v1/label/secret/values', 'b')).data, ['b-only'], where);
      assert.deepEqual((await get(n, '/api/v1/label/tenant_id/values', 'a')).data, ['a'], where);
      assert.deepEqual((await get(n, '/api/v1/label/cluster/values', 'b')).data, ['eu'], where);
      // Matchers on the external labels are decided on the node's labels.
      assert.deepEqual((await get(n, `/api/v1/series?${q('meta_a{cluster="us"}')}`, 'a')).data, [], where);
      // limit: the first series in label order.
      assert.deepEqual((await get(n, `/api/v1/series?${q('meta_a')}&limit=2`, 'a')).data, ['1', '2'].map((inst) => ({ __name__: 'meta_a', cluster: 'eu', inst, job: 'api', tenant_id: 'a' })), where);
      assert.deepEqual((await get(n, '/api/v1/labels?limit=2', 'a')).data, ['__name__', 'cluster'], where);
      // Outside the block's range (before it, and after it): nothing.
      for (const [s, e] of [[T0 - 2 * H, T0 - H], [T0 + 3 * H, T0 + 4 * H]] as const) {
        assert.deepEqual((await get(n, `/api/v1/series?${q('meta_a')}&${range(s, e)}`, 'a')).data, [], `${where} ${s}`);
        assert.deepEqual((await get(n, `/api/v1/labels?${range(s, e)}`, 'a')).data, [], `${where} ${s}`);
        assert.deepEqual((await get(n, `/api/v1/label/inst/values?${range(s, e)}`, 'a')).data, [], `${where} ${s}`);
        assert.deepEqual((await get(n, `/api/v1/label/inst/values?${q('meta_a')}&${range(s, e)}`, 'a')).data, [], `${where} ${s}`);
        assert.deepEqual((await get(n, `/api/v1/label/tenant_id/values?${range(s, e)}`, 'a')).data, [], `${where} ${s}`);
      }
    };
    await check('local blocks');

    // The StoreAPI answers label names and values from the flushed blocks too.
    const c = new StoreClient(`127.0.0.1:${n.node.grpcPort}`);
    try {
      const req = { start: T0, end: last, matchers: [{ type: '=' as const, name: 'tenant_id', value: 'a' }] };
      assert.deepEqual(await c.labelValues('inst', req), ['1', '2', '3']);
      assert.deepEqual(await c.labelValues('inst', { ...req, matchers: [...req.matchers, { type: '!=' as const, name: 'inst', value: '1' }] }), ['2', '3']);
      assert.deepEqual(await c.labelValues('secret', { start: T0, end: last }), ['b-only']);
      assert.deepEqual(await c.labelNames(req), ['__name__', 'cluster', 'inst', 'job', 'tenant_id']);
      assert.deepEqual(await c.labelValues('inst', { ...req, start: T0 + 3 * H, end: T0 + 4 * H }), []);
    } finally {
      c.close();
    }

    // Tenant a's block now lives only in the bucket: read there by byte ranges.
    const aBlock = blockOf(n.dir, ulids, 'a');
    rmSync(join(n.dir, 'blocks', aBlock), { recursive: true });
    n.node['blockSet'].invalidate();
    assert.ok(!readdirSync(join(n.dir, 'blocks')).includes(aBlock));
    await check('bucket-only block');

    // A new head sample of a flushed series: listed once (head and block merged).
    r = await write(n.writeUrl, [series({ __name__: 'meta_a', job: 'api', inst: '1' }, [[last + 2 * H, 1]])], 'a');
    assert.equal(r.status, 200, r.text);
    assert.equal(await headSeries(n, 'a'), 1);
    assert.equal(((await get(n, `/api/v1/series?${q('meta_a')}`, 'a')).data as unknown[]).length, 3);
    assert.deepEqual((await get(n, `/api/v1/series?${q('meta_a')}&${range(last + H, last + 3 * H)}`, 'a')).data, [{ __name__: 'meta_a', cluster: 'eu', inst: '1', job: 'api', tenant_id: 'a' }]);
  } finally {
    await n.stop();
  }
});

test('with a hashring the HTTP API lists the peer\'s series (from its block too); the StoreAPI only its own', async () => {
  const N = 30;
  const TENANT = 'team-m';
  const dir = mkdtempSync(join(tmpdir(), 'sluice-meta-'));
  const addresses = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  const file = join(dir, 'hashrings.json');
  writeFileSync(file, JSON.stringify([{ hashring: 'all', endpoints: addresses }]));
  const nodes: (TestNode | undefined)[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      nodes.push(await startNode([
        `--remote-write.address=${addresses[i]}`, '--receive.shards=1', '--receive.gateways=1', '--tsdb.wal.fsync=off', '--query.workers=0',
        `--receive.hashrings-file=${file}`, '--receive.replication-factor=1', `--receive.local-endpoint=${addresses[i]}`,
        '--receive-forward-timeout=2s', '--query.timeout=5s', `--label=replica="r${i}"`, '--query.replica-label=replica',
      ]));
    }
    const [n0, n1] = nodes as [TestNode, TestNode];
    const r = await write(n0.writeUrl, Array.from({ length: N }, (_, i) => series({ __name__: 'mm', i: String(i) }, [[T0, i], [T0 + STEP, i]])), TENANT);
    assert.equal(r.status, 200, r.text);
    const held = await Promise.all(nodes.map((n) => headSeries(n!, TENANT)));
    assert.equal(held[0]! + held[1]!, N);
    assert.ok(held[0]! > 0 && held[1]! > 0, `spread over both nodes: ${held}`);
    // Node 1's series leave its head for a block.
    const fr = await fetch(`${n1.httpUrl}/api/v1/admin/tsdb/flush`, { method: 'POST' });
    assert.equal(fr.status, 200, await fr.text());
    assert.equal(await headSeries(n1, TENANT), 0);

    const want = Array.from({ length: N }, (_, i) => String(i)).sort();
    for (const n of [n0, n1]) {
      const s = await get(n, `/api/v1/series?${q('mm')}`, TENANT);
      assert.equal(s.warnings, undefined);
      const got = s.data as Record<string, string>[];
      assert.equal(got.length, N, 'each series once');
      assert.deepEqual(got.map((x) => x['i']).sort(), want);
      for (const x of got) assert.deepEqual(Object.keys(x).sort(), ['__name__', 'i', 'tenant_id'], 'replica label dropped');
      assert.deepEqual((await get(n, `/api/v1/label/i/values?${q('mm')}`, TENANT)).data, want);
      assert.deepEqual((await get(n, '/api/v1/label/i/values', TENANT)).data, want);
      assert.deepEqual((await get(n, '/api/v1/labels', TENANT)).data, ['__name__', 'i', 'tenant_id']);
      assert.deepEqual((await get(n, '/api/v1/label/replica/values', TENANT)).data, []);
      assert.equal(((await get(n, `/api/v1/series?${q('mm')}&limit=5`, TENANT)).data as unknown[]).length, 5);
    }

    // The StoreAPI does not fan out: node 0 answers its own series only.
    const c = new StoreClient(`127.0.0.1:${n0.node.grpcPort}`);
    try {
      assert.equal((await c.labelValues('i', { start: T0, end: T0 + STEP })).length, held[0]!);
    } finally {
      c.close();
    }

    // Node 1 goes away: node 0 answers what it has and says so.
    await n1.stop();
    nodes[1] = undefined;
    const s = await get(n0, `/api/v1/series?${q('mm')}`, TENANT);
    assert.equal((s.data as unknown[]).length, held[0]!);
    assert.equal(s.warnings?.length, 1, JSON.stringify(s.warnings));
    assert.match(s.warnings![0]!, new RegExp(`peer ${addresses[1]!.replace(/\./g, '\\.')} could not be read, the answer may be partial`));
    const l = await get(n0, '/api/v1/label/i/values', TENANT);
    assert.equal((l.data as unknown[]).length, held[0]!);
    assert.equal(l.warnings?.length, 1);
  } finally {
    for (const n of nodes) await n?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
