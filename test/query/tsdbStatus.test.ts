/**
 * The cardinality lists of /api/v1/status/tsdb (src/query/tsdbStatus.ts): a hand-counted head,
 * limits and tie order, and, where /usr/bin/prometheus (2.42) is installed, the same series
 * remote-written into a real Prometheus must give the same lists in its own /api/v1/status/tsdb.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Labels } from '../../src/model/labels.js';
import { cardinalityStats, compareCodePoints, type TsdbStat } from '../../src/query/tsdbStatus.js';
import { isSluiceError } from '../../src/errors.js';
import { encodeBody, RW_HEADERS, series, startNode } from '../helpers/node.js';
import { hasPrometheus, PROMETHEUS_BIN, startPrometheus } from '../helpers/prometheus.js';
import { Rng } from '../helpers/prng.js';

const ls = (o: Record<string, string>): Labels => Object.keys(o).sort().map((k) => [k, o[k]!]);

test('a small head, counted by hand', () => {
  const head = [
    ls({ __name__: 'up', job: 'api', instance: 'a:1' }),
    ls({ __name__: 'up', job: 'api', instance: 'b:1' }),
    ls({ __name__: 'up', job: 'db', instance: 'c:1' }),
    ls({ __name__: 'http_requests_total', job: 'api', instance: 'a:1', code: '200' }),
    ls({ __name__: 'http_requests_total', job: 'api', instance: 'a:1', code: '500' }),
    ls({ __name__: 'go_goroutines', job: 'api', instance: 'a:1' }),
  ];
  const s = cardinalityStats(head);
  assert.equal(s.numSeries, 6);
  // __name__ ×3, job ×2, instance ×3, code ×2.
  assert.equal(s.numLabelPairs, 10);
  assert.deepEqual(s.seriesCountByMetricName, [
    { name: 'up', value: 3 }, { name: 'http_requests_total', value: 2 }, { name: 'go_goroutines', value: 1 },
  ]);
  assert.deepEqual(s.labelValueCountByLabelName, [
    { name: '__name__', value: 3 }, { name: 'instance', value: 3 }, { name: 'code', value: 2 }, { name: 'job', value: 2 },
  ]);
  // Bytes of the distinct values: "up"+"http_requests_total"+"go_goroutines" = 2+19+13.
  assert.deepEqual(s.memoryInBytesByLabelName, [
    { name: '__name__', value: 34 }, { name: 'instance', value: 9 }, { name: 'code', value: 6 }, { name: 'job', value: 5 },
  ]);
  assert.deepEqual(s.seriesCountByLabelValuePair, [
    { name: 'job=api', value: 5 }, { name: 'instance=a:1', value: 4 }, { name: '__name__=up', value: 3 },
    { name: '__name__=http_requests_total', value: 2 }, { name: '__name__=go_goroutines', value: 1 },
    { name: 'code=200', value: 1 }, { name: 'code=500', value: 1 }, { name: 'instance=b:1', value: 1 },
    { name: 'instance=c:1', value: 1 }, { name: 'job=db', value: 1 },
  ]);
});

test('limit keeps the largest; ties go by name in UTF-8 byte order; bytes are UTF-8', () => {
  const head: Labels[] = [];
  for (let i = 0; i < 30; i++) {
    for (let k = 0; k <= i; k++) head.push(ls({ __name__: `m${String(i).padStart(2, '0')}`, k: String(k) }));
  }
  const s = cardinalityStats(head, 3);
  assert.deepEqual(s.seriesCountByMetricName, [{ name: 'm29', value: 30 }, { name: 'm28', value: 29 }, { name: 'm27', value: 28 }]);
  // 30 series each for __name__=m29 and k=0: the tie goes by name ('_' < 'k').
  assert.deepEqual(s.seriesCountByLabelValuePair, [
    { name: '__name__=m29', value: 30 }, { name: 'k=0', value: 30 }, { name: '__name__=m28', value: 29 },
  ]);
  assert.equal(s.numSeries, 465);
  assert.equal(s.numLabelPairs, 60);
  assert.equal(cardinalityStats(head, 1000).seriesCountByLabelValuePair.length, 60);

  // Equal counts: U+FF5E (3 UTF-8 bytes, 0xEF…) sorts before U+1F600 (0xF0…), unlike UTF-16 order.
  const tie = cardinalityStats([ls({ __name__: 'x', a: '\u{1F600}' }), ls({ __name__: 'x', a: '\uFF5E' }), ls({ __name__: 'x', a: 'z' })]);
  assert.deepEqual(tie.seriesCountByLabelValuePair.map((x) => x.name), ['__name__=x', 'a=z', 'a=\uFF5E', 'a=\u{1F600}']);
  assert.ok('\u{1F600}' < '\uFF5E'); // the order plain string comparison would give
  assert.ok(compareCodePoints('\uFF5E', '\u{1F600}') < 0);
  assert.equal(tie.memoryInBytesByLabelName.find((x) => x.name === 'a')!.value, 4 + 3 + 1);

  const empty = cardinalityStats([]);
  assert.deepEqual(empty, {
    seriesCountByMetricName: [], labelValueCountByLabelName: [], memoryInBytesByLabelName: [], seriesCountByLabelValuePair: [],
    numSeries: 0, numLabelPairs: 0,
  });
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => cardinalityStats([], bad), (e: unknown) => isSluiceError(e) && e.message === 'limit must be a positive number');
  }
});

test('top lists agree with a brute-force sort on random heads', () => {
  const rng = new Rng(7);
  for (let round = 0; round < 20; round++) {
    const head: Labels[] = [];
    const n = rng.int(0, 400);
    for (let i = 0; i < n; i++) {
      const o: Record<string, string> = { __name__: `metric_${rng.int(0, 30)}` };
      for (const l of ['a', 'b', 'c', 'd']) if (rng.chance(0.6)) o[l] = `v${rng.int(0, rng.int(1, 50))}`;
      head.push(ls(o));
    }
    const limit = rng.int(1, 15);
    const got = cardinalityStats(head, limit);
    const all = cardinalityStats(head, 1e9);
    const order = (a: TsdbStat, b: TsdbStat): number => b.value - a.value || compareCodePoints(a.name, b.name);
    for (const key of ['seriesCountByMetricName', 'labelValueCountByLabelName', 'memoryInBytesByLabelName', 'seriesCountByLabelValuePair'] as const) {
      assert.deepEqual(got[key], [...all[key]].sort(order).slice(0, limit), `${key}, round ${round}`);
    }
  }
});

test('the same series in a real Prometheus give the same status lists', { skip: !hasPrometheus() && `no ${PROMETHEUS_BIN}` }, async () => {
  // 12 metrics, each with its own number of series and label values, some labels shared.
  const head: Labels[] = [];
  const rng = new Rng(3);
  for (let m = 0; m < 12; m++) {
    const n = 1 + m * 3 + rng.int(0, 2);
    for (let i = 0; i < n; i++) {
      const o: Record<string, string> = { __name__: `metric_${m}_${'x'.repeat(m)}`, job: `job-${m % 4}`, idx: String(i) };
      if (i % 3 === 0) o['zone'] = `zone-ü-${i % 5}`;
      head.push(ls(o));
    }
  }
  const prom = await startPrometheus();
  const base = prom.url;
  try {
    const now = Date.now();
    const body = encodeBody({ timeseries: head.map((l) => series(Object.fromEntries(l), [[now, 1]])) });
    const w = await fetch(`${base}/api/v1/write`, { method: 'POST', body, headers: RW_HEADERS });
    assert.equal(w.status, 204, await w.text());
    const r = await fetch(`${base}/api/v1/status/tsdb`);
    const theirs = (await r.json() as { data: Record<string, unknown> & { headStats: { numSeries: number; numLabelPairs: number } } }).data;

    const ours = cardinalityStats(head);
    const all = cardinalityStats(head, 1e9);
    assert.equal(theirs.headStats.numSeries, ours.numSeries);
    assert.equal(theirs.headStats.numLabelPairs, ours.numLabelPairs);
    for (const key of ['seriesCountByMetricName', 'labelValueCountByLabelName', 'memoryInBytesByLabelName', 'seriesCountByLabelValuePair'] as const) {
      const list = theirs[key] as TsdbStat[];
      // Prometheus leaves ties in map order: the values must be the same, and each name it lists
      // must carry the value we compute for it.
      assert.deepEqual(list.map((x) => x.value), ours[key].map((x) => x.value), key);
      for (const x of list) assert.equal(all[key].find((y) => y.name === x.name)?.value, x.value, `${key}: ${x.name}`);
    }

    // The same series remote-written to a Sluice receiver: its /api/v1/status/tsdb agrees too.
    const n = await startNode(['--receive.shards=2', '--receive.gateways=1']);
    try {
      const sw = await fetch(`${n.writeUrl}/api/v1/receive`, { method: 'POST', body, headers: RW_HEADERS });
      assert.equal(sw.status, 200, await sw.text());
      const sr = await fetch(`${n.httpUrl}/api/v1/status/tsdb`);
      assert.equal(sr.status, 200);
      const sluice = (await sr.json() as { data: Record<string, unknown> & { headStats: { numSeries: number; numLabelPairs: number; minTime: number; maxTime: number } } }).data;
      assert.equal(sluice.headStats.numSeries, theirs.headStats.numSeries);
      assert.equal(sluice.headStats.numLabelPairs, theirs.headStats.numLabelPairs);
      assert.equal(sluice.headStats.minTime, now);
      assert.equal(sluice.headStats.maxTime, now);
      for (const key of ['seriesCountByMetricName', 'labelValueCountByLabelName', 'memoryInBytesByLabelName', 'seriesCountByLabelValuePair'] as const) {
        const list = theirs[key] as TsdbStat[];
        const got = sluice[key] as TsdbStat[];
        assert.deepEqual(got.map((x) => x.value), list.map((x) => x.value), `sluice ${key}`);
        for (const x of got) assert.equal(all[key].find((y) => y.name === x.name)?.value, x.value, `sluice ${key}: ${x.name}`);
      }
      const lim = await fetch(`${n.httpUrl}/api/v1/status/tsdb?limit=3`);
      assert.equal(((await lim.json()) as { data: { seriesCountByMetricName: unknown[] } }).data.seriesCountByMetricName.length, 3);
      const bad = await fetch(`${n.httpUrl}/api/v1/status/tsdb?limit=0`);
      assert.equal(bad.status, 400);
    } finally {
      await n.stop();
    }
  } finally {
    await prom.stop();
  }
});
