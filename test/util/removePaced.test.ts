import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, ftruncateSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeFilePaced, removeTreePaced } from '../../src/util/removePaced.js';

function sparse(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
}

test('removeFilePaced: a large file is shrunk step by step, then gone; a missing one is no error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rmpaced-'));
  try {
    const f = join(dir, '00000001');
    sparse(f, 40 << 20);
    const sizes: number[] = [];
    const watch = setInterval(() => { try { sizes.push(statSync(f).size); } catch { /* gone */ } }, 1);
    await removeFilePaced(f);
    clearInterval(watch);
    assert.equal(existsSync(f), false);
    // Seen part-way: the file shrank in steps instead of vanishing at once.
    assert.ok(sizes.some((s) => s > 0 && s < 40 << 20), `sizes seen: ${[...new Set(sizes)].join(',')}`);
    await removeFilePaced(f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('removeTreePaced: a block-like tree with large and small files is removed whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rmpaced-'));
  try {
    const b = join(dir, '01BLOCK');
    mkdirSync(join(b, 'chunks'), { recursive: true });
    sparse(join(b, 'chunks', '000001'), 20 << 20);
    writeFileSync(join(b, 'index'), 'x');
    writeFileSync(join(b, 'meta.json'), '{}');
    await removeTreePaced(b);
    assert.equal(existsSync(b), false);
    assert.equal(existsSync(dir), true);
    await removeTreePaced(b);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
