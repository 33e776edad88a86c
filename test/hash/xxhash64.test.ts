import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../helpers/prng.js';
import xxhash from 'xxhash-wasm';
import { xxh64, xxh64BigInt, xxh64Key, xxh64Result } from '../../src/hash/xxhash64.js';


const { h64Raw } = await xxhash();
const enc = new TextEncoder();

test('known vectors', () => {
  assert.equal(xxh64BigInt(new Uint8Array(0)), 0xef46db3751d8e999n);
  // Published XXH64 vectors for "a" and "abc" with seed 0.
  assert.equal(xxh64BigInt(enc.encode('a')), 0xd24ec4f1a98c6e5bn);
  assert.equal(xxh64BigInt(enc.encode('abc')), 0x44bc2cf5ad770999n);
  const lo = xxh64(new Uint8Array(0), 0, 0);
  assert.equal(lo, 0x51d8e999);
  assert.equal(xxh64Result[0], 0x51d8e999);
  assert.equal(xxh64Result[1], 0xef46db37);
});

test('matches xxhash-wasm on random inputs, lengths 0..300, random seeds', () => {
  const rnd = mulberry32(12345);
  const big = new Uint8Array(400);
  let checked = 0;
  for (let i = 0; i < 6000; i++) {
    const len = Math.floor(rnd() * 301);
    const off = Math.floor(rnd() * 64);
    for (let k = 0; k < len; k++) big[off + k] = Math.floor(rnd() * 256);
    const input = big.subarray(off, off + len);
    let seed = 0n;
    const kind = i % 4;
    if (kind === 1) seed = BigInt(Math.floor(rnd() * 4294967296));
    else if (kind === 2) seed = (BigInt(Math.floor(rnd() * 4294967296)) << 32n) | BigInt(Math.floor(rnd() * 4294967296));
    else if (kind === 3) seed = 0xffffffffffffffffn - BigInt(Math.floor(rnd() * 1000));
    const want = h64Raw(input.slice(), seed);
    // Through the word API on the shared buffer at an offset.
    const lo = xxh64(big, off, len, Number(seed & 0xffffffffn), Number(seed >> 32n));
    const got = (BigInt(xxh64Result[1]!) << 32n) | BigInt(lo);
    assert.equal(got, want, `len=${len} seed=${seed}`);
    assert.equal(xxh64BigInt(input, seed), want);
    checked++;
  }
  assert.equal(checked, 6000);
});

test('every length 0..300 with all-0xff and all-zero bytes (carry edge cases)', () => {
  const ff = new Uint8Array(300).fill(0xff);
  const zero = new Uint8Array(300);
  for (let len = 0; len <= 300; len++) {
    for (const b of [ff, zero]) {
      const input = b.subarray(0, len);
      for (const seed of [0n, 0xffffffffffffffffn, 0x9e3779b185ebca87n]) {
        assert.equal(xxh64BigInt(input, seed), h64Raw(input.slice(), seed));
      }
    }
  }
});

test('xxh64Key is the top 53 bits', () => {
  const rnd = mulberry32(7);
  for (let i = 0; i < 500; i++) {
    const input = new Uint8Array(Math.floor(rnd() * 200));
    for (let k = 0; k < input.length; k++) input[k] = Math.floor(rnd() * 256);
    const key = xxh64Key(input, 0, input.length);
    const h = h64Raw(input, 0n);
    assert.ok(Number.isSafeInteger(key) && key >= 0);
    assert.equal(BigInt(key), h >> 11n);
  }
});
