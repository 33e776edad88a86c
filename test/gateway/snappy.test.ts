/**
 * Tests of src/gateway/snappy.ts: round trips, agreement of the two engines, the length preamble,
 * and refusal of corrupt or truncated blocks with WireError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  snappyCompress,
  snappyEngine,
  snappyNativeAvailable,
  snappyUncompress,
  snappyUncompressedLength,
  snappyUncompressWith,
  validateSnappyBlock,
} from '../../src/gateway/snappy.js';
import type { SnappyEngine } from '../../src/gateway/snappy.js';
import { WireError } from '../../src/errors.js';
import { encodeWriteRequest } from '../../src/proto/schema.js';
import { Rng, SEED } from '../helpers/prng.js';

const ENGINES: SnappyEngine[] = snappyNativeAvailable ? ['native', 'js'] : ['js'];

/** payload makes compressible-but-not-trivial bytes: runs, repeats and noise. */
function payload(rng: Rng, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let i = 0;
  while (i < size) {
    const kind = rng.int(0, 2);
    const n = Math.min(size - i, rng.int(1, 300));
    if (kind === 0) out.fill(rng.int(0, 255), i, i + n);
    else if (kind === 1 && i > 0) {
      const from = rng.int(0, i - 1);
      for (let k = 0; k < n; k++) out[i + k] = out[from + (k % (i - from))]!;
    } else for (let k = 0; k < n; k++) out[i + k] = rng.int(0, 255);
    i += n;
  }
  return out;
}

/** expectWireError asserts that `fn` throws a WireError (and nothing else). */
function expectWireError(fn: () => unknown, what: string): WireError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof WireError, `${what}: expected WireError, got ${String(e)}`);
    assert.equal(e.code, 'E_BAD_REQUEST');
    return e;
  }
  assert.fail(`${what}: expected WireError`);
}

/** same compares two byte arrays (Buffer or Uint8Array) by content. */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

test('engine selection', () => {
  assert.ok(snappyEngine === 'native' || snappyEngine === 'js');
  if (snappyNativeAvailable && process.env['SLUICE_SNAPPY'] !== 'js') assert.equal(snappyEngine, 'native');
  // SLUICE_SNAPPY=js forces the pure-JS engine in a fresh process.
  const mod = fileURLToPath(new URL('../../src/gateway/snappy.js', import.meta.url));
  const script = `import(${JSON.stringify(mod)}).then((m) => console.log(m.snappyEngine))`;
  const forced = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, SLUICE_SNAPPY: 'js' }, encoding: 'utf8' });
  assert.equal(forced.stdout.trim(), 'js', forced.stderr);
});

test('round trip through both engines, and they agree', () => {
  const rng = new Rng(SEED);
  const sizes = [0, 1, 2, 59, 60, 61, 255, 256, 257, 1000, 65535, 65536, 65537, 300_000];
  for (let n = 0; n < 60; n++) sizes.push(rng.int(0, 20_000));
  for (const size of sizes) {
    const raw = payload(rng, size);
    const compressed = snappyCompress(raw);
    assert.equal(snappyUncompressedLength(compressed), size);
    for (const engine of ENGINES) {
      assert.ok(same(snappyUncompressWith(engine, compressed), raw), `${engine} size ${size}`);
    }
    assert.ok(same(snappyUncompress(compressed), raw));
    // The validator used on the snappyjs path accepts every block the compressor writes.
    validateSnappyBlock(compressed, preambleLength(compressed), size);
  }
});

test('a real remote-write body round-trips; Buffer and view inputs both work', () => {
  const timeseries = Array.from({ length: 200 }, (_, i) => ({
    labels: [{ name: '__name__', value: 'http_requests_total' }, { name: 'pod', value: `pod-${i}` }],
    samples: [{ value: i * 1.5, timestamp: 1_700_000_000_000 + i }],
  }));
  const raw = encodeWriteRequest({ timeseries });
  const compressed = snappyCompress(raw);
  assert.ok(compressed.length < raw.length / 2);
  const inBuffer = Buffer.from(compressed);
  const backing = new Uint8Array(compressed.length + 10);
  backing.set(compressed, 5);
  const view = backing.subarray(5, 5 + compressed.length);
  for (const engine of ENGINES) {
    assert.ok(same(snappyUncompressWith(engine, inBuffer), raw), engine);
    assert.ok(same(snappyUncompressWith(engine, view), raw), engine);
  }
});

test('length preamble', () => {
  assert.equal(snappyUncompressedLength(Uint8Array.from([0])), 0);
  assert.equal(snappyUncompressedLength(Uint8Array.from([0x7f])), 127);
  assert.equal(snappyUncompressedLength(Uint8Array.from([0x80, 0x01])), 128);
  assert.equal(snappyUncompressedLength(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])), 0xffffffff);
  assert.equal(snappyUncompressedLength(snappyCompress(new Uint8Array(1_000_000))), 1_000_000);
  assert.match(expectWireError(() => snappyUncompressedLength(new Uint8Array(0)), 'empty').message, /empty body/);
  assert.match(expectWireError(() => snappyUncompressedLength(Uint8Array.from([0x80])), 'cut').message, /truncated/);
  assert.match(expectWireError(() => snappyUncompressedLength(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x10])), '2^32').message, /2\^32-1/);
  assert.match(expectWireError(() => snappyUncompressedLength(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), '6 bytes').message, /longer than 5/);
});

/** preambleLength is the byte length of a block's preamble. */
function preambleLength(src: Uint8Array): number {
  let i = 0;
  while (src[i]! >= 0x80) i++;
  return i + 1;
}

/** CORRUPT lists hand-made blocks that no engine may accept. */
const CORRUPT: [string, number[]][] = [
  ['empty', []],
  ['preamble only, data missing', [5]],
  ['literal past the end', [4, 0x0c, 1, 2]],
  ['long literal length truncated', [20, 0xf4]],
  ['copy-1 before any output', [4, 0x01 | (0 << 2), 1]],
  ['copy-1 offset 0', [5, 0x00, 0x61, 0x01, 0x00]],
  ['copy-1 offset past output', [5, 0x00, 0x61, 0x01, 0x05]],
  ['copy-1 missing its offset byte', [5, 0x00, 0x61, 0x01]],
  ['copy-2 truncated', [10, 0x00, 0x61, 0x02 | (3 << 2), 0x01]],
  ['copy-4 truncated', [10, 0x00, 0x61, 0x03 | (3 << 2), 0x01, 0x00]],
  ['copy-4 offset huge', [10, 0x00, 0x61, 0x03 | (3 << 2), 0xff, 0xff, 0xff, 0xff]],
  ['output longer than declared', [2, 0x0c, 1, 2, 3, 4]],
  ['output shorter than declared', [9, 0x0c, 1, 2, 3, 4]],
  ['declared 4 GiB, tiny body', [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x61]],
  ['declared 1 MiB, 10-byte body', [0x80, 0x80, 0x40, 0x00, 0x61, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01]],
];

test('corrupt blocks: WireError from every engine, never garbage', () => {
  for (const [name, bytes] of CORRUPT) {
    const src = Uint8Array.from(bytes);
    for (const engine of ENGINES) {
      const e = expectWireError(() => snappyUncompressWith(engine, src), `${engine}: ${name}`);
      assert.match(e.message, /^snappy: /, name);
    }
  }
});

test('every truncation and random corruption of valid blocks: WireError, or declared-length output both engines agree on', { timeout: 60_000 }, () => {
  const rng = new Rng(SEED + 1);
  let refused = 0;
  for (let n = 0; n < 30; n++) {
    const raw = payload(rng, rng.int(1, 3000));
    const compressed = snappyCompress(raw);
    // A cut block always declares more than it holds.
    for (let len = 0; len < compressed.length; len++) {
      const cut = compressed.slice(0, len);
      for (const engine of ENGINES) expectWireError(() => snappyUncompressWith(engine, cut), `${engine} cut at ${len}`);
    }
    // Flipped bytes: either rejected, or (both engines agreeing) a block of the declared length.
    for (let m = 0; m < 100; m++) {
      const bad = compressed.slice();
      for (let e = rng.int(1, 3); e > 0; e--) bad[rng.int(0, bad.length - 1)] = rng.int(0, 255);
      const results = ENGINES.map((engine) => {
        try {
          return snappyUncompressWith(engine, bad);
        } catch (e) {
          assert.ok(e instanceof WireError, `${engine}: ${String(e)}`);
          return null;
        }
      });
      if (results[0] === null) refused++;
      else assert.equal(results[0]!.length, snappyUncompressedLength(bad));
      if (results.length === 2) {
        assert.equal(results[0] === null, results[1] === null, 'engines agree on acceptance');
        if (results[0] && results[1]) assert.ok(same(results[0], results[1]), 'engines agree on output');
      }
    }
  }
  assert.ok(refused > 100, `${refused} corruptions refused`);
});
