import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UlidFactory, decodeUlid, encodeUlid, isUlid, newUlid, ulidTime } from '../../../src/blocks/ulid.js';
import { encodeMeta, parseMeta, type BlockMeta } from '../../../src/blocks/meta.js';
import { Rng } from '../../helpers/prng.js';

test('ULID encoding: known values, round trips, time prefix', () => {
  assert.equal(encodeUlid(new Uint8Array(16)), '00000000000000000000000000');
  assert.equal(encodeUlid(new Uint8Array(16).fill(0xff)), '7ZZZZZZZZZZZZZZZZZZZZZZZZZ');
  // The ULID specification's example; its time part (first 10 characters, base 32) worked out by hand.
  assert.equal(ulidTime('01ARZ3NDEKTSV4RRFFQ69G5FAV'), 1469922850259);
  assert.equal(ulidTime('01arz3ndektsv4rrffq69g5fav'), 1469922850259, 'case-insensitive');
  assert.equal(encodeUlid(Uint8Array.of(0, 0, 0, 0, 0, 1, ...new Array<number>(10).fill(0))), '0000000001' + '0'.repeat(16));
  const rng = new Rng(51);
  for (let i = 0; i < 500; i++) {
    const b = new Uint8Array(16).map(() => rng.int(0, 255));
    const s = encodeUlid(b);
    assert.ok(isUlid(s), s);
    assert.deepEqual(decodeUlid(s), b);
  }
  assert.throws(() => decodeUlid('8ZZZZZZZZZZZZZZZZZZZZZZZZZ'), RangeError, 'over 128 bits');
  assert.throws(() => decodeUlid('01ARZ3NDEKTSV4RRFFQ69G5FAU'), RangeError, 'U is not Crockford');
  assert.equal(isUlid('01ARZ3NDEKTSV4RRFFQ69G5FA'), false);
});

test('ULID factory: monotonic within a millisecond and across a clock step back', () => {
  let seed = 7;
  const f = new UlidFactory((b) => b.fill(seed++));
  const a = f.next(1_700_000_000_000);
  const b = f.next(1_700_000_000_000);
  const c = f.next(1_699_999_999_000); // clock went back
  const d = f.next(1_700_000_000_001);
  assert.ok(a < b && b < c && c < d, [a, b, c, d].join(' '));
  assert.equal(ulidTime(a), 1_700_000_000_000);
  assert.equal(ulidTime(c), 1_700_000_000_000, 'keeps the last time when the clock steps back');
  assert.equal(ulidTime(d), 1_700_000_000_001);
  // b is a plus one in the random part.
  const ab = decodeUlid(a);
  const bb = decodeUlid(b);
  assert.equal(bb[15], (ab[15]! + 1) & 0xff);
  // The carry runs through the random bytes; the random part overflowing is an error.
  const g = new UlidFactory((x) => x.fill(0xff));
  g.next(5);
  assert.throws(() => g.next(5), RangeError);
  const many = Array.from({ length: 1000 }, () => newUlid(1_800_000_000_000));
  assert.deepEqual([...many].sort(), many, 'newUlid is monotonic');
  assert.equal(new Set(many).size, many.length);
});

test('meta.json: Prometheus/Thanos field order, tab indentation, sorted labels, round trip', () => {
  const m: BlockMeta = {
    ulid: '01ARZ3NDEKTSV4RRFFQ69G5FAV',
    minTime: 1000,
    maxTime: 7201000,
    stats: { numSamples: 10, numSeries: 2, numChunks: 3 },
    compaction: { level: 1, sources: ['01ARZ3NDEKTSV4RRFFQ69G5FAV'] },
    version: 1,
    thanos: {
      labels: { tenant_id: 'a', cluster: 'eu' },
      downsample: { resolution: 0 },
      source: 'receive',
      segment_files: ['000001'],
      files: [{ rel_path: 'chunks/000001', size_bytes: 100 }, { rel_path: 'index', size_bytes: 200 }, { rel_path: 'meta.json' }],
    },
  };
  const text = encodeMeta(m);
  assert.ok(text.endsWith('}\n'));
  assert.match(text, /^\{\n\t"ulid": "01ARZ3NDEKTSV4RRFFQ69G5FAV",\n\t"minTime": 1000,\n\t"maxTime": 7201000,\n\t"stats": \{/);
  const keys = [...text.matchAll(/^\t"(\w+)"/gm)].map((x) => x[1]);
  assert.deepEqual(keys, ['ulid', 'minTime', 'maxTime', 'stats', 'compaction', 'version', 'thanos']);
  assert.ok(text.indexOf('"cluster"') < text.indexOf('"tenant_id"'), 'labels sorted as Go encodes maps');
  assert.match(text, /\{\n\t\t\t\t"rel_path": "meta.json"\n\t\t\t\}/, 'meta.json without size');
  assert.deepEqual(parseMeta(text), { ...m, thanos: { ...m.thanos!, labels: { cluster: 'eu', tenant_id: 'a' } } });
  assert.throws(() => parseMeta(text.replace('"version": 1', '"version": 2')), /version 2 is not supported/);
});
