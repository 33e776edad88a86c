/**
 * The receiver as a real process: it starts, serves, exits 0 on SIGTERM, and a second receiver
 * on the same remote-write port is refused instead of sharing it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBody, series, post, freePort, waitReady } from '../helpers/node.js';

const bin = fileURLToPath(new URL('../../../bin/sluice.js', import.meta.url));



function exited(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((r) => p.once('exit', (code, signal) => r({ code, signal })));
}

test('serves, refuses a second receiver on its port, and exits 0 on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-proc-'));
  const [rw, http, http2] = [await freePort(), await freePort(), await freePort()];
  const args = (h: number) => ['receive', `--tsdb.path=${dir}`, `--remote-write.address=127.0.0.1:${rw}`, `--http-address=127.0.0.1:${h}`, '--grpc-address=127.0.0.1:0', '--receive.gateways=2'];
  const p = spawn(process.execPath, [bin, ...args(http)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  try {
    await waitReady(`http://127.0.0.1:${http}/-/ready`);
    const r = await post(`http://127.0.0.1:${rw}`, encodeBody({ timeseries: [series({ __name__: 'proc' }, [[Date.now(), 1]])] }));
    assert.equal(r.status, 200);

    const second = spawn(process.execPath, [bin, ...args(http2)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err2 = '';
    second.stderr!.on('data', (c: Buffer) => { err2 += c.toString(); });
    const e2 = await exited(second);
    assert.notEqual(e2.code, 0);
    assert.match(err2, /address already in use/);
    // Nor on its HTTP port (uWebSockets.js would share it through SO_REUSEPORT if not exclusive).
    const rw3 = await freePort();
    const third = spawn(process.execPath, [bin, 'receive', `--tsdb.path=${dir}-3`, `--remote-write.address=127.0.0.1:${rw3}`, `--http-address=127.0.0.1:${http}`, '--grpc-address=127.0.0.1:0', '--receive.gateways=1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err3 = '';
    third.stderr!.on('data', (c: Buffer) => { err3 += c.toString(); });
    const e3 = await exited(third);
    rmSync(`${dir}-3`, { recursive: true, force: true });
    assert.notEqual(e3.code, 0);
    assert.match(err3, new RegExp(`127\\.0\\.0\\.1:${http}: cannot bind \\(address already in use`));
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`http://127.0.0.1:${http}/-/ready`)).status, 200, 'every probe reaches the first receiver');
    // The first one still serves everything.
    assert.equal((await post(`http://127.0.0.1:${rw}`, encodeBody({ timeseries: [series({ __name__: 'proc' }, [[Date.now() + 1000, 2]])] }))).status, 200);

    const done = exited(p);
    p.kill('SIGTERM');
    const e = await done;
    assert.equal(e.code, 0, stderr);
    assert.match(stderr, /msg=stopped/);
  } finally {
    if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** ThreadInfo: a thread of the receiver, its name, scheduling policy (proc(5): 0 normal, 5 SCHED_IDLE) and nice value. */
interface ThreadInfo { tid: number; comm: string; policy: number; nice: number }

/** threadsOf lists a process' threads in id order (Linux only). */
function threadsOf(pid: number): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ tid: t, comm, policy: Number(f[38]), nice: Number(f[16]) });
    } catch { /* exited */ }
  }
  return out;
}

/**
 * readyLog starts a receiver with `cmd args receive … flags`, returns its log up to "receiver
 * ready" and its threads once ready (on Linux), and stops it.
 */
async function readyLog(cmd: string, args: string[], flags: string[] = []): Promise<string> {
  return (await readyNode(cmd, args, flags)).log;
}

async function readyNode(cmd: string, args: string[], flags: string[] = []): Promise<{ log: string; threads: ThreadInfo[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-gc-'));
  const [rw, http] = [await freePort(), await freePort()];
  const p = spawn(cmd, [...args, 'receive', `--tsdb.path=${dir}`, `--remote-write.address=127.0.0.1:${rw}`, `--http-address=127.0.0.1:${http}`, '--grpc-address=127.0.0.1:0', '--receive.gateways=1', '--receive.shards=1', ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  try {
    await waitReady(`http://127.0.0.1:${http}/-/ready`);
    const threads = process.platform === 'linux' ? threadsOf(p.pid!) : [];
    const done = exited(p);
    p.kill('SIGTERM');
    await done;
    return { log: stderr, threads };
  } finally {
    if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

test('bin/sluice.js run as a program starts node with --single-threaded-gc; plain `node bin/sluice.js` says it runs without', async () => {
  const own = await readyLog(bin, []);
  assert.match(own, /msg="receiver ready".* gc=single-threaded/);
  assert.doesNotMatch(own, /start node with --single-threaded-gc/);
  const plain = await readyLog(process.execPath, [bin]);
  assert.match(plain, /msg="receiver ready".* gc=parallel/);
  assert.match(plain, /start node with --single-threaded-gc/);
});

const SCHED_IDLE = 5;

test('with --v8.helper-cpu-priority under --single-threaded-gc, V8\'s background threads, and only they among node\'s own, are lowered; not by default, nor with the parallel GC', { skip: process.platform !== 'linux' && 'Linux only' }, async () => {
  for (const [flags, want] of [[['--v8.helper-cpu-priority=low'], 'low'], [['--v8.helper-cpu-priority=idle'], 'idle']] as const) {
    const own = await readyNode(bin, [], [...flags]);
    assert.match(own.log, new RegExp(`msg="V8 background threads lowered" threads=5 priority=${want}`));
    const [main, ...rest] = own.threads;
    assert.deepEqual([main!.policy, main!.nice], [0, 0], 'the main thread stays normal');
    // Node's own threads keep the process' name: the 5 oldest are V8's (delayed-task thread, 4 workers).
    const nodeOwn = rest.filter((t) => t.comm === main!.comm);
    assert.ok(nodeOwn.length > 5, `libuv's threads are there too: ${nodeOwn.length}`);
    const lowered = want === 'idle' ? [SCHED_IDLE, 0] : [0, 10];
    assert.deepEqual(nodeOwn.map((t) => [t.policy, t.nice]), nodeOwn.map((_, i) => (i < 5 ? lowered : [0, 0])), `${want}: V8's five lowered, libuv's normal`);
    for (const t of rest.filter((x) => /^sluice-(shard|gw)/.test(x.comm))) assert.deepEqual([t.policy, t.nice], [0, 0], `${t.comm} stays normal`);
  }
  for (const [cmd, args, flags] of [[bin, [], []], [process.execPath, [bin], ['--v8.helper-cpu-priority=idle']]] as const) {
    const r = await readyNode(cmd, [...args], [...flags]);
    assert.doesNotMatch(r.log, /V8 background threads lowered/);
    const nodeLowered = r.threads.filter((t) => t.comm === r.threads[0]!.comm && (t.policy !== 0 || t.nice !== 0));
    assert.equal(nodeLowered.length, 0, `${cmd === bin ? 'default' : 'parallel GC'}: no node thread lowered`);
  }
});
