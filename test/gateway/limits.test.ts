/**
 * Limits, unit level: parsing and validating the Thanos limits YAML (src/receive/limits.ts), the
 * per-tenant bounds and their refusal messages, the label checks inside the router's label pass,
 * the write gate (src/gateway/limits.ts), and the flags that load the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLimitsConfig, limitsFor, hasHeadSeriesLimits } from '../../src/receive/limits.js';
import { ConcurrencyGate, GatewayLimits, LimitError, TenantBounds, overHeadSeriesLimit } from '../../src/gateway/limits.js';
import { DEFAULT_ROUTE_LIMITS, Router } from '../../src/gateway/route.js';
import { WriteRequestDecoder } from '../../src/gateway/wire.js';
import { encodeWriteRequest, type TimeSeriesMsg } from '../../src/proto/schema.js';
import { parseReceiveFlags, toConfig } from '../../src/receive/flags.js';
import { ErrorCode, SluiceError } from '../../src/errors.js';
import { statusOf } from '../../src/gateway/status.js';

const THANOS_EXAMPLE = `
write:
  global:
    max_concurrency: 30
    meta_monitoring_url: "http://prom:9090"
    meta_monitoring_limit_query: "sum(prometheus_tsdb_head_series) by (tenant)"
  default:
    request:
      size_bytes_limit: 1024
      series_limit: 1000
      samples_limit: 10
    head_series_limit: 1000
  tenants:
    acme:
      request:
        size_bytes_limit: 0
        series_limit: 0
        samples_limit: 0
      head_series_limit: 2000
    ajax:
      request:
        series_limit: 50000
        samples_limit: 500
    bob:
`;

test('the Thanos example parses; missing tenant keys inherit the default, 0 is unlimited', () => {
  const c = parseLimitsConfig(THANOS_EXAMPLE);
  assert.equal(c.maxConcurrency, 30);
  assert.equal(c.maxConcurrencyQueue, 120, 'default queue is 4 × max_concurrency');
  assert.deepEqual(c.default, {
    request: { sizeBytesLimit: 1024, seriesLimit: 1000, samplesLimit: 10, labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 0 },
    headSeriesLimit: 1000,
  });
  assert.deepEqual(limitsFor(c, 'acme').request, { sizeBytesLimit: 0, seriesLimit: 0, samplesLimit: 0, labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 0 });
  assert.equal(limitsFor(c, 'acme').headSeriesLimit, 2000);
  // ajax sets two request keys: the third and the head-series limit come from the default.
  assert.deepEqual(limitsFor(c, 'ajax').request, { sizeBytesLimit: 1024, seriesLimit: 50000, samplesLimit: 500, labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 0 });
  assert.equal(limitsFor(c, 'ajax').headSeriesLimit, 1000);
  assert.deepEqual(limitsFor(c, 'bob'), c.default, 'a tenant listed without keys has the default limits');
  assert.deepEqual(limitsFor(c, 'unlisted'), c.default);
  assert.deepEqual(c.ignored, ['write.global.meta_monitoring_url', 'write.global.meta_monitoring_limit_query']);
  assert.equal(hasHeadSeriesLimits(c), true);
});

test('empty documents set no limits; Sluice label keys and the gate queue parse', () => {
  for (const text of ['', '---\n', 'write:\n', 'write:\n  default:\n']) {
    const c = parseLimitsConfig(text);
    assert.equal(c.maxConcurrency, 0);
    assert.equal(c.default.request.seriesLimit, 0);
    assert.equal(hasHeadSeriesLimits(c), false);
  }
  const c = parseLimitsConfig(`
write:
  global: {max_concurrency: 4, max_concurrency_queue: 2}
  default:
    request: {label_limit: 30, label_name_length_limit: 128, label_value_length_limit: 2048, series_limit: -1}
  tenants:
    t1: {request: {label_limit: 40}}
`);
  assert.equal(c.maxConcurrencyQueue, 2);
  assert.equal(c.default.request.seriesLimit, 0, 'negative Thanos request limits are unlimited');
  assert.deepEqual(limitsFor(c, 't1').request, { sizeBytesLimit: 0, seriesLimit: 0, samplesLimit: 0, labelLimit: 40, labelNameLengthLimit: 128, labelValueLengthLimit: 2048 });
});

test('bad configs are ConfigErrors that name the key', () => {
  const cases: [string, RegExp][] = [
    ['write:\n  default:\n    request:\n      series_limt: 5\n', /write\.default\.request\.series_limt: unknown key/],
    ['write:\n  defaults: {}\n', /write\.defaults: unknown key/],
    ['read: {}\n', /top level\.?|read: unknown key/],
    ['write:\n  tenants:\n    acme: {request: {samples_limit: many}}\n', /write\.tenants\.acme\.request\.samples_limit: expected an integer, got "many"/],
    ['write:\n  default: {head_series_limit: 1.5}\n', /write\.default\.head_series_limit: expected an integer, got 1\.5/],
    ['write:\n  default: {head_series_limit: -3}\n', /write\.default\.head_series_limit: expected an integer ≥ 0, got -3/],
    ['write:\n  default: {request: {label_limit: -1}}\n', /write\.default\.request\.label_limit: expected an integer ≥ 0/],
    ['write:\n  global: {meta_monitoring_url: "not a url"}\n', /meta_monitoring_url: "not a url" is not a valid URL/],
    ['write:\n  tenants: [a, b]\n', /write\.tenants: expected a mapping, got a list/],
    ['write:\n  default: {request: [1]}\n', /write\.default\.request: expected a mapping/],
    ['write: {default: {request: {series_limit: 1}}\n', /invalid YAML/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseLimitsConfig(text, 'limits.yaml'), (e: unknown) => {
      assert.ok(e instanceof SluiceError && e.code === ErrorCode.Config, String(e));
      assert.match(e.message, /^limits\.yaml: /);
      assert.match(e.message, re);
      return true;
    }, text);
  }
});

const bounds = (yaml: string, tenant = 'x'): TenantBounds => new TenantBounds(limitsFor(parseLimitsConfig(yaml), tenant), DEFAULT_ROUTE_LIMITS);

test('request bounds refuse with 413 and name the limit, the value and the tenant', () => {
  const b = bounds('write: {default: {request: {size_bytes_limit: 1000, series_limit: 10, samples_limit: 20}}}');
  b.checkBody(1000, 'x');
  b.checkCounts(10, 20, 'x');
  const refused = (fn: () => void, limit: string, over: number, msg: string): void => {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof LimitError);
      assert.equal(statusOf(e), 413);
      assert.equal(e.limit, limit);
      assert.equal(e.over, over);
      assert.equal(e.message, msg);
      return true;
    });
  };
  refused(() => b.checkBody(1001, 'x'), 'body_size', 1, 'request size limit exceeded: 1001 bytes > size_bytes_limit 1000 (tenant "x")');
  refused(() => b.checkDecompressed(5000, 'x'), 'body_size', 4000, 'request size limit exceeded: decompressed body of 5000 bytes > size_bytes_limit 1000 (tenant "x")');
  refused(() => b.checkCounts(1200, 1, 'acme'), 'series', 1190, 'request series limit exceeded: 1200 series > series_limit 10 (tenant "acme")');
  refused(() => b.checkCounts(1, 21, 'x'), 'samples', 1, 'request samples limit exceeded: 21 samples > samples_limit 20 (tenant "x")');
  // Unlimited bounds never refuse.
  const u = bounds('');
  u.checkBody(1 << 30, 'x');
  u.checkCounts(1e9, 1e9, 'x');
});

test('label bounds merge with the built-in ones: the smaller wins and names itself', () => {
  const b = bounds('write: {default: {request: {label_limit: 10, label_name_length_limit: 5000, label_value_length_limit: 100}}}');
  assert.deepEqual(b.route, {
    maxLabelNameLength: 1024, maxLabelValueLength: 100, maxLabelNamesPerSeries: 10,
    labelNameLengthKey: 'max_label_name_length', labelValueLengthKey: 'label_value_length_limit', labelCountKey: 'label_limit',
  });
  assert.deepEqual(bounds('').route, DEFAULT_ROUTE_LIMITS);
});

function decoded(timeseries: TimeSeriesMsg[]): { d: WriteRequestDecoder; raw: Uint8Array } {
  const raw = encodeWriteRequest({ timeseries });
  const d = new WriteRequestDecoder();
  d.decode(raw, raw.length);
  return { d, raw };
}

const ts = (labels: [string, string][]): TimeSeriesMsg => ({ labels: labels.map(([name, value]) => ({ name, value })), samples: [{ timestamp: 1, value: 1 }] });

test('the router refuses label sets over the tenant bounds with 400, before writing anything', () => {
  const b = bounds('write: {tenants: {acme: {request: {label_limit: 3, label_name_length_limit: 8, label_value_length_limit: 10}}}}', 'acme');
  const tenant = new TextEncoder().encode('acme');
  const router = new Router(2);
  const ok = decoded([ts([['__name__', 'up'], ['job', 'abcdefghij']])]);
  router.route(ok.d, ok.raw, tenant, b.route);
  assert.equal(router.stats.series, 1);
  const cases: [TimeSeriesMsg[], string, string][] = [
    [[ts([['__name__', 'up'], ['a', '1'], ['b', '2'], ['c', '3']])], 'label_limit',
      'label limit exceeded: series has 4 labels > label_limit 3 (tenant "acme")'],
    [[ts([['__name__', 'up'], ['namespace', 'x']])], 'label_name_length_limit',
      'label name length limit exceeded: label name "namespace" has 9 bytes > label_name_length_limit 8 (tenant "acme")'],
    [[ts([['__name__', 'up']]), ts([['__name__', 'up'], ['pod', 'abcdefghijk']])], 'label_value_length_limit',
      'label value length limit exceeded: value of label "pod" has 11 bytes > label_value_length_limit 10 (tenant "acme")'],
  ];
  for (const [series, limit, msg] of cases) {
    const { d, raw } = decoded(series);
    assert.throws(() => router.route(d, raw, tenant, b.route), (e: unknown) => {
      assert.ok(e instanceof LimitError);
      assert.equal(statusOf(e), 400);
      assert.equal(e.limit, limit);
      assert.equal(e.message, msg);
      return true;
    });
  }
  // Without tenant bounds the built-in ones apply, named as before.
  const { d, raw } = decoded([ts([['__name__', 'up'], ['v', 'x'.repeat(70_000)]])]);
  assert.throws(() => router.route(d, raw, tenant), /value of label "v" has 70000 bytes > max_label_value_length 65536/);
});

test('the gate admits `slots` at once, queues the rest in order and hands slots over', async () => {
  const g = new ConcurrencyGate(2, 3, 10_000);
  assert.equal(g.enter(), undefined);
  assert.equal(g.enter(), undefined);
  assert.equal(g.running, 2);
  const order: number[] = [];
  const w = [1, 2, 3].map((i) => g.enter()!.then(() => { order.push(i); }));
  assert.equal(g.waiting, 3);
  // A fourth waiter is over the queue bound: 503, not an unbounded queue.
  await assert.rejects(g.enter()!, (e: unknown) => {
    assert.equal(statusOf(e), 503);
    assert.match((e as Error).message, /write gate full: 3 requests waiting for 2 slots >= max_concurrency_queue 3/);
    return true;
  });
  g.leave();
  await w[0];
  assert.deepEqual(order, [1]);
  assert.equal(g.running, 2, 'the slot passed to the waiter');
  g.leave(); g.leave();
  await Promise.all(w);
  assert.deepEqual(order, [1, 2, 3]);
  assert.equal(g.waiting, 0);
  g.leave(); g.leave();
  assert.equal(g.running, 0);
  assert.equal(g.enter(), undefined, 'free again');
});

test('a waiter that waits too long gets 503 and leaves the queue', async () => {
  const g = new ConcurrencyGate(1, 5, 30);
  assert.equal(g.enter(), undefined);
  const late = g.enter()!;
  await assert.rejects(late, /waited 30 ms for one of 1 slots/);
  assert.equal(g.waiting, 0);
  const next = g.enter()!;
  g.leave();
  await next;
  assert.equal(g.running, 1);
});

test('gateway limits: max_concurrency is split across gateway threads; largest body; head-series set', () => {
  const cfg = parseLimitsConfig(`
write:
  global: {max_concurrency: 5, max_concurrency_queue: 9}
  default: {request: {size_bytes_limit: 1000}, head_series_limit: 100}
  tenants:
    big: {request: {size_bytes_limit: 5000}, head_series_limit: 0}
    small: {head_series_limit: 10}
`);
  const gl = new GatewayLimits(cfg, 2, { route: DEFAULT_ROUTE_LIMITS });
  assert.equal(gl.gate?.slots, 3, 'ceil(5 / 2)');
  assert.equal(gl.gate?.queue, 5, 'ceil(9 / 2)');
  assert.equal(gl.largestBody(), 5000);
  assert.equal(new GatewayLimits(parseLimitsConfig('write: {tenants: {x: {request: {size_bytes_limit: 0}}}}'), 1, { route: DEFAULT_ROUTE_LIMITS }).largestBody(), 0);
  assert.equal(new GatewayLimits(undefined, 1, { route: DEFAULT_ROUTE_LIMITS }).forTenant('x'), undefined);

  const counts = new Map([['a', 100], ['b', 99], ['small', 10], ['big', 1e6]]);
  const over = overHeadSeriesLimit(cfg, counts);
  assert.deepEqual(over, [['a', 100], ['small', 10]], 'at the limit counts as reached; 0 is unlimited');
  gl.setHeadSeriesOver(over);
  assert.throws(() => gl.checkHeadSeries('a', gl.forTenant('a')!), (e: unknown) => {
    assert.ok(e instanceof LimitError);
    assert.equal(statusOf(e), 429);
    assert.match(e.message, /^head series limit exceeded: 100 active series >= head_series_limit 100 \(tenant "a"\)/);
    return true;
  });
  gl.checkHeadSeries('b', gl.forTenant('b')!);
  gl.setHeadSeriesOver([]);
  gl.checkHeadSeries('a', gl.forTenant('a')!);
});

test('--receive.limits-config-file and --receive.limits-config load the YAML; bad files stop the start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-limits-'));
  try {
    const good = join(dir, 'limits.yaml');
    writeFileSync(good, 'write:\n  default:\n    request: {series_limit: 7}\n');
    assert.equal(toConfig(parseReceiveFlags([`--receive.limits-config-file=${good}`])).limits?.default.request.seriesLimit, 7);
    assert.equal(toConfig(parseReceiveFlags(['--receive.limits-config', 'write: {default: {head_series_limit: 3}}'])).limits?.default.headSeriesLimit, 3);
    assert.equal(toConfig(parseReceiveFlags([])).limits, undefined);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'write:\n  default:\n    request: {series_limit: 7, sample_limit: 3}\n');
    assert.throws(() => toConfig(parseReceiveFlags([`--receive.limits-config-file=${bad}`])),
      new RegExp(`--receive.limits-config-file ${bad}: write.default.request.sample_limit: unknown key`));
    assert.throws(() => toConfig(parseReceiveFlags([`--receive.limits-config-file=${join(dir, 'missing.yaml')}`])), /cannot read .*missing\.yaml: ENOENT/);
    assert.throws(() => toConfig(parseReceiveFlags([`--receive.limits-config-file=${good}`, '--receive.limits-config=write: {}'])), /mutually exclusive/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LimitError keeps its code through statusOf like any coded error', () => {
  const e = new LimitError(ErrorCode.TooLarge, 'series', 1, 'm');
  assert.ok(e instanceof SluiceError);
  assert.equal(statusOf(e), 413);
});
