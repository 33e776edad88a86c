/**
 * PromQL printing (src/query/promql/format.ts). Expected outputs are those of Prometheus' own
 * printer and prettier tests (promql/parser/printer_test.go, prettier_test.go; the prettier ones
 * use its 10-byte test width), rewritten here as tables. Then every expression of the conformance
 * corpus must print to text that parses back to the same canonical form, and, where
 * /usr/bin/prometheus (2.42) is installed, our prettify must equal its /api/v1/format_query answer
 * for a set of real-world queries whose printing did not change between 2.42 and 3.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseExpr } from '../../../src/query/promql/parse.js';
import { formatExpr, prettify } from '../../../src/query/promql/format.js';
import { formatGoFloatF as goFloatF, formatGoG as goFloatV } from '../../../src/query/promql/value.js';
import { formatDuration as modelDuration } from '../../../src/query/promql/durations.js';
import { hasPrometheus, PROMETHEUS_BIN, startPrometheus } from '../../helpers/prometheus.js';

/** Cases of [input, expected canonical form]; an empty expectation means "same as the input". */
const CANONICAL: [string, string][] = [
  ['sum by() (task:errors:rate10s{job="s"})', 'sum(task:errors:rate10s{job="s"})'],
  ['sum by(code) (task:errors:rate10s{job="s"})', 'sum by (code) (task:errors:rate10s{job="s"})'],
  ['sum without() (task:errors:rate10s{job="s"})', 'sum without () (task:errors:rate10s{job="s"})'],
  ['sum without(instance) (task:errors:rate10s{job="s"})', 'sum without (instance) (task:errors:rate10s{job="s"})'],
  ['sum by("foo.bar") (task:errors:rate10s{job="s"})', 'sum by ("foo.bar") (task:errors:rate10s{job="s"})'],
  ['sum without("foo.bar") (task:errors:rate10s{job="s"})', 'sum without ("foo.bar") (task:errors:rate10s{job="s"})'],
  ['sum(rate(foo{a="b"}[5m])) by (job)', 'sum by (job) (rate(foo{a="b"}[5m]))'],
  ['topk(5, task:errors:rate10s{job="s"})', ''],
  ['count_values("value", task:errors:rate10s{job="s"})', ''],
  ['a - on() c', 'a - on () c'],
  ['a - on(b) c', 'a - on (b) c'],
  ['a - on(b) group_left(x) c', 'a - on (b) group_left (x) c'],
  ['a - on(b) group_left(x, y) c', 'a - on (b) group_left (x, y) c'],
  ['a - on(b) group_left c', 'a - on (b) group_left () c'],
  ['a - on(b) group_left() (c)', 'a - on (b) group_left () (c)'],
  ['a - ignoring(b) c', 'a - ignoring (b) c'],
  ['a - ignoring() c', 'a - c'],
  ['a - ignoring() group_left(__metric__) c', 'a - ignoring () group_left (__metric__) c'],
  ['a - ignoring() group_left c', 'a - ignoring () group_left () c'],
  ['a + fill(-23) b', 'a + fill (-23) b'],
  ['a + fill_left(-23) b', 'a + fill_left (-23) b'],
  ['a + fill_right(42) b', 'a + fill_right (42) b'],
  ['a + fill_left(-23) fill_right(42) b', 'a + fill_left (-23) fill_right (42) b'],
  ['a + on(b) group_left fill(-23) c', 'a + on (b) group_left () fill (-23) c'],
  ['a and b', ''],
  ['up > bool 0', ''],
  ['a offset 1m', ''],
  ['a offset -7m', ''],
  ['a{c="d"}[5m] offset 1m', ''],
  ['a[5m] offset 1m', ''],
  ['a[12m] offset -3m', ''],
  ['a[1h:5m] offset 1m', ''],
  ['a anchored', ''],
  ['a[5m] anchored', ''],
  ['a{b="c"}[5m] anchored offset 1m', ''],
  ['a{b="c"}[5m] anchored @ start() offset 1m', ''],
  ['a smoothed', ''],
  ['a{b="c"}[5m] smoothed @ start() offset 1m', ''],
  ['{__name__="a"}', ''],
  ['a{b!="c"}[1m]', ''],
  ['a{b=~"c"}[1m]', ''],
  ['a{b!~"c"}[1m]', ''],
  ['a @ 10', 'a @ 10.000'],
  ['a[1m] @ 10', 'a[1m] @ 10.000'],
  ['a @ start()', ''],
  ['a @ end()', ''],
  ['a[1m] @ end()', ''],
  ['{__name__="",a="x"}', ''],
  ['{"a.b"="c"}', ''],
  ['{"0"="1"}', ''],
  ['{"_0"="1"}', '{_0="1"}'],
  ['{""="0"}', ''],
  ['{``="0"}', '{""="0"}'],
  ['1048576', ''],
  ['foo[step()]', ''],
  ['foo[-step()]', ''],
  ['foo offset step()', ''],
  ['foo offset -step()', ''],
  ['foo offset -min_of(10s, step())', ''],
  ['foo offset -min_of(10s, +max_of(step() ^ 2, 2))', 'foo offset -min_of(10s, max_of(step() ^ 2, 2))'],
  ['foo[200-min_of(-step()^+step(),1)]', 'foo[200 - min_of(-step() ^ step(), 1)]'],
  ['foo[200 - min_of(step() + 10s, -max_of(step() ^ 2, 3))]', ''],
  ['foo[range()]', ''],
  ['foo offset -range()', ''],
  ['foo[max_of(range(), 5s)]', ''],
  ['predict_linear(foo[1h], 3000)', ''],
  ['sum by("üüü") (foo)', 'sum by ("üüü") (foo)'],
  ['count by("ööö", job) (foo)', 'count by ("ööö", job) (foo)'],
  ['foo / on("äää") group_left("ööö") bar', 'foo / on ("äää") group_left ("ööö") bar'],
  ['foo / on(legacy, "üüü") bar', 'foo / on (legacy, "üüü") bar'],
  // Matchers sort bytewise; the metric name moves in front of the braces.
  ['sum by (pod) ((kube_pod_container_status_restarts_total{namespace="mynamespace",cluster="mycluster"} - kube_pod_container_status_restarts_total{namespace="mynamespace}",cluster="mycluster}"} offset 10m) >= 1 and ignoring (reason) min_over_time(kube_pod_container_status_last_terminated_reason{namespace="mynamespace",cluster="mycluster",reason="OOMKilled"}[10m]) == 1)',
    'sum by (pod) ((kube_pod_container_status_restarts_total{cluster="mycluster",namespace="mynamespace"} - kube_pod_container_status_restarts_total{cluster="mycluster}",namespace="mynamespace}"} offset 10m) >= 1 and ignoring (reason) min_over_time(kube_pod_container_status_last_terminated_reason{cluster="mycluster",namespace="mynamespace",reason="OOMKilled"}[10m]) == 1)'],
  ['label_replace(testmetric, "dst", "destination-value-$1", "src", "source-value-(.*)")', ''],
  ['{__name__="foo", job="x"}', '{__name__="foo",job="x"}'],
  ['foo{job="x"}', ''],
  // Numbers: Go's 'f' format, shortest digits, signs and specials.
  ['12.34e6', '12340000'],
  ['0x1F + .5', '31 + 0.5'],
  ['1e-7 + 1e21', '0.0000001 + 1000000000000000000000'],
  ['-Inf + NaN - inf', '-Inf + NaN - +Inf'],
  ['- - 1', '1'],
  ['-(1)', '-(1)'],
  ['1m30s', '90'],
  // Strings: Go %q.
  [`'a"b'`, '"a\\"b"'],
  ['"\\x41\\n\\t\\u00e9\\xff"', '"A\\n\\té\\xff"'],
  ['`raw\\n`', '"raw\\\\n"'],
  // Durations: model.Duration, years and weeks only when exact.
  ['foo[90m]', 'foo[1h30m]'],
  ['foo[365d]', 'foo[1y]'],
  ['foo[14d]', 'foo[2w]'],
  ['foo[9d]', 'foo[9d]'],
  ['foo[1001ms]', 'foo[1s1ms]'],
  ['foo[300]', 'foo[5m]'],
  ['rate(foo[5m:])', ''],
  ['foo[1h:] @ 1.5 offset 2w', 'foo[1h:] @ 1.500 offset 2w'],
  // Duration arithmetic keeps what precedence needs.
  ['foo[(step() + 1m) * 2]', ''],
  ['foo[2 ^ 3 ^ step()]', ''],
  ['foo[(2 ^ 3) ^ step()]', ''],
  ['foo[(-step()) ^ 2]', ''],
  ['foo offset -(step() + 1m)', ''],
  ['foo offset (step() * 2)', ''],
];

test('formatExpr gives the canonical form of Prometheus\' printer', () => {
  for (const [input, want] of CANONICAL) {
    const e = parseExpr(input);
    assert.equal(formatExpr(e), want === '' ? input : want, input);
    // And the canonical form is a fixed point.
    assert.equal(formatExpr(parseExpr(formatExpr(e))), formatExpr(e), input);
  }
});

/** Prettier cases at Prometheus' test width of 10 bytes. */
const PRETTY_10: [string, string][] = [
  ['sum(foo)', 'sum(foo)'],
  ['sum by() (task:errors:rate10s{job="s"})', 'sum(\n  task:errors:rate10s{job="s"}\n)'],
  ['sum without(job,foo) (task:errors:rate10s{job="s"})', 'sum without (job, foo) (\n  task:errors:rate10s{job="s"}\n)'],
  ['sum(task:errors:rate10s{job="s"}) without(job,foo)', 'sum without (job, foo) (\n  task:errors:rate10s{job="s"}\n)'],
  ['sum (task:errors:rate10s{job="s"}) by(job,foo)', 'sum by (job, foo) (\n  task:errors:rate10s{job="s"}\n)'],
  ['topk(10, ask:errors:rate10s{job="s"})', 'topk(\n  10,\n  ask:errors:rate10s{job="s"}\n)'],
  ['sum by(job,foo) (sum by(job,foo) (sum by(job,foo) (task:errors:rate10s{job="s"})))',
    'sum by (job, foo) (\n  sum by (job, foo) (\n    sum by (job, foo) (\n      task:errors:rate10s{job="s"}\n    )\n  )\n)'],
  ['sum by(job,foo) # Comment 1.\n(sum by(job,foo) ( # Comment 2.\ntask:errors:rate10s{job="s"}))',
    'sum by (job, foo) (\n  sum by (job, foo) (\n    task:errors:rate10s{job="s"}\n  )\n)'],
  ['a+b', 'a + b'],
  ['a == bool 1', '  a\n== bool\n  1'],
  ['a + ignoring(job) b', '  a\n+ ignoring (job)\n  b'],
  ['foo_1 + foo_2', '  foo_1\n+\n  foo_2'],
  ['foo_1 + foo_2 + foo_3', '    foo_1\n  +\n    foo_2\n+\n  foo_3'],
  ['foo + baar + foo_3', '  foo + baar\n+\n  foo_3'],
  ['foo_1 + ignoring(foo) foo_2 + ignoring(job) group_left foo_3 + on(instance) group_right foo_4',
    '      foo_1\n    + ignoring (foo)\n      foo_2\n  + ignoring (job) group_left ()\n    foo_3\n+ on (instance) group_right ()\n  foo_4'],
  ['rate(foo[1m])', 'rate(\n  foo[1m]\n)'],
  ['rate(long_vector_selector[10m:1m] @ start() offset 1m)', 'rate(\n  long_vector_selector[10m:1m] @ start() offset 1m\n)'],
  ['histogram_quantile(0.9, rate(foo[1m]))', 'histogram_quantile(\n  0.9,\n  rate(\n    foo[1m]\n  )\n)'],
  ['max_over_time(rate(demo_api_request_duration_seconds_count[1m])[1m:] @ start() offset 1m)',
    'max_over_time(\n  rate(\n    demo_api_request_duration_seconds_count[1m]\n  )[1m:] @ start() offset 1m\n)'],
  ['label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*")',
    'label_replace(\n  up{job="api-server",service="a:c"},\n  "foo",\n  "$1",\n  "service",\n  "(.*):.*"\n)'],
  ['(foo)', '(foo)'],
  ['(_foo_long_)', '(\n  _foo_long_\n)'],
  ['((foo_long))', '(\n  (foo_long)\n)'],
  ['((_foo_long_))', '(\n  (\n    _foo_long_\n  )\n)'],
  ['a @ 1', 'a @ 1.000'],
  ['vector_selector @ start()', 'vector_selector @ start()'],
  ['(1 + 2)', '(1 + 2)'],
  ['(foo + bar)', '(\n  foo + bar\n)'],
  ['(foo_long + bar_long)', '(\n    foo_long\n  +\n    bar_long\n)'],
  ['((foo_long + bar_long) + bar_2_long)', '(\n    (\n        foo_long\n      +\n        bar_long\n    )\n  +\n    bar_2_long\n)'],
  ['(1111 + 2222)', '(\n    1111\n  +\n    2222\n)'],
  ['-1', '-1'],
  ['-vector_selector', '-vector_selector'],
  ['(-vector_selector)', '(\n  -vector_selector\n)'],
  ['-histogram_quantile(0.99, sum by (le) (rate(foo[1m])))',
    '-histogram_quantile(\n  0.99,\n  sum by (le) (\n    rate(\n      foo[1m]\n    )\n  )\n)'],
  ['(-histogram_quantile(0.9, -rate(foo[1m] @ start())))',
    '(\n  -histogram_quantile(\n    0.9,\n    -rate(\n      foo[1m] @ start()\n    )\n  )\n)'],
  ['(node_timex_offset_seconds > 0.05 and deriv(node_timex_offset_seconds[5m]) >= 0) or (node_timex_offset_seconds < -0.05 and deriv(node_timex_offset_seconds[5m]) <= 0)',
    `  (
        node_timex_offset_seconds
      >
        0.05
    and
        deriv(
          node_timex_offset_seconds[5m]
        )
      >=
        0
  )
or
  (
        node_timex_offset_seconds
      <
        -0.05
    and
        deriv(
          node_timex_offset_seconds[5m]
        )
      <=
        0
  )`],
  ['(count by (job) (changes(process_start_time_seconds{job="alertmanager"}[10m]) > 4) / count by (job) (up{job="alertmanager"})) >= 0.5',
    `  (
      count by (job) (
          changes(
            process_start_time_seconds{job="alertmanager"}[10m]
          )
        >
          4
      )
    /
      count by (job) (
        up{job="alertmanager"}
      )
  )
>=
  0.5`],
  ['rate(foo[step()*2])', 'rate(\n  foo[step() * 2]\n)'],
];

test('prettify splits like Prometheus\' prettier (test width 10)', () => {
  for (const [input, want] of PRETTY_10) {
    assert.equal(prettify(parseExpr(input), 10), want, input);
  }
});

test('prettify at the real width: short queries stay on one line, long ones split at 100 bytes', () => {
  const q = 'sum(rate(foo{a="b"}[5m])) by (job)';
  assert.equal(prettify(parseExpr(q)), 'sum by (job) (rate(foo{a="b"}[5m]))');
  // Exactly 100 bytes fits; 101 splits. Width counts UTF-8 bytes, not characters.
  const fits = `foo{a="${'x'.repeat(100 - 'foo{a=""}'.length)}"}`;
  assert.equal(Buffer.byteLength(fits), 100);
  assert.equal(prettify(parseExpr(`-${fits}`)), `-${fits}`);
  const at100 = `rate(x{a="${'y'.repeat(100 - 'rate(x{a=""}[5m])'.length)}"}[5m])`;
  assert.equal(prettify(parseExpr(at100)), at100);
  const wide = `rate(x{a="${'é'.repeat(45)}"}[5m])`; // 62 characters, 107 bytes
  assert.equal(prettify(parseExpr(wide)), `rate(\n  x{a="${'é'.repeat(45)}"}[5m]\n)`);
});

test('Go number and duration formatting', () => {
  const f: [number, string, string][] = [
    [0, '0', '0'], [-0, '-0', '-0'], [1, '1', '1'], [-2.5, '-2.5', '-2.5'], [0.1 + 0.2, '0.30000000000000004', '0.30000000000000004'],
    [1e6, '1000000', '1e+06'], [123456, '123456', '123456'], [1234567, '1234567', '1.234567e+06'],
    [1e-4, '0.0001', '0.0001'], [1e-5, '0.00001', '1e-05'], [1.5e-7, '0.00000015', '1.5e-07'],
    [1e21, '1000000000000000000000', '1e+21'], [2 ** 53 + 2, '9007199254740994', '9.007199254740994e+15'],
    [1.7976931348623157e308, '17976931348623157'.padEnd(309, '0'), '1.7976931348623157e+308'],
    [5e-324, `0.${'0'.repeat(323)}5`, '5e-324'],
    [Infinity, '+Inf', '+Inf'], [-Infinity, '-Inf', '-Inf'], [NaN, 'NaN', 'NaN'],
  ];
  for (const [v, fmtF, fmtV] of f) {
    assert.equal(goFloatF(v), fmtF, String(v));
    assert.equal(goFloatV(v), fmtV, String(v));
  }
  const d: [number, string][] = [
    [0, '0s'], [1, '1ms'], [1500, '1s500ms'], [5_400_000, '1h30m'], [86_400_000 * 7, '1w'], [86_400_000 * 9, '9d'],
    [86_400_000 * 365, '1y'], [86_400_000 * 366, '366d'], [86_400_000 * 730 + 1000, '730d1s'], [86_400_000 * 14, '2w'],
  ];
  for (const [ms, s] of d) assert.equal(modelDuration(ms), s, String(ms));
});

test('every expression of the conformance corpus prints to text that parses back to the same form', () => {
  const dir = resolve('conformance/promql'); // tests run from the repository root
  const re = /^eval(?:_\w+)? (?:instant at \S+|range from \S+ to \S+ step \S+) (.+)$/;
  let checked = 0;
  let split = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.test'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const m = re.exec(line);
      if (!m) continue;
      let e;
      try {
        e = parseExpr(m[1]!);
      } catch {
        continue; // queries that must fail to parse
      }
      const canon = formatExpr(e);
      assert.equal(formatExpr(parseExpr(canon)), canon, `${f}: ${m[1]}`);
      for (const w of [100, 20]) {
        const p = prettify(e, w);
        if (p.includes('\n')) split++;
        assert.equal(formatExpr(parseExpr(p)), canon, `${f} (width ${w}): ${m[1]}`);
      }
      checked++;
    }
  }
  assert.ok(checked > 1500, `only ${checked} expressions checked`);
  assert.ok(split > 500, `only ${split} split`);
});

/**
 * Real-world queries whose format_query answer is the same in Prometheus 2.42 and 3.x (2.42
 * prints numbers with %v, so none here is ≥ 1e6 or < 1e-4, and it lacks UTF-8 names).
 */
const VERSUS_PROMETHEUS = [
  'sum(rate(foo{a="b"}[5m])) by (job)',
  'sum without(instance) (rate(http_requests_total{job="api", code=~"5.."}[5m]))',
  'topk(5, sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="monitoring",container!=""}[5m])))',
  'count_values("version", build_info{job="prometheus"})',
  'count_values("version_label_name", build_info_metric_with_long_name{job="some-long-job-name", instance="x"})',
  'quantile(0.9, rate(foo[1m]))',
  'histogram_quantile(0.99, sum by (le, job) (rate(prometheus_http_request_duration_seconds_bucket{handler="/api/v1/query"}[5m])))',
  'label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*")',
  'label_replace(label_replace(up{job="api-server",service="a:c"}, "foo", "$1", "service", "(.*):.*"), "foo", "$1", "service", "(.*):.*")',
  '(node_filesystem_avail_bytes{job="node",fstype!=""} / node_filesystem_size_bytes{job="node",fstype!=""} * 100 < 40 and predict_linear(node_filesystem_avail_bytes{job="node",fstype!=""}[6h], 24*60*60) < 0 and node_filesystem_readonly{job="node",fstype!=""} == 0)',
  '(node_timex_offset_seconds > 0.05 and deriv(node_timex_offset_seconds[5m]) >= 0) or (node_timex_offset_seconds < -0.05 and deriv(node_timex_offset_seconds[5m]) <= 0)',
  '1 - ((node_memory_MemAvailable_bytes{job="node"} or (node_memory_Buffers_bytes{job="node"} + node_memory_Cached_bytes{job="node"} + node_memory_MemFree_bytes{job="node"} + node_memory_Slab_bytes{job="node"}) ) / node_memory_MemTotal_bytes{job="node"})',
  'min by (job, integration) (rate(alertmanager_notifications_failed_total{job="alertmanager", integration=~".*"}[5m]) / rate(alertmanager_notifications_total{job="alertmanager", integration="~.*"}[5m])) > 0.01',
  '(count by (job) (changes(process_start_time_seconds{job="alertmanager"}[10m]) > 4) / count by (job) (up{job="alertmanager"})) >= 0.5',
  'max_over_time(rate(demo_api_request_duration_seconds_count{instance="demo-service-0:10000"}[1m])[30m:1m] @ start() offset 1h)',
  'quantile_over_time(0.9, some_metric_name{job="aaaaaaaaaaaaaaaaaaaa",instance="bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}[5m:1m])',
  'max_over_time(some_metric_name{job="aaaaaaaaaaaaaaaaaaaa",instance="bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}[5m:1m]) / 2',
  '-histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="api-server",verb!="WATCH"}[5m])))',
  '-(sum by (job) (rate(http_requests_total_with_a_long_name{job="api-server",instance="localhost:9090"}[5m])))',
  'sum by (namespace) (kube_pod_container_resource_requests{resource="cpu"}) / on (namespace) group_left (team) kube_namespace_labels{label_team!=""}',
  'rate(http_requests_total[5m] offset -1h) > bool on (job) group_right (instance) avg by (job) (rate(http_requests_total[5m] @ 1609746000))',
  'rate(foo[90m]) + rate(foo[7d]) + rate(foo[365d]) + rate(foo[9d]) + rate(foo[1001ms]) + rate(foo[14d] offset 1y)',
  '{__name__=~"job:.*", job="prometheus"}',
  'sum({__name__="up"})',
  '"a\\"b\\\\c\\n\\t"',
  '0x1F + 1.5 * -0.05 / Inf - NaN',
  'vector(1) and on() vector(NaN)',
  'absent(nonexistent{job="myjob", instance=~".+"}) unless ignoring(job) up',
  'sort_desc(sum by (instance) (irate(node_network_receive_bytes_total{device!~"lo|veth.*|docker.*|flannel.*|cali.*|cbr.*"}[2m])))',
  'time() - process_start_time_seconds{job="prometheus"} < 60 * 5',
  'sum by (job) (up == bool 1) / count by (job) (up) * 100 > 50 unless sum by (job) (rate(prometheus_tsdb_head_samples_appended_total[5m])) == 0',
  'clamp_max(predict_linear(node_filesystem_free_bytes{mountpoint="/",fstype=~"ext4|xfs"}[1h], 4 * 3600), 1e5)',
  'round(avg_over_time(up[1d:5m] offset 1w), 0.001)',
  'bottomk(3, avg by (instance) (node_load1)) or topk(3, avg by (instance) (node_load5)) or topk(3, avg by (instance) (node_load15))',
  '((foo_long_metric_name_number_one + bar_long_metric_name_number_two) + baz_long_metric_name_number_three_is_here)',
  'sum without (instance) (rate(a[5m])) / ignoring (code) group_left sum without (instance, code) (rate(a_total_long_long[5m]))',
  'stddev_over_time(foo[1h]) / avg_over_time(foo[1h]) > bool 0.5 and on (instance, job, mountpoint, device, fstype) up == 1',
  'count(count by (version) (label_replace(prometheus_build_info{job="prometheus"}, "version", "$1", "version", "(.*)")))',
];

test('prettify equals the format_query answer of a real Prometheus', { skip: !hasPrometheus() && `no ${PROMETHEUS_BIN}` }, async () => {
  const prom = await startPrometheus();
  try {
    let split = 0;
    for (const q of VERSUS_PROMETHEUS) {
      const r = await fetch(`${prom.url}/api/v1/format_query`, { method: 'POST', body: new URLSearchParams({ query: q }) });
      const body = await r.json() as { status: string; data: string };
      assert.equal(body.status, 'success', q);
      const ours = prettify(parseExpr(q));
      assert.equal(ours, body.data, q);
      if (ours.includes('\n')) split++;
    }
    assert.ok(split >= 15, `only ${split} of the compared queries split`);
  } finally {
    await prom.stop();
  }
});
