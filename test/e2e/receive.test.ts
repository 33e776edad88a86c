/**
 * Remote-write end to end over loopback: a real receiver (uWebSockets.js gateway, shard threads),
 * requests encoded by protobufjs and compressed by snappy, answers checked against Thanos Receive's
 * status codes, data read back through the HTTP API.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import snappy from 'snappy';
import { startNode, write, post, getJson, series, encodeBody, RW_HEADERS, type TestNode } from '../helpers/node.js';
import { encodeWriteRequest } from '../../src/proto/schema.js';

let n: TestNode;
const T0 = 1_700_000_000_000;

before(async () => { n = await startNode(['--label=receive="true"', '--label=replica="r0"']); });
after(async () => { await n.stop(); });

test('a valid request is answered 200 and its series are readable', async () => {
  const r = await write(n.writeUrl, [
    series({ __name__: 'http_requests_total', job: 'api', code: '200' }, [[T0, 1], [T0 + 15000, 2]]),
    series({ __name__: 'http_requests_total', job: 'api', code: '500' }, [[T0, 7]]),
  ]);
  assert.equal(r.status, 200, r.text);
  const s = await getJson(`${n.httpUrl}/api/v1/series?match[]=http_requests_total`);
  assert.equal(s.status, 200);
  assert.deepEqual(s.body, {
    status: 'success',
    data: [
      { __name__: 'http_requests_total', code: '200', job: 'api', receive: 'true', replica: 'r0', tenant_id: 'default-tenant' },
      { __name__: 'http_requests_total', code: '500', job: 'api', receive: 'true', replica: 'r0', tenant_id: 'default-tenant' },
    ],
  });
  const v = await getJson(`${n.httpUrl}/api/v1/label/code/values?match[]={job="api"}`);
  assert.deepEqual(v.body.data, ['200', '500']);
});

test('/api/v1/write is an alias of /api/v1/receive', async () => {
  const r = await fetch(`${n.writeUrl}/api/v1/write`, {
    method: 'POST', headers: RW_HEADERS, body: encodeBody({ timeseries: [series({ __name__: 'alias_metric' }, [[T0, 1]])] }),
  });
  assert.equal(r.status, 200);
});

test('duplicates and out-of-order samples are refused per sample with 409; the rest is written', async () => {
  assert.equal((await write(n.writeUrl, [series({ __name__: 'ooo', i: '1' }, [[T0 + 60000, 1]])])).status, 200);
  const r = await write(n.writeUrl, [
    series({ __name__: 'ooo', i: '1' }, [[T0, 5], [T0 + 60000, 9], [T0 + 60000, 1], [T0 + 120000, 3]]),
    series({ __name__: 'ooo', i: '2' }, [[T0, 1]]),
  ]);
  assert.equal(r.status, 409);
  assert.match(r.text, /add 1 samples: out of order sample/);
  assert.match(r.text, /add 1 samples: duplicate sample for timestamp/);
  const s = await getJson(`${n.httpUrl}/api/v1/series?match[]=ooo`);
  assert.equal((s.body.data as unknown[]).length, 2, 'the valid series of the request was written');
  // The series accepted T0+120000: the shard's head holds exactly 2 samples for i=1.
  const shards = n.node.pool.shards;
  let found = 0;
  for (const sh of shards) {
    const refs = await sh.query<number[]>({ type: 'query', op: 'refs', q: { tenant: 'default-tenant', matcherSets: [[{ type: '=', name: 'i', value: '1' }, { type: '=', name: '__name__', value: 'ooo' }]], mint: -Infinity, maxt: Infinity } });
    for (const ref of refs) {
      found++;
      assert.deepEqual(sh.view.timeRange(ref), [T0 + 60000, T0 + 120000]);
    }
  }
  assert.equal(found, 1);
});

test('an identical resend is accepted silently (idempotent retries)', async () => {
  const body = [series({ __name__: 'retry_me' }, [[T0, 1.5]])];
  assert.equal((await write(n.writeUrl, body)).status, 200);
  assert.equal((await write(n.writeUrl, body)).status, 200);
});

test('invalid label sets are conflicts (409) and do not stop the valid series', async () => {
  const bad = (labels: [string, string][]) => ({ labels: labels.map(([name, value]) => ({ name, value })), samples: [{ value: 1, timestamp: T0 }] });
  const cases: [string, [string, string][], RegExp][] = [
    ['empty name', [['', 'x'], ['__name__', 'a']], /empty name or value/],
    ['empty value', [['__name__', 'a'], ['job', '']], /empty name or value/],
    ['duplicate name', [['__name__', 'a'], ['job', 'x'], ['job', 'y']], /duplicate label names/],
    ['unsorted', [['job', 'x'], ['__name__', 'a']], /not sorted/],
    ['empty set', [], /empty/],
  ];
  for (const [what, labels, re] of cases) {
    const r = await post(n.writeUrl, encodeBody({ timeseries: [bad(labels), series({ __name__: 'valid_beside_bad', case: what }, [[T0, 1]])] }));
    assert.equal(r.status, 409, what);
    assert.match(r.text, re, what);
  }
  const s = await getJson(`${n.httpUrl}/api/v1/series?match[]=valid_beside_bad`);
  assert.equal((s.body.data as unknown[]).length, cases.length);
});

test('bad bodies get the right status and message, and the next good request succeeds', async () => {
  const good = encodeBody({ timeseries: [series({ __name__: 'after_bad' }, [[T0, 1]])] });
  const raw = encodeWriteRequest({ timeseries: [series({ __name__: 'x', job: 'y' }, [[T0, 1]])] });
  const huge = encodeBody({ timeseries: [series({ __name__: 'big', blob: 'v'.repeat(10 << 20) }, [[T0, 1]])] });
  const table: { name: string; body: Uint8Array | string; headers?: Record<string, string>; status: number; msg: RegExp }[] = [
    { name: 'empty body', body: new Uint8Array(0), status: 400, msg: /empty request body/ },
    { name: 'truncated snappy', body: good.subarray(0, good.length - 5), status: 400, msg: /snappy|corrupt|truncat/i },
    { name: 'not snappy at all', body: 'hello world, not snappy', status: 400, msg: /snappy|corrupt|length/i },
    { name: 'bad varint', body: snappy.compressSync(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), status: 400, msg: /varint|byte/i },
    { name: 'wrong wire type', body: snappy.compressSync(Buffer.from([0x09, 1, 2, 3, 4, 5, 6, 7, 8])), status: 400, msg: /wire type/i },
    { name: 'truncated protobuf', body: snappy.compressSync(Buffer.from(raw.subarray(0, raw.length - 3))), status: 400, msg: /byte/ },
    { name: '10 MB label value', body: huge, status: 400, msg: /max_label_value_length/ },
    { name: 'wrong content type', body: good, headers: { ...RW_HEADERS, 'content-type': 'application/json' }, status: 415, msg: /Content-Type/ },
    { name: 'remote-write 2.0', body: good, headers: { ...RW_HEADERS, 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' }, status: 415, msg: /2\.0/ },
    { name: 'gzip encoding', body: good, headers: { ...RW_HEADERS, 'content-encoding': 'gzip' }, status: 415, msg: /Content-Encoding/ },
    { name: 'invalid tenant', body: good, headers: { ...RW_HEADERS, 'thanos-tenant': '../etc' }, status: 400, msg: /invalid tenant/ },
  ];
  for (const c of table) {
    const r = await post(n.writeUrl, c.body, c.headers ?? RW_HEADERS);
    assert.equal(r.status, c.status, `${c.name}: ${r.text}`);
    assert.match(r.text, c.msg, c.name);
    const ok = await post(n.writeUrl, good);
    assert.equal(ok.status, 200, `good request after ${c.name}`);
  }
});

test('exemplars, histograms and metadata do not break a request and are counted as dropped', async () => {
  const r = await post(n.writeUrl, encodeBody({
    timeseries: [
      { ...series({ __name__: 'with_extras' }, [[T0, 1]]), exemplars: [{ labels: [{ name: 'trace_id', value: 'abc' }], value: 1, timestamp: T0 }] },
      { labels: [{ name: '__name__', value: 'native_hist' }], samples: [], histograms: [{ countInt: 3, sum: 1.5, schema: 0, timestamp: T0 }] },
    ],
    metadata: [{ type: 1, metricFamilyName: 'with_extras', help: 'h', unit: '' }],
  }));
  assert.equal(r.status, 200, r.text);
  const m = await (await fetch(`${n.httpUrl}/metrics`)).text();
  assert.match(m, /sluice_receive_dropped_total\{kind="exemplar"\} [1-9]/);
  assert.match(m, /sluice_receive_dropped_total\{kind="histogram"\} [1-9]/);
  assert.match(m, /sluice_receive_dropped_total\{kind="metadata"\} [1-9]/);
});

test('tenants are isolated: the tenant header scopes writes and reads', async () => {
  assert.equal((await write(n.writeUrl, [series({ __name__: 'tenant_metric', who: 'a' }, [[T0, 1]])], 'team-a')).status, 200);
  assert.equal((await write(n.writeUrl, [series({ __name__: 'tenant_metric', who: 'b' }, [[T0, 1]])], 'team-b')).status, 200);
  const a = await getJson(`${n.httpUrl}/api/v1/series?match[]=tenant_metric`, { 'THANOS-TENANT': 'team-a' });
  assert.deepEqual((a.body.data as Record<string, string>[]).map((s) => [s['who'], s['tenant_id']]), [['a', 'team-a']]);
  const none = await getJson(`${n.httpUrl}/api/v1/series?match[]=tenant_metric`);
  assert.deepEqual(none.body.data, [], 'default tenant sees neither');
  const ext = await getJson(`${n.httpUrl}/api/v1/series?match[]={tenant_id="team-b",__name__="tenant_metric"}`, { 'THANOS-TENANT': 'team-b' });
  assert.equal((ext.body.data as unknown[]).length, 1, 'matchers on the tenant label work');
});

test('read API errors use Prometheus format', async () => {
  const r = await getJson(`${n.httpUrl}/api/v1/series`);
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { status: 'error', errorType: 'bad_data', error: 'no match[] parameter provided' });
  const bad = await getJson(`${n.httpUrl}/api/v1/series?match[]=${encodeURIComponent('{job=~"("}')}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.errorType, 'bad_data');
});

test('POST form requests work as Grafana sends them', async () => {
  const r = await fetch(`${n.httpUrl}/api/v1/labels`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ 'match[]': 'http_requests_total', start: String(T0 / 1000 - 60), end: String(T0 / 1000 + 3600) }),
  });
  const body = await r.json() as { data: string[] };
  assert.deepEqual(body.data, ['__name__', 'code', 'job', 'receive', 'replica', 'tenant_id']);
});

test('self-metrics carry the Thanos and Prometheus names', async () => {
  const m = await (await fetch(`${n.httpUrl}/metrics`)).text();
  for (const name of [
    'thanos_receive_write_timeseries_bucket', 'thanos_receive_write_samples_bucket', 'http_request_duration_seconds_bucket',
    'prometheus_tsdb_head_series', 'prometheus_tsdb_head_samples_appended_total', 'sluice_shard_series',
    'sluice_shard_ring_used_bytes', 'sluice_shard_samples_appended',
  ]) assert.match(m, new RegExp(`^${name}\\{`, 'm'), name);
  assert.match(m, /http_request_duration_seconds_count\{handler="receive",code="409",method="post",tenant="default-tenant"\} [1-9]/);
  assert.match(m, /prometheus_tsdb_head_series\{tenant="team-a"\} 1/);
});

test('health and readiness endpoints', async () => {
  assert.equal((await fetch(`${n.httpUrl}/-/healthy`)).status, 200);
  assert.equal((await fetch(`${n.httpUrl}/-/ready`)).status, 200);
});

test('a label with a byte that is never UTF-8 (0xFF) is a conflict, the rest is written', async () => {
  // protobufjs writes strings as UTF-8, so patch a byte of the encoded value.
  const raw = Buffer.from(encodeWriteRequest({ timeseries: [series({ __name__: 'bad_utf8', v: 'aXb' }, [[T0, 1]]), series({ __name__: 'good_utf8' }, [[T0, 1]])] }));
  raw[raw.indexOf('aXb') + 1] = 0xff;
  const r = await post(n.writeUrl, snappy.compressSync(raw));
  assert.equal(r.status, 409);
  assert.match(r.text, /invalid UTF-8/);
  assert.equal(((await getJson(`${n.httpUrl}/api/v1/series?match[]=good_utf8`)).body.data as unknown[]).length, 1);
});
