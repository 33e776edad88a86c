/**
 * Finding V8's platform threads (src/util/thread.ts): in a node started with a given
 * --v8-pool-size, the threads found are that many plus one, none of them the main thread, and
 * they are the ones that did the background compiling of a workload that makes V8 optimize
 * hundreds of functions; lowering them leaves every other thread as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const threadJs = pathToFileURL(fileURLToPath(new URL('../../src/util/thread.js', import.meta.url))).href;

// Runs in the child: find the threads, make V8 compile (functions with loops, each called hot
// enough for TurboFan, compiled concurrently on the platform's workers), lower the threads found,
// then report every thread's CPU ticks and scheduling policy.
const child = `
import { readFileSync, readdirSync } from 'node:fs';
import { v8PlatformThreads, lowerV8HelperPriority } from ${JSON.stringify(threadJs)};
const found = v8PlatformThreads();
let acc = 0;
for (let k = 0; k < 300; k++) {
  const body = [];
  for (let j = 0; j < 40; j++) body.push('s = (s * ' + (k + j + 3) + ' + a[i % a.length] * ' + j + ') % 1000003;');
  const f = new Function('a', 'n', 'let s = ' + k + '; for (let i = 0; i < n; i++) { ' + body.join(' ') + ' } return s;');
  const a = [1, 2, 3, 4, 5];
  for (let r = 0; r < 60; r++) acc += f(a, 200);
}
await new Promise((r) => setTimeout(r, 300)); // let the last compile jobs finish
const lowered = lowerV8HelperPriority('idle');
const threads = readdirSync('/proc/self/task').map(Number).map((tid) => {
  const st = readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return { tid, ticks: Number(f[11]) + Number(f[12]), policy: Number(f[38]) };
});
console.log(JSON.stringify({ pid: process.pid, found, lowered, threads, acc }));
`;

function run(poolSize: number): { pid: number; found: number[] | undefined; lowered: { threads: number; got: string } | undefined; threads: { tid: number; ticks: number; policy: number }[] } {
  const r = spawnSync(process.execPath, ['--single-threaded-gc', `--v8-pool-size=${poolSize}`, '--input-type=module', '-e', child], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('V8\'s platform threads are found (pool size + 1), they do the background compiling, and only they are lowered', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  for (const pool of [2, 4]) {
    const r = run(pool);
    assert.ok(r.found !== undefined, 'found');
    assert.equal(r.found.length, pool + 1, `--v8-pool-size=${pool}: the delayed-task thread and ${pool} workers`);
    assert.ok(!r.found.includes(r.pid), 'not the main thread');
    const ticks = (set: (tid: number) => boolean): number => r.threads.filter((t) => set(t.tid)).reduce((a, t) => a + t.ticks, 0);
    const inFound = ticks((t) => r.found!.includes(t));
    const others = ticks((t) => t !== r.pid && !r.found!.includes(t));
    assert.ok(inFound >= 5, `the threads found compiled: ${inFound} ticks`);
    assert.ok(inFound > others, `more than every other helper thread together: ${inFound} against ${others} ticks`);
    assert.deepEqual(r.lowered, { threads: pool + 1, got: 'idle' });
    for (const t of r.threads) assert.equal(t.policy, r.found.includes(t.tid) ? 5 : 0, `thread ${t.tid}: SCHED_IDLE only if found`);
  }
});
