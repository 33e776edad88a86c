/**
 * Bit flips in the middle of a WAL: a receiver that finds a corrupt record while replaying skips
 * it, reports it with its segment and offset (a log line, and prometheus_tsdb_wal_corruptions_total
 * on /metrics), and replays everything else: the samples of every other record are readable, those
 * of the corrupt one are gone. Checked on a real process restarted on a damaged WAL, and for a
 * shard thread that dies and is replaced (its replay logs the same line).
 *
 * The WAL is damaged where the project's own reader (src/wal) says a samples record starts; each
 * such record here is bigger than a WAL page, so the first fragment of the record is damaged and
 * only that record is lost (the reader resumes at the next page and skips the record's rest).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBody, series, write, RW_HEADERS, freePort, waitReady } from '../helpers/node.js';
import { spawnReceiver } from '../helpers/receiverProcess.js';
import { labelKey } from '../helpers/heads.js';
import { WalReader, HEADER_SIZE, FragmentType } from '../../src/wal/segment.js';
import { RecordType, SampleBatch, decodeSamples, recordType } from '../../src/wal/records.js';
import { ReceiveNode } from '../../src/receive/node.js';
import { parseReceiveFlags, toConfig } from '../../src/receive/flags.js';
import { Logger } from '../../src/util/log.js';
import type { TimeSeriesMsg } from '../../src/proto/schema.js';

const T0 = 1_700_000_000_000;
/** Requests written; each is one shard round, so one samples record of SERIES × PER_SERIES samples. */
const REQUESTS = 9;
const SERIES = 200;
const PER_SERIES = 50;
/** The request whose samples record is damaged. */
const BAD = 4;

/** request builds request `k`: series corrupt{s}, samples at T0 + (k·PER_SERIES + j) s, value k·1000 + j. */
function request(k: number): TimeSeriesMsg[] {
  return Array.from({ length: SERIES }, (_, s) => series({ __name__: 'corrupt', s: String(s) },
    Array.from({ length: PER_SERIES }, (_, j): [number, number] => [T0 + (k * PER_SERIES + j) * 1000, k * 1000 + j])));
}

/** SamplesRecord locates one samples record of a WAL and the first timestamp it holds. */
interface SamplesRecord { segment: number; offset: number; firstT: number }

/** samplesRecords lists the samples records of the WAL in `dir`, in order, with the project's reader. */
function samplesRecords(dir: string): SamplesRecord[] {
  const out: SamplesRecord[] = [];
  const reader = new WalReader(dir);
  const batch = new SampleBatch(1024);
  for (const rec of reader.records()) {
    if (recordType(rec) !== RecordType.Samples) continue;
    decodeSamples(rec, batch);
    out.push({ segment: reader.segment, offset: reader.offset, firstT: batch.ts[0]! });
  }
  return out;
}

/**
 * damage flips the bits of one byte in the middle of the first fragment of the record at
 * `offset` of segment `segment`; it must be the first fragment of a record spanning pages.
 */
function damage(dir: string, r: SamplesRecord): void {
  const fd = openSync(join(dir, String(r.segment).padStart(8, '0')), 'r+');
  try {
    const h = Buffer.alloc(HEADER_SIZE);
    readSync(fd, h, 0, HEADER_SIZE, r.offset);
    assert.equal(h[0]! & 0x07, FragmentType.First, 'the record starts with a first fragment (it spans pages)');
    const at = r.offset + HEADER_SIZE + (h.readUInt16BE(1) >> 1);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

/** checkSamples asserts every sample of every request but BAD is in `got` and none of BAD's. */
function checkSamples(got: Map<string, Map<number, number>>): void {
  for (let s = 0; s < SERIES; s++) {
    const have = got.get(labelKey([['__name__', 'corrupt'], ['s', String(s)]]));
    assert.ok(have, `series ${s} replayed`);
    for (let k = 0; k < REQUESTS; k++) {
      for (let j = 0; j < PER_SERIES; j++) {
        const t = T0 + (k * PER_SERIES + j) * 1000;
        if (k === BAD) assert.equal(have.get(t), undefined, `series ${s}: the damaged record's sample at ${t} is gone`);
        else assert.equal(have.get(t), k * 1000 + j, `series ${s}: sample at ${t}`);
      }
    }
  }
}

/** metricValue reads `name{shard="0"}` from a /metrics page. */
async function metricValue(httpUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name}\\{shard="0"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

function exited(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((r) => p.once('exit', (code) => r(code)));
}

test('a bit flip in a middle WAL record: reported with segment and offset, counted, and everything else replayed', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-corrupt-'));
  const [rw, http] = [await freePort(), await freePort()];
  let child: ChildProcess | undefined;
  try {
    const first = spawnReceiver(dir, rw, http);
    child = first.p;
    await waitReady(`http://127.0.0.1:${http}/-/ready`, child);
    for (let k = 0; k < REQUESTS; k++) {
      const r = await fetch(`http://127.0.0.1:${rw}/api/v1/receive`, { method: 'POST', body: encodeBody({ timeseries: request(k) }), headers: RW_HEADERS });
      assert.equal(r.status, 200, await r.text());
    }
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, first.log());

    const walDir = join(dir, 'wal', 'shard-000');
    const recs = samplesRecords(walDir);
    assert.deepEqual(recs.map((r) => r.firstT), Array.from({ length: REQUESTS }, (_, k) => T0 + k * PER_SERIES * 1000), 'one samples record per request');
    const bad = recs[BAD]!;
    damage(walDir, bad);

    const second = spawnReceiver(dir, rw, http);
    child = second.p;
    await waitReady(`http://127.0.0.1:${http}/-/ready`, child);
    assert.match(second.log(), new RegExp(`level=error msg="WAL corruption skipped" shard=0 segment=${bad.segment} offset=${bad.offset} reason="CRC32C mismatch"`));
    assert.equal(await metricValue(`http://127.0.0.1:${http}`, 'prometheus_tsdb_wal_corruptions_total'), 1);

    const q = `corrupt[1d]`;
    const r = await fetch(`http://127.0.0.1:${http}/api/v1/query?query=${encodeURIComponent(q)}&time=${(T0 + REQUESTS * PER_SERIES * 1000) / 1000}`);
    const body = await r.json() as { data: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
    const got = new Map<string, Map<number, number>>();
    for (const s of body.data.result) {
      const ls = Object.entries(s.metric).filter(([n]) => n !== 'tenant_id').sort(([a], [b]) => (a < b ? -1 : 1));
      got.set(labelKey(ls), new Map(s.values.map(([t, v]) => [Math.round(t * 1000), Number(v)])));
    }
    checkSamples(got);
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, second.log());
  } finally {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** CapturingLogger keeps warnings and errors (with their fields) and prints nothing. */
class CapturingLogger extends Logger {
  readonly lines: Record<string, unknown>[] = [];
  override debug(): void {}
  override info(): void {}
  override warn(msg: string, fields?: Record<string, unknown>): void { this.lines.push({ level: 'warn', msg, ...fields }); }
  override error(msg: string, fields?: Record<string, unknown>): void { this.lines.push({ level: 'error', msg, ...fields }); }
}

test('a shard thread that dies and replays a WAL with a corrupt record logs its segment and offset', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-corrupt-restart-'));
  const cfg = toConfig(parseReceiveFlags([
    `--tsdb.path=${dir}`, '--remote-write.address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0',
    '--receive.shards=1', '--receive.gateways=1', '--query.workers=0', '--tsdb.wal.fsync=off',
  ]));
  const log = new CapturingLogger('info');
  const node = new ReceiveNode(cfg, log, { shardRestartMinMs: 50 });
  try {
    await node.start();
    const writeUrl = `http://127.0.0.1:${node.remoteWritePort}`;
    for (let k = 0; k < REQUESTS; k++) {
      const r = await write(writeUrl, request(k));
      assert.equal(r.status, 200, r.text);
    }
    // The running shard appends at the end of the segment; the damage is further back.
    const walDir = join(dir, 'wal', 'shard-000');
    const bad = samplesRecords(walDir)[BAD]!;
    damage(walDir, bad);
    const shard = node.pool.shards[0]!;
    await shard.worker.terminate();
    const until = Date.now() + 20_000;
    while ((shard.failed !== undefined || shard.restarts === 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(shard.restarts, 1, 'the shard was replaced');
    const line = log.lines.find((l) => l['msg'] === 'WAL corruption skipped');
    assert.deepEqual(line && { shard: line['shard'], segment: line['segment'], offset: line['offset'], reason: line['reason'] },
      { shard: 0, segment: bad.segment, offset: bad.offset, reason: 'CRC32C mismatch' }, JSON.stringify(log.lines));
    assert.equal(await metricValue(`http://127.0.0.1:${node.http!.port}`, 'prometheus_tsdb_wal_corruptions_total'), 1);
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
