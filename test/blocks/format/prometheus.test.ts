import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBlock } from '../../../src/blocks/writer.js';
import { freePort, waitReady } from '../../helpers/node.js';
import { generate, valueOf } from './fixtures.js';

const PROMETHEUS = '/usr/bin/prometheus';
const root = mkdtempSync(join(tmpdir(), 'sluice-blocks-prom-'));
let child: ChildProcess | null = null;
after(async () => {
  await stop(child);
  rmSync(root, { recursive: true, force: true });
});

/** stop sends SIGTERM, waits up to 5 s for the exit, then SIGKILLs. */
async function stop(c: ChildProcess | null): Promise<void> {
  if (c === null || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

interface QueryResult {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[] };
}

const skip = existsSync(PROMETHEUS) ? false : `${PROMETHEUS} not installed`;

test('Prometheus 2.42 opens our block and answers queries with the samples we wrote', { skip, timeout: 60_000 }, async () => {
  const H = 3600_000;
  const STEP = 15_000;
  // A whole 2h block that ended at least an hour ago, so the (empty) head does not overlap it.
  const mint = Math.floor((Date.now() - 3 * H) / (2 * H)) * 2 * H;
  const maxt = mint + 2 * H;
  const fx = generate(31, { numSeries: 200, mint, maxt, interval: STEP, exact: true });
  const data = join(root, 'data');
  mkdirSync(data);
  const res = await writeBlock(data, {
    mint, maxt, symbols: fx.symbols, series: fx.series,
    thanos: { labels: { tenant_id: 'default-tenant' }, source: 'receive' },
  });
  const config = join(root, 'prometheus.yml');
  writeFileSync(config, 'global:\n  scrape_interval: 1m\n');
  const port = await freePort();
  let log = '';
  child = spawn(PROMETHEUS, [
    `--config.file=${config}`, `--storage.tsdb.path=${data}`, '--storage.tsdb.retention.time=10y',
    `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitReady(`${base}/-/ready`, child, 30_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${log}`);
  }
  assert.match(log, new RegExp(`ulid=${res.ulid}`), 'Prometheus loaded the block');

  const get = async (path: string, params: Record<string, string>): Promise<QueryResult> => {
    const r = await fetch(`${base}${path}?${new URLSearchParams(params)}`);
    const body = await r.json() as QueryResult;
    assert.equal(r.status, 200, JSON.stringify(body));
    return body;
  };

  // Every series is there: at a time inside the block each one has a sample within the lookback.
  const mid = String((mint + H) / 1000);
  const count = await get('/api/v1/query', { query: 'count({__name__=~".+"})', time: mid });
  assert.equal(Number(count.data.result[0]!.value![1]), fx.series.length);

  // A few whole series through query_range, at the sample timestamps: every value equal.
  for (const i of [0, 1, 57, 123, fx.series.length - 1]) {
    const s = fx.series[i]!;
    const selector = `{${s.labels.map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(',')}}`;
    const first = s.samples[0]!.t;
    const last = s.samples[s.samples.length - 1]!.t;
    const q = await get('/api/v1/query_range', {
      query: selector, start: String(first / 1000), end: String(last / 1000), step: String(STEP / 1000),
    });
    assert.equal(q.data.result.length, 1, selector);
    const r = q.data.result[0]!;
    assert.deepEqual(r.metric, Object.fromEntries(s.labels));
    assert.equal(r.values!.length, s.samples.length, `points of ${selector}`);
    for (let k = 0; k < s.samples.length; k++) {
      const [t, v] = r.values![k]!;
      assert.equal(Math.round(t * 1000), s.samples[k]!.t);
      assert.equal(Number(v), valueOf(s.samples[k]!), `${selector} at ${t}`);
    }
  }

  // A label-values lookup goes through our postings offset table.
  const names = await fetch(`${base}/api/v1/label/__name__/values`).then((r) => r.json()) as { data: string[] };
  assert.deepEqual(names.data, [...new Set(fx.series.map((s) => s.labels[0]![1]))].sort());

  await stop(child);
  assert.doesNotMatch(log, /level=error/, 'no errors logged');
  child = null;
});
