/**
 * /api/v1/format_query through HTTP on a real receiver: GET and POST (form) answer Prometheus'
 * prettified expression in the success envelope, split over lines once longer than 100 bytes;
 * a query that does not parse is a 400 bad_data with Prometheus' message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getJson, startNode } from '../helpers/node.js';

test('format_query prettifies over GET and POST; a bad query is 400 bad_data', async () => {
  const n = await startNode(['--receive.shards=1', '--receive.gateways=1']);
  try {
    const url = (q: string): string => `${n.httpUrl}/api/v1/format_query?query=${encodeURIComponent(q)}`;

    const r = await getJson(url('sum(rate(foo{a="b"}[5m])) by (job)'));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'success', data: 'sum by (job) (rate(foo{a="b"}[5m]))' });

    const long = 'topk(5, sum without(instance, pod) (rate(container_cpu_usage_seconds_total{namespace="monitoring",container!=""}[5m])))';
    const p = await fetch(`${n.httpUrl}/api/v1/format_query`, { method: 'POST', body: new URLSearchParams({ query: long }) });
    assert.equal(p.status, 200);
    assert.deepEqual(await p.json(), {
      status: 'success',
      data: 'topk(\n  5,\n  sum without (instance, pod) (\n'
        + '    rate(container_cpu_usage_seconds_total{container!="",namespace="monitoring"}[5m])\n  )\n)',
    });

    const bad = await getJson(url('sum(foo'));
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, {
      status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:8: parse error: unclosed left parenthesis',
    });
    const typeErr = await getJson(url('rate(foo)'));
    assert.equal(typeErr.status, 400);
    assert.equal(typeErr.body.error, 'invalid parameter "query": 1:6: parse error: expected type range vector in call to function "rate", got instant vector');

    const none = await getJson(`${n.httpUrl}/api/v1/format_query`);
    assert.equal(none.status, 400);
    assert.equal(none.body.errorType, 'bad_data');
    assert.match(none.body.error!, /^invalid parameter "query": .*no expression found in input$/);
  } finally {
    await n.stop();
  }
});
