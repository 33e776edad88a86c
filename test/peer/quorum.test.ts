/**
 * Tests of src/peer/quorum.ts: quorum sizes, per-series causes, the request's precedence, early
 * decision and the final coded error, as tables (Thanos handler.go semantics).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ErrorClass, OK_OUTCOME, QuorumTracker, classBit, errorForClass, failureThreshold, formatReasons,
  outcomeOfError, requestCause, seriesCause, writeQuorum, type WriteOutcome,
} from '../../src/peer/quorum.js';
import { ErrorCode, SluiceError } from '../../src/errors.js';

const { OK, CONFLICT, NOT_READY, UNAVAILABLE, OTHER } = ErrorClass;

test('writeQuorum and failureThreshold', () => {
  const table: [rf: number, quorum: number, failures: number][] = [
    [1, 1, 1], [2, 1, 2], [3, 2, 2], [4, 3, 2], [5, 3, 3], [6, 4, 3], [7, 4, 4],
  ];
  for (const [rf, q, f] of table) {
    assert.equal(writeQuorum(rf), q, `quorum of RF ${rf}`);
    assert.equal(failureThreshold(rf, q), f, `failure threshold of RF ${rf}`);
  }
});

test('seriesCause: a class reaching the quorum wins, ties go conflict > not-ready > unavailable, else unavailable', () => {
  const table: [conflict: number, notReady: number, unavailable: number, quorum: number, want: ErrorClass][] = [
    [2, 0, 0, 2, CONFLICT],
    [0, 2, 0, 2, NOT_READY],
    [0, 0, 2, 2, UNAVAILABLE],
    [1, 0, 1, 2, UNAVAILABLE], // mixed: retryable
    [1, 1, 0, 2, UNAVAILABLE],
    [2, 0, 1, 2, CONFLICT],
    [1, 0, 2, 2, UNAVAILABLE],
    [2, 2, 0, 2, CONFLICT], // tie: conflict first
    [0, 2, 2, 2, NOT_READY], // tie: not-ready before unavailable
    [1, 0, 0, 1, CONFLICT], // RF 1 / replicated request
    [0, 0, 0, 1, UNAVAILABLE], // only "other" failures: unavailable
    [3, 0, 0, 3, CONFLICT],
    [2, 0, 0, 3, UNAVAILABLE], // RF 5: two conflicts and one timeout
  ];
  for (const [c, n, u, q, want] of table) assert.equal(seriesCause(c, n, u, q), want, JSON.stringify([c, n, u, q]));
});

test('requestCause precedence: unavailable > not-ready > conflict > other', () => {
  const b = (...cs: ErrorClass[]): number => cs.reduce((a: number, c) => a | classBit(c), 0);
  assert.equal(requestCause(b()), OK);
  assert.equal(requestCause(b(OTHER)), OTHER);
  assert.equal(requestCause(b(OTHER, CONFLICT)), CONFLICT);
  assert.equal(requestCause(b(CONFLICT, NOT_READY)), NOT_READY);
  assert.equal(requestCause(b(CONFLICT, NOT_READY, UNAVAILABLE, OTHER)), UNAVAILABLE);
  assert.equal(requestCause(b(CONFLICT, UNAVAILABLE)), UNAVAILABLE);
});

test('errorForClass and outcomeOfError map classes to coded errors and back', () => {
  assert.equal(errorForClass(CONFLICT, 'x').code, ErrorCode.Conflict);
  assert.equal(errorForClass(UNAVAILABLE, 'x').code, ErrorCode.Unavailable);
  assert.equal(errorForClass(NOT_READY, 'x').code, ErrorCode.Unavailable);
  assert.equal(errorForClass(OTHER, 'x').code, ErrorCode.Internal);
  assert.equal(outcomeOfError(new SluiceError(ErrorCode.Conflict, 'ooo')).cls, CONFLICT);
  assert.equal(outcomeOfError(new SluiceError(ErrorCode.Unavailable, 'busy')).cls, UNAVAILABLE);
  assert.equal(outcomeOfError(new Error('boom')).cls, OTHER);
  assert.equal(outcomeOfError(new Error('boom')).message, 'boom');
});

test('formatReasons deduplicates and sorts like Thanos errorSet', () => {
  assert.equal(formatReasons([]), '');
  assert.equal(formatReasons(['b', 'b']), 'b');
  assert.equal(formatReasons(['b', 'a', 'b']), '2 errors: a; b');
  assert.match(formatReasons(Array.from({ length: 12 }, (_, i) => `r${String(i).padStart(2, '0')}`)), /^12 errors: r00; .*; … 4 more$/);
});

const fail = (cls: ErrorClass, message: string): WriteOutcome => ({ cls, message });

/**
 * Scenario table for RF 3 (quorum 2, failure threshold 2) with two series. Each step is one
 * replica write: the series it carried and its outcome. `decidedAfter` is the step after which
 * the tracker must report decided (early return), `want` the final coded error (or null).
 */
const RF3: { name: string; steps: [number[], WriteOutcome][]; decidedAfter: number; want: null | { code: string; message: RegExp } }[] = [
  {
    name: 'all succeed: decided after two successes each',
    steps: [[[0, 1], OK_OUTCOME], [[0, 1], OK_OUTCOME], [[0, 1], OK_OUTCOME]],
    decidedAfter: 1, want: null,
  },
  {
    name: 'one replica down: still success',
    steps: [[[0, 1], fail(UNAVAILABLE, 'peer b down')], [[0, 1], OK_OUTCOME], [[0, 1], OK_OUTCOME]],
    decidedAfter: 2, want: null,
  },
  {
    name: 'two replicas down: 503, waits for every answer',
    steps: [[[0, 1], fail(UNAVAILABLE, 'peer b down')], [[0, 1], fail(UNAVAILABLE, 'peer c down')], [[0, 1], OK_OUTCOME]],
    decidedAfter: -1, want: { code: ErrorCode.Unavailable, message: /^2 errors: peer b down; peer c down$/ },
  },
  {
    name: 'two conflicts: 409 decided early, before the third answer',
    steps: [[[0, 1], fail(CONFLICT, 'out of order')], [[0, 1], fail(CONFLICT, 'out of order')], [[0, 1], OK_OUTCOME]],
    decidedAfter: 1, want: { code: ErrorCode.Conflict, message: /^out of order$/ },
  },
  {
    name: 'conflict + unavailable on one series: 503 (a retry may succeed)',
    steps: [[[0], fail(CONFLICT, 'dup')], [[0], fail(UNAVAILABLE, 'down')], [[0], OK_OUTCOME], [[1], OK_OUTCOME], [[1], OK_OUTCOME]],
    decidedAfter: -1, want: { code: ErrorCode.Unavailable, message: /^2 errors: down; dup$/ },
  },
  {
    name: 'series 0 conflicts, series 1 unavailable: unavailable wins for the request',
    steps: [[[0], fail(CONFLICT, 'dup')], [[0], fail(CONFLICT, 'dup')], [[1], fail(UNAVAILABLE, 'down')], [[1], fail(UNAVAILABLE, 'down')], [[0, 1], OK_OUTCOME]],
    decidedAfter: -1, want: { code: ErrorCode.Unavailable, message: /down; dup/ },
  },
  {
    name: 'series 0 conflicts, series 1 succeeds: 409 naming only the failing write',
    steps: [[[0, 1], fail(CONFLICT, 'dup')], [[0], fail(CONFLICT, 'dup again')], [[1], OK_OUTCOME], [[0, 1], OK_OUTCOME]],
    decidedAfter: 3, want: { code: ErrorCode.Conflict, message: /^2 errors: dup; dup again$/ },
  },
  {
    name: 'one peer answers 400 (other) and one is down: unavailable',
    steps: [[[0, 1], fail(OTHER, 'bad request')], [[0, 1], fail(UNAVAILABLE, 'down')], [[0, 1], OK_OUTCOME]],
    decidedAfter: -1, want: { code: ErrorCode.Unavailable, message: /bad request; down/ },
  },
  {
    name: 'a failure that did not cost quorum is not reported',
    steps: [[[0, 1], fail(CONFLICT, 'dup')], [[0, 1], OK_OUTCOME], [[0, 1], OK_OUTCOME]],
    decidedAfter: 2, want: null,
  },
];

test('QuorumTracker, RF 3: early decision and final outcome', () => {
  for (const c of RF3) {
    const t = new QuorumTracker(2, 3, writeQuorum(3));
    let decidedAt = -1;
    c.steps.forEach(([series, o], i) => {
      t.record(Int32Array.from(series), o);
      if (decidedAt < 0 && t.decided) decidedAt = i;
    });
    assert.equal(decidedAt, c.decidedAfter, `${c.name}: decided after step`);
    const err = t.result();
    if (c.want === null) {
      assert.equal(err, null, c.name);
    } else {
      assert.ok(err !== null, c.name);
      assert.equal(err.code, c.want.code, c.name);
      assert.match(err.message, c.want.message, c.name);
    }
  }
});

test('QuorumTracker, RF 2: one success is enough; two failures fail', () => {
  const ok = new QuorumTracker(1, 2, writeQuorum(2));
  ok.record([0], fail(UNAVAILABLE, 'down'));
  assert.equal(ok.decided, false);
  ok.record([0], OK_OUTCOME);
  assert.equal(ok.decided, true);
  assert.equal(ok.result(), null);

  const bad = new QuorumTracker(1, 2, writeQuorum(2));
  bad.record([0], fail(CONFLICT, 'dup'));
  assert.equal(bad.decided, false, 'one conflict of two does not make quorum impossible');
  bad.record([0], fail(CONFLICT, 'dup'));
  assert.equal(bad.decided, true);
  assert.equal(bad.result()?.code, ErrorCode.Conflict);
});

test('QuorumTracker for an already replicated request (1 replica, quorum 1)', () => {
  const t = new QuorumTracker(3, 1, 1);
  t.record([0, 1, 2], fail(CONFLICT, 'add 2 samples: out of order sample'));
  assert.equal(t.decided, true);
  const err = t.result();
  assert.equal(err?.code, ErrorCode.Conflict);
  assert.equal(err?.message, 'add 2 samples: out of order sample');

  const u = new QuorumTracker(1, 1, 1);
  u.record([0], fail(OTHER, 'boom'));
  assert.equal(u.result()?.code, ErrorCode.Unavailable, 'a lone unknown failure is retryable, as in Thanos');
});
