/**
 * answerJson writes a query answer's JSON directly; it must equal, byte for byte, Prometheus'
 * response objects (toApi) serialized by JSON.stringify, for every result type and for values
 * that print specially (NaN, ±Inf, -0, exponents), labels needing escapes and annotations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerJson } from '../../src/query/answerJson.js';
import { toApi, type RawResult } from '../../src/query/promql/engine.js';
import type { Labels } from '../../src/model/labels.js';
import { mulberry32 } from '../helpers/prng.js';

/** reference builds the envelope the slow, obvious way. */
function reference(r: RawResult): string {
  const { warnings, infos, ...data } = toApi(r);
  const out: Record<string, unknown> = { status: 'success', data };
  if (warnings.length > 0) out['warnings'] = warnings;
  if (infos.length > 0) out['infos'] = infos;
  return JSON.stringify(out);
}

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-7, 1.5e-300, 1e21, 123456789012345680000, 0.1 + 0.2, -42, 5e-324];

test('answerJson equals JSON.stringify of the API objects for random results', () => {
  const rnd = mulberry32(7);
  const value = (): number => (rnd() < 0.3 ? SPECIAL[Math.floor(rnd() * SPECIAL.length)]! : (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20));
  const labels = (): Labels => {
    const n = Math.floor(rnd() * 4);
    const out: Labels = [];
    for (let i = 0; i < n; i++) out.push([`l${i}`, rnd() < 0.2 ? 'quote " back \\ nl \n é 🙂 <&>' : `v${Math.floor(rnd() * 100)}`]);
    return out;
  };
  const annos = (): string[] => (rnd() < 0.3 ? ['PromQL warning: "x"', 'second'] : []);
  for (let iter = 0; iter < 300; iter++) {
    const kind = iter % 4;
    let r: RawResult;
    const t = Math.floor(rnd() * 2e12) + (rnd() < 0.5 ? 0.5 : 0);
    if (kind === 0) {
      r = { value: { type: 'vector', series: Array.from({ length: Math.floor(rnd() * 5) }, () => ({ metric: labels(), t, v: value() })) }, warnings: annos(), infos: annos() };
    } else if (kind === 1) {
      r = {
        value: { type: 'matrix', series: Array.from({ length: Math.floor(rnd() * 5) }, () => {
          const n = Math.floor(rnd() * 6);
          return { metric: labels(), t: Array.from({ length: n }, (_, k) => t + k * 15_000), v: Array.from({ length: n }, value) };
        }) },
        warnings: annos(), infos: annos(),
      };
    } else if (kind === 2) {
      r = { value: { type: 'scalar', t, v: value() }, warnings: annos(), infos: [] };
    } else {
      r = { value: { type: 'string', t, v: rnd() < 0.5 ? 'plain' : 'esc "\\\n' }, warnings: [], infos: annos() };
    }
    assert.equal(answerJson(r), reference(r), `iteration ${iter}`);
  }
});
