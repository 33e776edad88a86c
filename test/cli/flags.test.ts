/**
 * The CLI: Thanos Receive flag names and defaults, refusal of unimplemented flags with one line,
 * and `--help` listing every flag. Runs the real `bin/sluice.js` as a child process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FLAGS, NOT_YET, parseReceiveFlags, toConfig } from '../../src/receive/flags.js';
import { availableCpus } from '../../src/util/cpus.js';

const bin = fileURLToPath(new URL('../../../bin/sluice.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });

test('defaults are those of thanos receive', () => {
  const c = toConfig(parseReceiveFlags([]));
  assert.deepEqual(c.remoteWriteAddress, { host: '0.0.0.0', port: 19291 });
  assert.deepEqual(c.httpAddress, { host: '0.0.0.0', port: 10902 });
  assert.deepEqual(c.grpcAddress, { host: '0.0.0.0', port: 10901 });
  assert.equal(c.tsdbPath, './data');
  assert.equal(c.tenantHeader, 'THANOS-TENANT');
  assert.equal(c.defaultTenant, 'default-tenant');
  assert.equal(c.tenantLabelName, 'tenant_id');
  assert.equal(c.httpGracePeriodMs, 120_000);
  assert.ok(c.shards >= 1);
  // Blocks: 2h blocks (as Prometheus and Thanos cut them), kept locally for the seed's 15d, in a
  // FILESYSTEM bucket beside the data when no object store is configured; every ack fsynced.
  assert.equal(c.blockDurationMs, 2 * 3_600_000);
  assert.equal(c.retentionMs, 15 * 24 * 3_600_000);
  assert.equal(c.walFsync, 'batch');
  assert.equal(c.objstore.type, 'FILESYSTEM');
});

test('--label parses quoted values and repeats', () => {
  const c = toConfig(parseReceiveFlags(['--label=receive="true"', '--label', 'replica="thanos-receive-0"']));
  assert.deepEqual(c.externalLabels, [['receive', 'true'], ['replica', 'thanos-receive-0']]);
});

test('the seed StatefulSet args: every flag is implemented; a missing hashring file stops the start with one line', () => {
  const seed = ['--tsdb.path=/data', '--grpc-address=0.0.0.0:10901', '--http-address=0.0.0.0:10902',
    '--remote-write.address=0.0.0.0:19291', '--receive.replication-factor=3', '--receive.hashrings-file=/etc/thanos/hashrings.json',
    '--label=receive="true"', '--label=replica="$(POD_NAME)"', '--objstore.config-file=/etc/thanos/objstore.yml', '--tsdb.retention=15d'];
  const refused: string[] = [];
  for (const f of seed) {
    try { parseReceiveFlags([f]); } catch (e) { refused.push((e as Error).message); }
  }
  // Alone, RF=3 lacks its hashring; every other flag parses.
  assert.deepEqual(refused, ['--receive.replication-factor=3 needs a hashring (--receive.hashrings-file or --receive.hashrings)']);
  const r = run('receive', ...seed);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  assert.match(r.stderr, /hashrings\.json/);
});

test('unknown flags and bad values are refused', () => {
  assert.throws(() => parseReceiveFlags(['--no-such-flag=1']), /unknown flag: --no-such-flag/);
  assert.throws(() => parseReceiveFlags(['--http-address=nope']), /host:port/);
  assert.throws(() => parseReceiveFlags(['--http-grace-period=soon']), /duration/);
  assert.throws(() => toConfig(parseReceiveFlags(['--receive.shards=0'])), /receive.shards/);
  assert.throws(() => parseReceiveFlags(['--tsdb.cut-cpu-priority=lowest']), /expected idle, low or normal/);
  assert.equal(toConfig(parseReceiveFlags([])).cutCpuPriority, 'idle');
  assert.equal(toConfig(parseReceiveFlags(['--tsdb.cut-cpu-priority=low'])).cutCpuPriority, 'low');
  assert.throws(() => parseReceiveFlags(['--v8.helper-cpu-priority=high']), /expected idle, low or normal/);
  assert.equal(toConfig(parseReceiveFlags([])).v8HelperCpuPriority, 'normal');
  assert.equal(toConfig(parseReceiveFlags(['--v8.helper-cpu-priority=idle'])).v8HelperCpuPriority, 'idle');
  assert.throws(() => toConfig(parseReceiveFlags(['--query.split-threads=0'])), /--query.split-threads: expected 1\.\.64, got 0/);
  assert.equal(toConfig(parseReceiveFlags(['--query.split-threads=3'])).query.splitThreads, 3);
  assert.equal(toConfig(parseReceiveFlags([])).query.splitThreads, Math.max(1, availableCpus() - 1));
  assert.equal(toConfig(parseReceiveFlags([])).query.warmUp, true);
  assert.equal(toConfig(parseReceiveFlags(['--query.warm-up=false'])).query.warmUp, false);
  assert.equal(toConfig(parseReceiveFlags(['--query.warm-up'])).query.warmUp, true);
  assert.throws(() => parseReceiveFlags(['--query.warm-up=no']), /--query.warm-up: expected true or false/);
});

test('sluice receive --help lists every flag', () => {
  const r = run('receive', '--help');
  assert.equal(r.status, 0);
  for (const f of FLAGS) assert.ok(r.stdout.includes(`--${f.name}`), f.name);
  for (const f of NOT_YET) assert.ok(r.stdout.includes(`--${f}`), f);
});
