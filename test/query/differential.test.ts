/**
 * PromQL differential test: the same seeded dataset is remote-written, in the same batches, to an
 * in-process Sluice node and to a real Prometheus 2.42 child; then every query of the battery
 * (test/query/differential/queries.ts) runs on both as instant queries at several times and, where
 * it makes sense, as one range query, and the answers must be equal (compare.ts: same series,
 * timestamps, values within 1e-9 relative). Skipped only when the Prometheus binary is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBody, RW_HEADERS, startNode, type TestNode } from '../helpers/node.js';
import type { SampleMsg, TimeSeriesMsg } from '../../src/proto/schema.js';
import { diffReplies, type ApiReply } from './differential/compare.js';
import { hasPrometheus, PROMETHEUS_BIN, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { buildDataset, EXCLUDED, INSTANT_TIMES, QUERIES, RANGE, SCRAPE, sec, STEPS, T0, type DiffQuery } from './differential/queries.js';

/** Labels Sluice adds to every series that Prometheus does not have (Thanos' tenant label). */
const SLUICE_ONLY_LABELS = ['tenant_id'];
/** Scrape slots per remote-write request (5 minutes). */
const SLOTS_PER_BATCH = 20;
/** Queries in flight at once (per server). */
const PARALLEL = 4;
/**
 * Slots after which Sluice's head is flushed into blocks (30 and 50 minutes), so that queries
 * read local blocks and the head together, with series (b3's gap, b4's stale marker, the
 * histogram reset) crossing the cuts. Prometheus keeps everything in its head.
 */
const FLUSH_AFTER_SLOTS: readonly number[] = [120, 200];

/**
 * writeBoth sends the dataset to both servers in time order, the same batches to each. Samples
 * go straight from the Float64Array into sample objects (not through helpers' `series`, whose
 * [t, v] pairs are plain arrays that would quiet the stale markers' NaN).
 */
async function writeBoth(sluice: TestNode, prom: PrometheusServer): Promise<number> {
  const data = buildDataset();
  let samples = 0;
  for (let from = 0; from < STEPS; from += SLOTS_PER_BATCH) {
    const lo = T0 + from * SCRAPE;
    const hi = lo + SLOTS_PER_BATCH * SCRAPE;
    const ts: TimeSeriesMsg[] = [];
    for (const s of data) {
      const pts: SampleMsg[] = [];
      for (let k = 0; k < s.t.length; k++) if (s.t[k]! >= lo && s.t[k]! < hi) pts.push({ timestamp: s.t[k]!, value: s.v[k]! });
      if (pts.length === 0) continue;
      ts.push({ labels: Object.keys(s.labels).sort().map((name) => ({ name, value: s.labels[name]! })), samples: pts });
      samples += pts.length;
    }
    const body = encodeBody({ timeseries: ts });
    for (const url of [`${sluice.writeUrl}/api/v1/receive`, prom.writeUrl]) {
      const r = await fetch(url, { method: 'POST', body, headers: RW_HEADERS });
      const text = await r.text();
      assert.ok(r.status >= 200 && r.status < 300, `write to ${url}: ${r.status} ${text}`);
    }
    if (FLUSH_AFTER_SLOTS.includes(from + SLOTS_PER_BATCH)) {
      const { ulids } = await sluice.node.flush();
      assert.ok(ulids.length > 0, `flush after slot ${from + SLOTS_PER_BATCH} wrote a block`);
    }
  }
  return samples;
}

/** Run is one HTTP query: a battery entry at one instant, or over the range. */
interface Run {
  entry: DiffQuery;
  label: string;
  params: string;
  path: '/api/v1/query' | '/api/v1/query_range';
}

/** runsOf lists the HTTP queries one battery entry is compared by, less the excluded ones. */
function runsOf(entry: DiffQuery): Run[] {
  const excluded = EXCLUDED.get(entry.q)?.runs;
  if (excluded === 'all') return [];
  const q = `query=${encodeURIComponent(entry.q)}`;
  const out: Run[] = INSTANT_TIMES.map((t) => ({ entry, label: `instant @T0+${t}s`, params: `${q}&time=${sec(t)}`, path: '/api/v1/query' }));
  if (entry.instantOnly !== true && excluded !== 'range') {
    out.push({
      entry, label: `range T0+${RANGE.start}s..T0+${RANGE.end}s step ${RANGE.step}s`,
      params: `${q}&start=${sec(RANGE.start)}&end=${sec(RANGE.end)}&step=${RANGE.step}`, path: '/api/v1/query_range',
    });
  }
  return out;
}

/** fetchReply runs one query on one server; a body that is not JSON becomes an error reply. */
async function fetchReply(base: string, run: Run): Promise<ApiReply> {
  const r = await fetch(`${base}${run.path}?${run.params}`);
  const text = await r.text();
  try {
    return JSON.parse(text) as ApiReply;
  } catch {
    return { status: 'error', errorType: `http ${r.status}`, error: text.slice(0, 200) };
  }
}

test('PromQL differential: Sluice answers the battery like Prometheus 2.42', { skip: !hasPrometheus() && `no ${PROMETHEUS_BIN}`, timeout: 120_000 }, async (t) => {
  const started = await Promise.allSettled([startNode(['--receive.shards=1', '--receive.gateways=1']), startPrometheus()]);
  const [s0, p0] = started;
  if (s0.status === 'rejected' || p0.status === 'rejected') {
    await Promise.allSettled(started.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
    throw s0.status === 'rejected' ? s0.reason : (p0 as PromiseRejectedResult).reason;
  }
  const sluice = s0.value;
  const prom = p0.value;
  try {
    const samples = await writeBoth(sluice, prom);
    const texts = QUERIES.map((e) => e.q);
    assert.equal(new Set(texts).size, texts.length, 'battery entries are distinct');
    assert.deepEqual([...EXCLUDED.keys()].filter((q) => !texts.includes(q)), [], 'every exclusion names a battery entry');

    const entries = QUERIES.filter((e) => EXCLUDED.get(e.q)?.runs !== 'all');
    const runs = entries.flatMap(runsOf);
    const failures = new Map<string, string>();
    let prometheusErrors = 0;
    const succeeded = new Set<string>();
    const nonEmpty = new Set<string>();
    const failedRuns: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < runs.length) {
        const run = runs[next++]!;
        const [want, got] = await Promise.all([fetchReply(prom.url, run), fetchReply(sluice.httpUrl, run)]);
        if (want.status !== 'success') { prometheusErrors++; failedRuns.push(`${run.entry.q} (${run.label}): ${want.error ?? ''}`); }
        else succeeded.add(run.entry.q);
        if (want.status === 'success' && (!Array.isArray(want.data!.result) || want.data!.result.length > 0)) nonEmpty.add(run.entry.q);
        const diff = diffReplies(want, got, SLUICE_ONLY_LABELS, run.entry.ordered === true);
        if (diff !== null && !failures.has(run.entry.q)) failures.set(run.entry.q, `${run.label}: ${diff}`);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));

    t.diagnostic(`${samples} samples written; ${entries.length} queries compared in ${runs.length} runs ` +
      `(${prometheusErrors} refused by Prometheus, which Sluice must refuse alike); ${nonEmpty.size} queries with a non-empty answer; ` +
      `${EXCLUDED.size} exclusions (${[...EXCLUDED.values()].filter((x) => x.runs === 'all').length} whole queries); ${failures.size} differ`);
    for (const f of failedRuns) t.diagnostic(`prometheus refused: ${f}`);
    assert.ok(entries.length >= 200, `at least 200 queries compared, got ${entries.length}`);
    assert.ok(nonEmpty.size >= 200, `at least 200 queries with a non-empty answer, got ${nonEmpty.size}`);
    assert.deepEqual(
      entries.filter((e) => failures.has(e.q)).map((e) => `${e.q}\n    ${failures.get(e.q)!}`),
      [],
      'queries whose answers differ from Prometheus 2.42',
    );
    // Every query must succeed on Prometheus at least once, or it would compare nothing of value.
    assert.deepEqual(entries.filter((e) => !succeeded.has(e.q)).map((e) => e.q), [], 'queries Prometheus refused at every time');
  } finally {
    await Promise.allSettled([sluice.stop(), prom.stop()]);
  }
});
