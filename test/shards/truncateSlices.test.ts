/**
 * Head truncation in slices (headTruncate.ts truncateSteps), as the shard runs it so that rounds
 * go on between slices: the same result as truncating whole, and a series that a slice found
 * empty but that a round wrote to before the last slice is kept, with its new sample; a slice
 * also ends on its time budget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, H, T0 } from './gcHarness.js';
import { truncateSteps, truncateHead } from '../../src/shards/headTruncate.js';
import { selectSeries, type SelectQuery } from '../../src/shards/headRead.js';
import type { Labels } from '../../src/model/labels.js';

const CUT = T0 + 2 * H;
const N = 50;
const STEP = 60_000;
const lab = (i: number): Labels => [['__name__', 'sliced'], ['pod', `p${i}`]];
const all: SelectQuery = { tenant: 't', matcherSets: [], mint: -Infinity, maxt: Infinity };

/** load writes every series before the cut, and the even ones after it as well. */
async function load(n = N): Promise<Harness> {
  const h = await Harness.open();
  for (let i = 0; i < n; i++) {
    const s: [number, number][] = [];
    for (let t = T0; t < CUT; t += STEP) s.push([t, i]);
    if (i % 2 === 0) for (let t = CUT; t < CUT + H; t += STEP) s.push([t, i]);
    h.add('t', lab(i), s);
  }
  await h.commit();
  h.head.minValidT = CUT;
  return h;
}

test('sliced truncation leaves the head as whole truncation does', async () => {
  const whole = await load();
  const a = truncateHead(whole.head, CUT);
  const sliced = await load();
  const steps = truncateSteps(sliced.head, CUT, 7);
  let yields = 0;
  let r = steps.next();
  while (r.done !== true) { yields++; r = steps.next(); }
  const b = r.value;
  assert.ok(yields >= Math.floor(N / 7), `yielded ${yields} times`);
  assert.deepEqual([b.chunks, b.openChunks, b.seriesDropped, b.seriesLive], [a.chunks, a.openChunks, a.seriesDropped, a.seriesLive]);
  assert.equal(b.seriesDropped, N / 2);
  assert.deepEqual([...selectSeries(sliced.head, all)], [...selectSeries(whole.head, all)]);
  for (const ref of selectSeries(sliced.head, all)) {
    assert.deepEqual(sliced.samples(ref), whole.samples(ref));
    assert.ok(sliced.samples(ref).every(([t]) => t >= CUT));
  }
});

test('a series found empty in an early slice but written before the last slice is kept', async () => {
  const h = await load();
  const odd = h.ref('t', lab(1));
  const steps = truncateSteps(h.head, CUT, 5);
  steps.next(); // the first slice (series 0-4) ran: p1 is a drop candidate
  // A round between slices: p1 gets a sample after the cut.
  h.add('t', lab(1), [[CUT + 5 * STEP, 42]]);
  await h.commit();
  let r = steps.next();
  while (r.done !== true) r = steps.next();
  assert.equal(r.value.seriesDropped, N / 2 - 1, 'every odd series but p1 dropped');
  assert.equal(h.ref('t', lab(1)), odd, 'p1 is still the same series');
  assert.deepEqual(h.samples(odd), [[CUT + 5 * STEP, 42]]);
  assert.equal(h.ref('t', lab(3)), -1, 'p3 was dropped');
});

test('a slice also ends on its time budget, whatever its series count', async () => {
  const n = 1200;
  const count = (sliceMs: number): Promise<{ yields: number; dropped: number }> => load(n).then((h) => {
    const steps = truncateSteps(h.head, CUT, Infinity, sliceMs);
    let yields = 0;
    let r = steps.next();
    while (r.done !== true) { yields++; r = steps.next(); }
    return { yields, dropped: r.value.seriesDropped };
  });
  const none = await count(Infinity);
  assert.deepEqual(none, { yields: 0, dropped: n / 2 }, 'no budget, no slice limit: one pass');
  // A budget of 0 ms is spent at the first clock check (every 256 series).
  const timed = await count(0);
  assert.deepEqual(timed, { yields: Math.floor((n - 1) / 256), dropped: n / 2 });
});
