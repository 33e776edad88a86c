/**
 * `sluice hashring plan|lint` as a real process (bin/sluice.js): the plan table for 3 → 5
 * endpoints, lint's exit status on the seed's case-3 file and on a clean one, and usage errors.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = fileURLToPath(new URL('../../../bin/sluice.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-hashring-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return p;
}

const addrs = (n: number): string[] => Array.from({ length: n }, (_, i) => `sluice-${i}.sluice:19291`);
const THREE = file('three.json', [{ hashring: 'default', endpoints: addrs(3) }]);
const FIVE = file('five.json', [{ hashring: 'default', endpoints: addrs(5) }]);
// The seed's "Case Study 3" file, with its comments, exactly as pasted from the design doc.
const CASE_3 = file('case3.json', `[
  {
    "hashring": "tenant-a",
    "endpoints": [
      "thanos-receive-0:10901",
      "thanos-receive-1:10901"
    ],
    "tenants": ["cluster-02-tenant-a"]
  },
  {
    "hashring": "default",
    "endpoints": [
      "thanos-receive-2:10901"  // single node!
    ],
    "tenants": []  // every other cluster
  }
]`);
const CLEAN = file('clean.json', [
  { hashring: 'tenant-a', endpoints: addrs(2), tenants: ['cluster-02-tenant-a'] },
  { hashring: 'default', endpoints: addrs(3), tenants: [] },
]);

interface Run { code: number; stdout: string; stderr: string }

function sluice(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') { reject(err); return; }
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}

/** percentOf reads the share after `label` ("moved: 40.5% of replicas" → 0.405). */
function percentOf(text: string, re: RegExp): number {
  const m = re.exec(text);
  assert.ok(m, `${re} not in:\n${text}`);
  return Number(m[1]) / 100;
}

test('plan 3 -> 5 with ketama prints a table where about 2/5 moves onto the two new endpoints', async () => {
  const r = await sluice('hashring', 'plan', '--from', THREE, '--to', FIVE, '--algorithm', 'ketama', '--replication-factor', '3', '--series', '30000');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^endpoint +before +after +gained +lost$/m);
  const newRows = r.stdout.split('\n').filter((l) => l.includes('(new)'));
  assert.equal(newRows.length, 2, r.stdout);
  for (const row of newRows) {
    const [, , before, afterShare, gained] = row.split(/\s+/);
    assert.equal(before, '0.0%');
    assert.equal(gained, afterShare);
    assert.ok(Math.abs(Number.parseFloat(gained!) - 20) <= 5, row);
  }
  const moved = percentOf(r.stdout, /^moved: ([\d.]+)% of replicas/m);
  assert.ok(Math.abs(moved - 0.4) <= 0.05, `moved ${moved}`);
});

test('plan --json with hashmod shows most series moving, the contrast with ketama', async () => {
  const r = await sluice('hashring', 'plan', '--from', THREE, '--to', FIVE, '--series', '20000', '--json');
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { algorithm: string; movedReplicaShare: number; endpoints: { address: string }[] };
  assert.equal(plan.algorithm, 'hashmod');
  assert.ok(Math.abs(plan.movedReplicaShare - 0.8) <= 0.03, `hashmod moved ${plan.movedReplicaShare}`);
  assert.equal(plan.endpoints.length, 5);
});

test("lint exits 1 on the seed's case-3 file, naming the catch-all ring", async () => {
  const r = await sluice('hashring', 'lint', CASE_3);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^error +hashrings\[1\] \("default"\): the catch-all hashring has 1 endpoint, fewer than hashrings\[0\] \("tenant-a"\)/m);
  assert.match(r.stdout, /single endpoint \(thanos-receive-2:10901\)/);
  assert.match(r.stdout, /\[comments\]/);
  assert.match(r.stdout, /: 3 errors, \d+ warnings?$/m);
  // Errors are listed before warnings.
  const sev = r.stdout.split('\n').filter((l) => /^(error|warning) /.test(l)).map((l) => l.split(' ')[0]);
  assert.deepEqual(sev, [...sev].sort());
});

test('lint exits 0 on a clean file and 1 when the replication factor outgrows a ring', async () => {
  const ok = await sluice('hashring', 'lint', CLEAN);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.doesNotMatch(ok.stdout, /^error/m);
  assert.match(ok.stdout, /0 errors, 2 warnings/);
  const rf3 = await sluice('hashring', 'lint', CLEAN, '--replication-factor', '3');
  assert.equal(rf3.code, 1);
  assert.match(rf3.stdout, /hashrings\[0\] \("tenant-a"\): has 2 endpoints, fewer than the replication factor 3/);
});

test('usage errors exit 2; help exits 0; the top-level help lists the command', async () => {
  for (const args of [
    ['hashring'],
    ['hashring', 'nope'],
    ['hashring', 'plan', '--from', THREE],
    ['hashring', 'plan', '--from', THREE, '--to', FIVE, '--algorithm', 'rendezvous'],
    ['hashring', 'plan', '--from', THREE, '--to', FIVE, '--series', '0'],
    ['hashring', 'lint'],
    ['hashring', 'lint', CLEAN, '--bogus'],
    ['hashring', 'lint', join(dir, 'missing.json')],
  ]) {
    const r = await sluice(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /sluice hashring/);
  }
  const help = await sluice('hashring', '--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /sluice hashring plan --from OLD\.json --to NEW\.json/);
  const top = await sluice('--help');
  assert.match(top.stdout, /^ {2}hashring /m);
  // A file the receiver would refuse is exit 1, not a usage error.
  const refused = await sluice('hashring', 'plan', '--from', THREE, '--to', CASE_3);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /not valid JSON/);
});
