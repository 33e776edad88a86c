import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeBlock, type BlockSeries } from '../../../src/blocks/writer.js';
import { BlockReader } from '../../../src/blocks/reader.js';
import { decodeChunk, generate, keyOf, valueOf, type Fixture } from './fixtures.js';
import { parseDumpLine } from './gosyntax.js';

const run = promisify(execFile);
const PROMTOOL = '/usr/bin/promtool';
const root = mkdtempSync(join(tmpdir(), 'sluice-blocks-promtool-'));
after(() => rmSync(root, { recursive: true, force: true }));

const H = 3600_000;
const MINT = 1_700_000_000_000 - (1_700_000_000_000 % (2 * H));
const MAXT = MINT + 2 * H;

/** writeDb writes one block into a fresh data directory (with the empty wal/ promtool expects). */
async function writeDb(name: string, fx: Fixture): Promise<{ db: string; ulid: string }> {
  const db = join(root, name);
  mkdirSync(join(db, 'wal'), { recursive: true });
  const res = await writeBlock(db, {
    mint: MINT, maxt: MAXT, symbols: fx.symbols, series: fx.series,
    thanos: { labels: { tenant_id: 'default-tenant' }, source: 'receive' },
  });
  return { db, ulid: res.ulid };
}

/** dump runs promtool tsdb dump and groups its lines per series. */
async function dump(db: string, minT?: number, maxT?: number): Promise<Map<string, { t: number; v: number }[]>> {
  const args = ['tsdb', 'dump'];
  if (minT !== undefined) args.push(`--min-time=${minT}`);
  if (maxT !== undefined) args.push(`--max-time=${maxT}`);
  args.push(db);
  const { stdout } = await run(PROMTOOL, args, { maxBuffer: 256 * 1024 * 1024 });
  const out = new Map<string, { t: number; v: number }[]>();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const d = parseDumpLine(line);
    const k = keyOf(d.labels);
    let l = out.get(k);
    if (l === undefined) out.set(k, (l = []));
    l.push({ t: d.t, v: d.value });
  }
  return out;
}

function sameValue(got: number, want: number): boolean {
  return Number.isNaN(want) ? Number.isNaN(got) : Object.is(got, want) || got === want;
}

const skip = existsSync(PROMTOOL) ? false : `${PROMTOOL} not installed`;

test('promtool tsdb analyze reads our block and counts what we wrote', { skip }, async () => {
  const fx = generate(21, { numSeries: 800, mint: MINT, maxt: MAXT, interval: 15_000, unicode: true });
  const { db, ulid } = await writeDb('analyze', fx);
  const { stdout } = await run(PROMTOOL, ['tsdb', 'analyze', db, ulid], { maxBuffer: 64 * 1024 * 1024 });
  const names = new Set<string>();
  const pairs = new Set<string>();
  let entries = 0;
  for (const s of fx.series) {
    for (const [n, v] of s.labels) {
      names.add(n);
      pairs.add(`${n}\xff${v}`);
      entries++;
    }
  }
  assert.match(stdout, new RegExp(`^Block ID: ${ulid}$`, 'm'));
  assert.match(stdout, /^Duration: 2h0m0s$/m);
  assert.match(stdout, new RegExp(`^Series: ${fx.series.length}$`, 'm'));
  assert.match(stdout, new RegExp(`^Label names: ${names.size}$`, 'm'));
  assert.match(stdout, new RegExp(`^Postings \\(unique label pairs\\): ${pairs.size}$`, 'm'));
  assert.match(stdout, new RegExp(`^Postings entries \\(total label pairs\\): ${entries}$`, 'm'));
  const names5 = stdout.slice(stdout.indexOf('Highest cardinality metric names:')).split('\n').slice(1, 6);
  const byName = new Map<string, number>();
  for (const s of fx.series) byName.set(s.labels[0]![1], (byName.get(s.labels[0]![1]) ?? 0) + 1);
  for (const l of names5) {
    const [n, name] = l.split(' ');
    assert.equal(Number(n), byName.get(name!), `series of ${name}`);
  }
});

test('promtool tsdb dump prints exactly the samples we wrote, in full and for a time range', { skip }, async () => {
  const fx = generate(22, { numSeries: 300, mint: MINT, maxt: MAXT, interval: 15_000, unicode: true });
  const { db } = await writeDb('dump', fx);
  for (const [minT, maxT] of [[undefined, undefined], [MINT + 20 * 60_000, MINT + 50 * 60_000 - 1]] as const) {
    const got = await dump(db, minT, maxT);
    const order: string[] = [];
    for (const s of fx.series) {
      const samples = s.samples.filter((x) => (minT === undefined || x.t >= minT) && (maxT === undefined || x.t <= maxT));
      if (samples.length === 0) continue;
      order.push(keyOf(s.labels));
      const g = got.get(keyOf(s.labels));
      assert.ok(g, `series ${keyOf(s.labels)} dumped`);
      assert.deepEqual(g.map((x) => x.t), samples.map((x) => x.t), `timestamps of ${keyOf(s.labels)}`);
      for (let i = 0; i < samples.length; i++) {
        assert.ok(sameValue(g[i]!.v, valueOf(samples[i]!)), `value ${i} of ${keyOf(s.labels)}: ${g[i]!.v} vs ${valueOf(samples[i]!)}`);
      }
    }
    // Same series, in the same (byte) order: Prometheus walks the index in series-ref order.
    assert.deepEqual([...got.keys()], order, `series dumped for [${minT}, ${maxT}]`);
  }
});

test('Prometheus writes the same bytes: a block made by promtool, read by us and rewritten from its chunks, is identical', { skip }, async () => {
  // promtool builds a block from OpenMetrics text with Prometheus' own head and writers.
  const fx = generate(23, { numSeries: 150, mint: MINT, maxt: MINT + 2 * H - 15_000, interval: 15_000, exact: true, unicode: true });
  const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const lines: string[] = [];
  for (const s of fx.series) {
    const name = s.labels[0]![1];
    const rest = s.labels.slice(1).map(([n, v]) => `${n}="${esc(v)}"`).join(',');
    for (const x of s.samples) lines.push(`${name}{${rest}} ${String(valueOf(x))} ${x.t / 1000}`);
  }
  lines.push('# EOF');
  const input = join(root, 'in.om');
  writeFileSync(input, `${lines.join('\n')}\n`);
  const theirs = join(root, 'theirs');
  await run(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', input, theirs], { maxBuffer: 16 * 1024 * 1024 });
  const [ulid] = readdirSync(theirs);
  const src = join(theirs, ulid!);

  // Our reader reads Prometheus' block: the same series and samples we generated.
  const br = await BlockReader.openDir(src);
  const series: BlockSeries[] = [];
  const symbols = new Set<string>();
  try {
    for await (const s of br.select([], -Infinity, Infinity)) {
      series.push(s);
      for (const [n, v] of s.labels) symbols.add(n).add(v);
    }
  } finally {
    await br.close();
  }
  assert.deepEqual(series.map((s) => keyOf(s.labels)), fx.series.map((s) => keyOf(s.labels)));
  for (let i = 0; i < series.length; i++) {
    assert.deepEqual(series[i]!.chunks.flatMap((c) => decodeChunk(c.data)), fx.series[i]!.samples, `samples of series ${i}`);
  }

  // Our writer, given the same chunks, writes the same bytes.
  const ours = join(root, 'ours');
  mkdirSync(ours);
  const res = await writeBlock(ours, { mint: br.meta.minTime, maxt: br.meta.maxTime, symbols, series, ulid: br.meta.ulid });
  assert.deepEqual(readdirSync(join(res.dir, 'chunks')), readdirSync(join(src, 'chunks')));
  for (const f of ['chunks/000001', 'index']) {
    const a = readFileSync(join(src, f));
    const b = readFileSync(join(res.dir, f));
    let d = 0;
    while (d < Math.min(a.length, b.length) && a[d] === b[d]) d++;
    assert.ok(a.equals(b), `${f}: ${a.length} vs ${b.length} bytes, first difference at byte ${d}`);
  }
  // meta.json: same text (Thanos' encoder, which we follow, adds a final newline).
  assert.equal(readFileSync(join(res.dir, 'meta.json'), 'utf8'), `${readFileSync(join(src, 'meta.json'), 'utf8')}\n`);
});
