/**
 * The receiver as a real process: it starts, serves, exits 0 on SIGTERM, and a second receiver
 * on the same remote-write port is refused instead of sharing it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
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

/** readyLog starts a receiver with `cmd args`, returns its log up to "receiver ready", and stops it. */
async function readyLog(cmd: string, args: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-gc-'));
  const [rw, http] = [await freePort(), await freePort()];
  const p = spawn(cmd, [...args, 'receive', `--tsdb.path=${dir}`, `--remote-write.address=127.0.0.1:${rw}`, `--http-address=127.0.0.1:${http}`, '--grpc-address=127.0.0.1:0', '--receive.gateways=1', '--receive.shards=1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  try {
    await waitReady(`http://127.0.0.1:${http}/-/ready`);
    const done = exited(p);
    p.kill('SIGTERM');
    await done;
    return stderr;
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
