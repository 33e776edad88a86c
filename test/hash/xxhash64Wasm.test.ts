/**
 * The wasm XXH64 equals the JavaScript one and xxhash-wasm on random inputs, and the embedded
 * module is exactly src/hash/xxhash64.wat compiled (so the two never drift apart).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { WasmXxh64 } from '../../src/hash/xxhash64Wasm.js';
import { XXH64_WASM_BASE64 } from '../../src/hash/xxhash64Wasm.bytes.js';
import { xxh64, xxh64Result } from '../../src/hash/xxhash64.js';
import xxhashWasm from 'xxhash-wasm';
import { mulberry32 } from '../helpers/prng.js';


test('matches the JS xxh64 and xxhash-wasm on 5000 random inputs (lengths 0..400)', async () => {
  const ref = await xxhashWasm();
  const h = new WasmXxh64();
  const rnd = mulberry32(1);
  for (let i = 0; i < 5000; i++) {
    const len = Math.floor(rnd() * 401);
    const buf = new Uint8Array(len);
    for (let j = 0; j < len; j++) buf[j] = Math.floor(rnd() * 256);
    h.ensure(len);
    h.input.set(buf);
    const lo = h.hash(len);
    const want = ref.h64Raw(buf, 0n);
    assert.equal((BigInt(h.hi) << 32n) | BigInt(lo), want, `len ${len}`);
    assert.equal(xxh64(buf, 0, len), lo);
    assert.equal(xxh64Result[1], h.hi);
  }
});

test('known vector and inputs larger than the first memory page', () => {
  const h = new WasmXxh64();
  assert.equal(h.hash(0), 0x51d8e999);
  assert.equal(h.hi, 0xef46db37);
  const big = new Uint8Array(200_000).fill(7);
  h.ensure(big.length);
  h.input.set(big);
  const lo = h.hash(big.length);
  assert.equal(lo, xxh64(big, 0, big.length));
  assert.equal(h.hi, xxh64Result[1]);
});

test('the embedded module is xxhash64.wat compiled', async () => {
  const wat = fileURLToPath(new URL('../../../src/hash/xxhash64.wat', import.meta.url));
  const script = new URL('../../../scripts/build-wasm.mjs', import.meta.url).href;
  const { compileWat } = await import(script) as { compileWat(p: string): Promise<Buffer> };
  const bytes = await compileWat(wat);
  assert.equal(bytes.toString('base64'), XXH64_WASM_BASE64, 'run: node scripts/build-wasm.mjs');
});
