/**
 * Label blobs on the read path: mergeLabelBlob must equal withLabels + a filter on the decoded
 * labels (external labels set, replacing same-named labels, then replica labels dropped), and the
 * LabelInterner must decode what decodeLabelBlob decodes, sharing equal strings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../helpers/prng.js';
import {
  blobLabelsBytes, decodeLabelBlob, encodeLabelBlob, mergeLabelBlob, toBlobLabels, withLabels, type Labels,
} from '../../src/model/labels.js';
import { LabelInterner } from '../../src/model/labelIntern.js';

// Sorted: label sets are sorted by name.
const NAMES = ['__name__', 'a', 'cluster', 'instance', 'job', 'pod', 'prometheus_replica', 'replica', 'tenant_id', 'zone', 'é', 'z🙂'].sort();

function randomLabels(rnd: () => number, max: number): Labels {
  const out: Labels = [];
  for (const n of NAMES) if (rnd() < max / NAMES.length) out.push([n, rnd() < 0.2 ? '' : rnd() < 0.1 ? `v-${'x'.repeat(Math.floor(rnd() * 60))}` : `v${Math.floor(rnd() * 5)}ü`]);
  return out;
}

test('mergeLabelBlob equals withLabels then dropping, on random label sets', () => {
  const rnd = mulberry32(5);
  for (let iter = 0; iter < 3000; iter++) {
    const ls = randomLabels(rnd, 6).filter(([, v]) => v !== '');
    const over = randomLabels(rnd, 2);
    const drop = NAMES.filter(() => rnd() < 0.1);
    const want = withLabels(ls, over).filter(([n]) => !drop.includes(n));
    const src = encodeLabelBlob(ls);
    // An offset inside a bigger buffer, as blobs sit in the head's arena.
    const big = new Uint8Array(src.length + 20);
    big.set(src, 7);
    const ob = toBlobLabels(over);
    const dst = new Uint8Array(5 + src.length + blobLabelsBytes(ob));
    const end = mergeLabelBlob(dst, 5, big, 7, src.length, ob, toBlobLabels(drop.map((n) => [n, ''])));
    assert.deepEqual(decodeLabelBlob(dst, 5, end - 5), want, `iteration ${iter}: ${JSON.stringify({ ls, over, drop })}`);
  }
});

test('LabelInterner decodes as decodeLabelBlob does and shares equal strings', () => {
  const rnd = mulberry32(9);
  const it = new LabelInterner();
  const blobs = Array.from({ length: 5000 }, () => encodeLabelBlob(randomLabels(rnd, 8)));
  const all = new Uint8Array(blobs.reduce((a, b) => a + b.length, 0));
  const offs = [0];
  for (const b of blobs) { all.set(b, offs.at(-1)!); offs.push(offs.at(-1)! + b.length); }
  let shared = 0;
  const seen = new Map<string, string>();
  for (let i = 0; i < blobs.length; i++) {
    const got = it.decode(all, offs[i]!, offs[i + 1]! - offs[i]!);
    assert.deepEqual(got, decodeLabelBlob(all, offs[i]!, offs[i + 1]! - offs[i]!));
    for (const [n, v] of got) for (const s of [n, v]) {
      const prev = seen.get(s);
      if (prev !== undefined) shared++;
      else seen.set(s, s);
    }
  }
  assert.ok(shared > 10_000);
});
