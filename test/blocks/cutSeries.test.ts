/**
 * CutSeries (src/blocks/cutSeries.ts), the cut's compact series table: series come back in the
 * block index order (compareLabelsUtf8: byte order of UTF-8, astral characters and prefixes
 * included) with their labels, shard and ref intact, and every string in the symbol table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CutSeries } from '../../src/blocks/cutSeries.js';
import { compareLabelsUtf8 } from '../../src/blocks/index/order.js';
import { encodeLabelBlob, type Labels } from '../../src/model/labels.js';
import { mulberry32 } from '../helpers/prng.js';

test('series sort as compareLabelsUtf8 orders them, with their labels, shard and ref', () => {
  const rnd = mulberry32(5);
  const alphabet = ['a', 'b', 'z', 'é', '\u{ff5e}', '\u{1f600}', 'A', '0', ''];
  const str = (): string => Array.from({ length: Math.floor(rnd() * 4) }, () => alphabet[Math.floor(rnd() * alphabet.length)]!).join('');
  const input: { labels: Labels; shard: number; ref: number }[] = [];
  const seen = new Set<string>();
  while (input.length < 2000) {
    const names = ['__name__', 'a', 'ab', 'b', 'pod'].filter(() => rnd() < 0.7);
    const labels: Labels = names.map((n) => [n, str() || 'v']);
    const key = JSON.stringify(labels);
    if (seen.has(key)) continue;
    seen.add(key);
    input.push({ labels, shard: Math.floor(rnd() * 4), ref: input.length * 7 });
  }
  const cs = new CutSeries();
  for (const s of input) {
    const blob = encodeLabelBlob(s.labels);
    // In a bigger buffer at an offset, as label blobs sit in shared memory.
    const buf = new Uint8Array(blob.length + 11);
    buf.set(blob, 5);
    cs.add(s.shard, s.ref, buf, 5, blob.length);
  }
  cs.sort();
  const want = [...input].sort((x, y) => compareLabelsUtf8(x.labels, y.labels));
  assert.equal(cs.size, want.length);
  const strings = new Set(cs.strings);
  const out: Labels = [];
  for (let k = 0; k < cs.size; k++) {
    const i = cs.at(k);
    assert.deepEqual(cs.labelsInto(i, out), want[k]!.labels, `series ${k}`);
    assert.equal(cs.shard(i), want[k]!.shard);
    assert.equal(cs.ref(i), want[k]!.ref);
    for (const [n, v] of want[k]!.labels) assert.ok(strings.has(n) && strings.has(v), `symbols hold ${n}=${v}`);
  }
});

test('strings interned by their bytes: 100k distinct values through table and arena growth, each once, sorted, empty string first', () => {
  const n = 50_000;
  const cs = new CutSeries(16); // far fewer expected than added: every array grows
  const label = (i: number): Labels => [['__name__', 'up'], ['instance', `10.0.${i >> 8}.${i & 255}:9100`], ['pod', `p-${(i * 7919) % n}-é`]];
  for (let i = n - 1; i >= 0; i--) {
    const blob = encodeLabelBlob(label(i));
    cs.add(i & 3, i, blob, 0, blob.length);
  }
  cs.sort();
  assert.equal(cs.size, n);
  assert.equal(cs.strings[0], '', 'the empty string is symbol 0');
  assert.equal(new Set(cs.strings).size, cs.strings.length, 'each string once');
  assert.equal(cs.strings.length, 1 + 4 + 2 * n, "'', 3 names, 'up', the instances and the pods");
  for (let i = 1; i < cs.strings.length; i++) assert.ok(Buffer.compare(Buffer.from(cs.strings[i - 1]!), Buffer.from(cs.strings[i]!)) < 0, `order at ${i}`);
  const out: Labels = [];
  for (let k = 0; k < cs.size; k += 997) {
    const i = cs.at(k);
    const want = label(cs.ref(i));
    assert.deepEqual(cs.labelsInto(i, out), want);
    assert.deepEqual([...cs.labelRefs(i)].map((r) => cs.strings[r]), want.flat(), 'refs name the same strings');
  }
  const blob = encodeLabelBlob(label(0));
  assert.throws(() => cs.add(0, 0, blob, 0, blob.length), /add\(\) after sort\(\)/);
});
