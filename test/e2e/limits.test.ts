/**
 * Limits end to end: a real receiver started with a limits YAML file, real remote-write requests
 * over loopback. Every limit answers its status with a message naming the limit and the value,
 * a tenant override beats the default, the node keeps serving afterwards, the head-series limit
 * refuses a tenant that reached it (429), max_concurrency makes requests wait (and a full queue
 * answers 503), the metrics count refusals, and a bad file stops the start with one clear line.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, write, post, encodeBody, getJson, series, RW_HEADERS, type TestNode } from '../helpers/node.js';
import type { TimeSeriesMsg } from '../../src/proto/schema.js';
import { Rng } from '../helpers/prng.js';

const T0 = 1_700_000_000_000;
const LIMITS = `
write:
  global:
    max_concurrency: 1
    max_concurrency_queue: 64
  default:
    request:
      size_bytes_limit: 4096
      series_limit: 10
      samples_limit: 20
      label_limit: 6
      label_name_length_limit: 32
      label_value_length_limit: 64
    head_series_limit: 30
  tenants:
    acme:
      request: {series_limit: 100, samples_limit: 200, size_bytes_limit: 65536}
      head_series_limit: 1000
    big:
      request: {size_bytes_limit: 1048576}
`;

let dir: string;
let n: TestNode;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-limits-e2e-'));
  writeFileSync(join(dir, 'limits.yaml'), LIMITS);
  n = await startNode([`--receive.limits-config-file=${join(dir, 'limits.yaml')}`, '--receive.gateways=1', '--receive.shards=2']);
});
after(async () => {
  await n.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** many builds `count` small series of metric `name`, one sample each. */
const many = (name: string, count: number, samples = 1): TimeSeriesMsg[] =>
  Array.from({ length: count }, (_, i) => series({ __name__: name, i: String(i) }, Array.from({ length: samples }, (_, k): [number, number] => [T0 + k * 1000, k])));

test('each request limit answers its status and names the limit, the value and the tenant', async () => {
  const rng = new Rng(7);
  const noisy = Array.from({ length: 200 }, (_, i) => series({ __name__: 'noisy', i: String(i), v: rng.asciiString(40) }, [[T0, 1]]));
  const cases: { name: string; ts: TimeSeriesMsg[]; status: number; msg: RegExp }[] = [
    { name: 'body size', ts: noisy, status: 413, msg: /^request size limit exceeded: \d+ bytes > size_bytes_limit 4096 \(tenant "default-tenant"\)$/ },
    { name: 'decompressed size', ts: [series({ __name__: 'squashy', v: 'a'.repeat(20_000) }, [[T0, 1]])], status: 413,
      msg: /^request size limit exceeded: decompressed body of \d+ bytes > size_bytes_limit 4096 \(tenant "default-tenant"\)$/ },
    { name: 'series', ts: many('s', 11), status: 413, msg: /^request series limit exceeded: 11 series > series_limit 10 \(tenant "default-tenant"\)$/ },
    { name: 'samples', ts: many('k', 5, 5), status: 413, msg: /^request samples limit exceeded: 25 samples > samples_limit 20 \(tenant "default-tenant"\)$/ },
    { name: 'label count', ts: [series({ __name__: 'l', a: '1', b: '2', c: '3', d: '4', e: '5', f: '6' }, [[T0, 1]])], status: 400,
      msg: /^label limit exceeded: series has 7 labels > label_limit 6 \(tenant "default-tenant"\)$/ },
    { name: 'label name length', ts: [series({ __name__: 'l', ['n'.repeat(40)]: 'x' }, [[T0, 1]])], status: 400,
      msg: /^label name length limit exceeded: label name "n{40}" has 40 bytes > label_name_length_limit 32 \(tenant "default-tenant"\)$/ },
    { name: 'label value length', ts: [series({ __name__: 'l', pod: 'p'.repeat(100) }, [[T0, 1]])], status: 400,
      msg: /^label value length limit exceeded: value of label "pod" has 100 bytes > label_value_length_limit 64 \(tenant "default-tenant"\)$/ },
  ];
  for (const c of cases) {
    const r = await write(n.writeUrl, c.ts);
    assert.equal(r.status, c.status, `${c.name}: ${r.text}`);
    assert.match(r.text.trim(), c.msg, c.name);
  }
  // Nothing of a refused request was written.
  const s = await getJson(`${n.httpUrl}/api/v1/series?match[]={__name__=~"noisy|squashy|s|k|l"}`);
  assert.deepEqual(s.body.data, []);
  // Above every tenant's size_bytes_limit the HTTP layer refuses the body (uWS: from Content-Length, unread).
  const r = await post(n.writeUrl, new Uint8Array(1_200_000));
  assert.equal(r.status, 413);
  assert.match(r.text, /request body (of \d+ bytes )?is over the limit of 1048576 bytes/);
});

test('a tenant override beats the default, and the node keeps serving', async () => {
  const body = many('override', 50);
  const d = await write(n.writeUrl, body);
  assert.equal(d.status, 413, 'default-tenant: series_limit 10');
  assert.match(d.text, /50 series > series_limit 10/);
  const a = await write(n.writeUrl, body, 'acme');
  assert.equal(a.status, 200, `acme: series_limit 100: ${a.text}`);
  // acme inherits the default's label limits (its request block does not set them).
  const l = await write(n.writeUrl, [series({ __name__: 'l', pod: 'p'.repeat(100) }, [[T0, 1]])], 'acme');
  assert.equal(l.status, 400);
  assert.match(l.text, /label_value_length_limit 64 \(tenant "acme"\)/);
  // 'big' inherits series_limit 10 but may send 1 MiB bodies.
  assert.equal((await write(n.writeUrl, many('big', 11), 'big')).status, 413);
  assert.equal((await write(n.writeUrl, many('big', 10), 'big')).status, 200);
  const ok = await write(n.writeUrl, [series({ __name__: 'still_serving', job: 'x' }, [[T0, 1]])]);
  assert.equal(ok.status, 200, ok.text);
  const s = await getJson(`${n.httpUrl}/api/v1/series?match[]=override`, { 'thanos-tenant': 'acme' });
  assert.equal((s.body.data as unknown[]).length, 50);
});

test('a tenant at its head-series limit gets 429 with Retry-After; other tenants do not', async () => {
  for (let k = 0; k < 3; k++) {
    const r = await write(n.writeUrl, many(`hs${k}`, 10), 'hs');
    assert.equal(r.status, 200, r.text);
  }
  // The main thread polls the shards every 5 s; poll now instead of waiting.
  await n.node.pollHeadSeries();
  const r = await write(n.writeUrl, many('hs_more', 1), 'hs');
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.match(r.text, /^head series limit exceeded: 30 active series >= head_series_limit 30 \(tenant "hs"\)/);
  assert.equal((await write(n.writeUrl, many('hs_other', 5), 'other')).status, 200);
  assert.equal((await write(n.writeUrl, many('hs_acme', 5), 'acme')).status, 200, 'acme has its own head_series_limit of 1000');
});

test('max_concurrency: requests beyond the limit wait at the gate and then succeed', async () => {
  // 1 gateway thread, max_concurrency 1: one request at a time holds the slot until its shards
  // have logged it; the others wait in line.
  const bodies = Array.from({ length: 8 }, (_, b) => encodeBody({ timeseries: many(`gate${b}`, 80) }));
  const headers = { ...RW_HEADERS, 'thanos-tenant': 'acme' };
  const rs = await Promise.all(bodies.map((body) => post(n.writeUrl, body, headers)));
  assert.deepEqual(rs.map((r) => r.status), Array(8).fill(200), rs.map((r) => r.text).join(''));
  const m = await (await fetch(`${n.httpUrl}/metrics`)).text();
  const value = (re: RegExp): number => Number(re.exec(m)?.[1] ?? NaN);
  assert.equal(value(/^thanos_receive_write_request_concurrent_gate_write_requests_max (\S+)$/m), 1);
  assert.equal(value(/^thanos_receive_write_request_concurrent_gate_write_requests_in_flight (\S+)$/m), 0);
  assert.ok(value(/^thanos_receive_write_request_concurrent_gate_write_requests_total (\S+)$/m) >= 8);
  // Waiting happened: some requests spent measurable time at the gate.
  assert.ok(value(/^thanos_receive_write_request_concurrent_gate_write_requests_duration_seconds_sum (\S+)$/m) > 0, 'some request waited');
});

test('refusals are counted under the Thanos metric names', async () => {
  const m = await (await fetch(`${n.httpUrl}/metrics`)).text();
  assert.match(m, /^thanos_receive_write_limits\{tenant="",limit="series"\} 10$/m);
  assert.match(m, /^thanos_receive_write_limits\{tenant="acme",limit="series"\} 100$/m);
  assert.match(m, /^thanos_receive_head_series_limit\{tenant="acme"\} 1000$/m);
  assert.match(m, /^thanos_receive_write_limits_hit_count\{tenant="default-tenant",limit="series"\} 2$/m);
  assert.match(m, /^thanos_receive_write_limits_hit_sum\{tenant="default-tenant",limit="series"\} 41$/m, '1 + 40 series over');
  assert.match(m, /^thanos_receive_write_limits_hit_count\{tenant="acme",limit="label_value_length_limit"\} 1$/m);
  assert.match(m, /^thanos_receive_head_series_limited_requests_total\{tenant="hs"\} 1$/m);
});

test('a full write-gate queue answers 503 with Retry-After; the node keeps serving', async () => {
  const d2 = mkdtempSync(join(tmpdir(), 'sluice-limits-q-'));
  writeFileSync(join(d2, 'limits.yaml'), 'write:\n  global: {max_concurrency: 1, max_concurrency_queue: 0}\n');
  const q = await startNode([`--receive.limits-config-file=${join(d2, 'limits.yaml')}`, '--receive.gateways=1', '--receive.shards=1', '--tsdb.wal.fsync=always']);
  try {
    const bodies = Array.from({ length: 12 }, (_, b) => encodeBody({ timeseries: many(`q${b}`, 200) }));
    const rs = await Promise.all(bodies.map((body) => post(q.writeUrl, body)));
    const busy = rs.filter((r) => r.status === 503);
    assert.ok(rs.some((r) => r.status === 200));
    assert.ok(busy.length > 0, `statuses: ${rs.map((r) => r.status).join(',')}`);
    assert.equal(busy[0]!.headers.get('retry-after'), '1');
    assert.match(busy[0]!.text, /^write gate full: 0 requests waiting for 1 slots >= max_concurrency_queue 0/);
    assert.deepEqual(rs.map((r) => r.status).filter((s) => s !== 200 && s !== 503), []);
    assert.equal((await write(q.writeUrl, many('after', 3))).status, 200);
  } finally {
    await q.stop();
    rmSync(d2, { recursive: true, force: true });
  }
});

test('a bad limits file stops the start with one line naming the key', async () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'write:\n  default:\n    request:\n      series_limt: 10\n');
  // The compiled CLI next to this test (dist/ or a private build), run as `sluice receive` is.
  const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
  const script = `import(${JSON.stringify(cli)}).then((m) => m.main(process.argv.slice(1))).then((c) => { process.exitCode = c ?? 0; });`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', script, 'receive', `--tsdb.path=${join(dir, 'data-bad')}`, `--receive.limits-config-file=${bad}`,
    '--remote-write.address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  assert.equal(code, 2, stderr);
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.match(stderr, /--receive\.limits-config-file .*bad\.yaml: write\.default\.request\.series_limt: unknown key/);
});
