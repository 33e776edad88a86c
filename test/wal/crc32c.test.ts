import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c, crc32cBytewise } from '../../src/wal/crc32c.js';
import { mulberry32 } from '../helpers/prng.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const whole = (b: Uint8Array): number => crc32c(b, 0, b.length);

test('check value of "123456789"', () => {
  assert.equal(whole(ascii('123456789')), 0xe3069283);
  assert.equal(crc32cBytewise(ascii('123456789'), 0, 9), 0xe3069283);
  assert.equal(whole(new Uint8Array(0)), 0);
});

test('RFC 3720 appendix B.4 vectors', () => {
  assert.equal(whole(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(whole(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(whole(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(whole(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  const pdu = Uint8Array.from([
    0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
    0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  ]);
  assert.equal(whole(pdu), 0xd9963a56);
});

test('slicing-by-8 equals the bytewise reference at every length and alignment', () => {
  const rnd = mulberry32(7);
  const buf = Uint8Array.from({ length: 600 }, () => Math.floor(rnd() * 256));
  for (let off = 0; off < 9; off++) {
    for (let len = 0; len <= 200; len++) {
      assert.equal(crc32c(buf, off, len), crc32cBytewise(buf, off, len), `off ${off} len ${len}`);
    }
  }
  for (let i = 0; i < 200; i++) {
    const off = Math.floor(rnd() * 100);
    const len = Math.floor(rnd() * 500);
    assert.equal(crc32c(buf, off, len), crc32cBytewise(buf, off, len));
  }
});

test('init chains a checksum across pieces', () => {
  const rnd = mulberry32(9);
  const buf = Uint8Array.from({ length: 1000 }, () => Math.floor(rnd() * 256));
  const full = crc32c(buf, 0, buf.length);
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    assert.equal(crc32c(buf, cut, buf.length - cut, crc32c(buf, 0, cut)), full, `cut ${cut}`);
  }
  assert.equal(crc32c(ascii('56789'), 0, 5, whole(ascii('1234'))), 0xe3069283);
});

test('result is an unsigned 32-bit number', () => {
  const v = whole(ascii('123456789')); // 0xe3069283: top bit set
  assert.ok(v > 0x7fffffff && v <= 0xffffffff && Number.isInteger(v));
});
