/**
 * Runs Prometheus' PromQL conformance corpus (a copy in conformance/promql/*.test, see its
 * SOURCE.md and LICENSE; PROMQL_CORPUS points elsewhere) through the
 * promqltest runner. Every eval id listed in conformance/promql-pass.txt must pass; evals that
 * pass but are not listed are printed so that the list can grow
 * (`PROMQL_PASS_UPDATE=1 npm test` rewrites it). Evals needing native histograms are skipped
 * and counted, never listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runPromqlTest } from '../../../src/query/promqltest/run.js';

const CORPUS = resolve(process.env.PROMQL_CORPUS ?? 'conformance/promql');
const PASS_LIST = resolve('conformance/promql-pass.txt');

// The corpus ships with the repository; the skip only fires for a PROMQL_CORPUS that does not exist.
test('PromQL conformance corpus: every listed eval passes', { skip: !existsSync(CORPUS) && `no corpus at ${CORPUS}` }, async (t) => {
  const files = readdirSync(CORPUS).filter((f) => f.endsWith('.test')).sort().map((f) => join(CORPUS, f));
  const sum = await runPromqlTest(files);
  const passing = new Set(sum.results.filter((r) => r.ok === true).map((r) => r.id));
  const listed = existsSync(PASS_LIST)
    ? readFileSync(PASS_LIST, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '')
    : [];
  const byId = new Map(sum.results.map((r) => [r.id, r]));
  const regressions = listed.filter((id) => !passing.has(id));
  const fresh = [...passing].filter((id) => !listed.includes(id));
  t.diagnostic(`${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped (native histograms)`);
  if (fresh.length > 0) {
    const shown = fresh.slice(0, 50).join(', ');
    t.diagnostic(`${fresh.length} newly passing, not yet in ${PASS_LIST}: ${shown}${fresh.length > 50 ? ', …' : ''}`);
  }
  if (process.env.PROMQL_PASS_UPDATE === '1') {
    writeFileSync(PASS_LIST, [...passing].sort().join('\n') + '\n');
  }
  assert.deepEqual(
    regressions.map((id) => `${id}: ${byId.get(id)?.expr ?? '(no such eval)'}: ${byId.get(id)?.message ?? ''}`),
    [],
    'listed evals that no longer pass',
  );
});
