/**
 * Disk full: the WAL lives on a real, deliberately tiny filesystem (a 4 MiB tmpfs, which needs
 * root to mount; skipped with the reason otherwise). When the disk fills, remote-write answers 503
 * naming ENOSPC, the server keeps serving, and once space is freed writes succeed again; every
 * acknowledged sample is readable, also after a restart that replays the same WAL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, write, series } from '../helpers/node.js';
import { readHeads, labelKey } from '../helpers/heads.js';

const T0 = 1_700_000_000_000;

function mountTmpfs(dir: string, size: string): string {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return '';
  } catch (e) {
    return (e as { stderr?: Buffer }).stderr?.toString().trim() || String(e);
  }
}

test('ENOSPC on the WAL answers 503, keeps the WAL consistent, and recovers once space is freed', async (t) => {
  const mnt = mkdtempSync(join(tmpdir(), 'sluice-enospc-'));
  const why = mountTmpfs(mnt, '4m');
  if (why !== '') {
    rmSync(mnt, { recursive: true, force: true });
    t.skip(`cannot mount a small tmpfs here: ${why}`);
    return;
  }
  const data = join(mnt, 'data');
  try {
    // Leave ~256 KiB free for the WAL.
    const fs = statfsSync(mnt);
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 256 * 1024)));

    const acked = new Map<string, [number, number][]>();
    let n = await startNode([`--tsdb.path=${data}`, '--receive.shards=2', '--receive.gateways=1', '--tsdb.wal.fsync=batch']);
    let refused: { text: string; retryAfter: string | null; r: number } | undefined;
    const pad = 'x'.repeat(200);
    try {
      // New series with long labels fill the WAL quickly.
      for (let r = 0; r < 2000 && refused === undefined; r++) {
        const batch = Array.from({ length: 20 }, (_, j) => series({ __name__: 'fill', r: String(r), j: String(j), pad }, [[T0 + r, r + j]]));
        const res = await write(n.writeUrl, batch);
        if (res.status === 200) {
          for (let j = 0; j < 20; j++) acked.set(labelKey([['__name__', 'fill'], ['j', String(j)], ['pad', pad], ['r', String(r)]]), [[T0 + r, r + j]]);
        } else {
          assert.equal(res.status, 503, res.text);
          refused = { text: res.text, retryAfter: res.headers.get('retry-after'), r };
        }
      }
      assert.ok(refused, 'the disk filled up');
      assert.match(refused.text, /ENOSPC|no space left/);
      assert.notEqual(refused.retryAfter, null);
      assert.ok(acked.size > 0);
      const metrics = await (await fetch(`${n.httpUrl}/metrics`)).text();
      assert.match(metrics, /sluice_wal_write_failures_total\{shard="\d"\} [1-9]/);
      // Still serving the read API while the disk is full.
      assert.equal((await fetch(`${n.httpUrl}/api/v1/labels`)).status, 200);

      rmSync(filler);
      // The sender retries the refused request: its series were created in the head by the
      // refused round, so the WAL must log them now, before their samples.
      {
        const r = refused.r;
        const batch = Array.from({ length: 20 }, (_, j) => series({ __name__: 'fill', r: String(r), j: String(j), pad }, [[T0 + r, r + j]]));
        const res = await write(n.writeUrl, batch);
        assert.equal(res.status, 200, res.text);
        for (let j = 0; j < 20; j++) acked.set(labelKey([['__name__', 'fill'], ['j', String(j)], ['pad', pad], ['r', String(r)]]), [[T0 + r, r + j]]);
      }
      // Space is back: the next writes succeed without a restart.
      for (let r = 0; r < 20; r++) {
        const labels = { __name__: 'after', r: String(r) };
        const res = await write(n.writeUrl, [series(labels, [[T0, r]])]);
        assert.equal(res.status, 200, res.text);
        acked.set(labelKey(Object.entries(labels).sort()), [[T0, r]]);
      }
      const check = async (): Promise<void> => {
        const got = await readHeads(n.node.pool, 'default-tenant');
        for (const [k, samples] of acked) {
          const have = new Map(got.get(k) ?? []);
          for (const [ts, v] of samples) assert.equal(have.get(ts), v, `acknowledged sample ${k}@${ts}`);
        }
      };
      await check();
      await n.stop();
      // The WAL written through the full disk replays whole.
      n = await startNode([`--tsdb.path=${data}`, '--receive.shards=2', '--receive.gateways=1']);
      for (const sh of n.node.pool.shards) assert.deepEqual(sh.replay?.corruptions ?? [], []);
      await check();
    } finally {
      await n.stop();
    }
  } finally {
    try { execFileSync('umount', [mnt]); } catch { /* best effort */ }
    rmSync(mnt, { recursive: true, force: true });
  }
});
