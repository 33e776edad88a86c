/**
 * Write quorum and error aggregation of a replicated write, with Thanos Receive's rules
 * (pkg/receive/handler.go: writeQuorum, canReturnEarly, replicationErrors.Cause, writeErrors.Cause):
 *
 *  - quorum: RF == 2 ? 1 : floor(RF / 2) + 1 successes per series; 1 for an already replicated
 *    request (it carries a single replica);
 *  - a series is decided when it reached quorum, or when conflicts alone make quorum impossible
 *    (conflicts >= replicas - quorum + 1); the request may answer once every series is decided;
 *  - a series failed when its failures reach that same failure threshold. Its cause is the error
 *    class seen most often (ties: conflict, then not-ready, then unavailable) if that count reaches
 *    the quorum, else "unavailable" (a mix of errors: a retry may succeed);
 *  - the request's cause is, over its failed series: unavailable > not-ready > conflict > other,
 *    so one retryable series makes the whole answer retryable.
 *
 * Outcomes become coded errors: conflict → Conflict (409), unavailable and not-ready →
 * Unavailable (503), other → Internal (500). Pure; touches nothing.
 */
import { ErrorCode, SluiceError, isSluiceError } from '../errors.js';

/** ErrorClass classifies the outcome of one replica write. */
export const ErrorClass = {
  OK: 0,
  /** The samples conflict with stored data or the labels are invalid (never succeeds on retry). */
  CONFLICT: 1,
  /** The writer is not ready yet (starting). */
  NOT_READY: 2,
  /** The peer could not be reached, timed out, or answered 5xx. */
  UNAVAILABLE: 3,
  /** Anything else (a peer's 4xx other than 409, an unexpected error). */
  OTHER: 4,
} as const;
export type ErrorClass = (typeof ErrorClass)[keyof typeof ErrorClass];

/** WriteOutcome is the result of one (endpoint, replica) write. */
export interface WriteOutcome {
  readonly cls: ErrorClass;
  /** Why it failed ('' on success); becomes part of the request's error message. */
  readonly message: string;
}

/** OK_OUTCOME is the shared success outcome. */
export const OK_OUTCOME: WriteOutcome = Object.freeze({ cls: ErrorClass.OK, message: '' });

/** writeQuorum returns the successes a series needs: RF == 2 ? 1 : floor(RF/2) + 1. */
export function writeQuorum(rf: number): number {
  // RF=2 asks one success, else every write would need both replicas (Thanos NOTE(GiedriusS)).
  if (rf === 2) return 1;
  return Math.floor(rf / 2) + 1;
}

/** failureThreshold returns the failures after which a series can no longer reach `quorum`. */
export function failureThreshold(replicas: number, quorum: number): number {
  return replicas - quorum + 1;
}

/**
 * seriesCause returns the cause of a failed series (one whose failures reached the failure
 * threshold) from its failure counts per known class and the quorum.
 */
export function seriesCause(conflict: number, notReady: number, unavailable: number, quorum: number): ErrorClass {
  let best: ErrorClass = ErrorClass.CONFLICT;
  let bestCount = conflict;
  if (notReady > bestCount) { best = ErrorClass.NOT_READY; bestCount = notReady; }
  if (unavailable > bestCount) { best = ErrorClass.UNAVAILABLE; bestCount = unavailable; }
  if (bestCount >= quorum) return best;
  // No class dominates: a mix of failures, of which a retry may fix some. (Thanos lands here when
  // the failures reach the quorum; below that, possible only for even RF >= 4, it names no cause
  // and answers 500.)
  return ErrorClass.UNAVAILABLE;
}

/** Bits of a set of error classes, for requestCause. */
export const classBit = (c: ErrorClass): number => 1 << c;

/** requestCause picks the request's cause from the set of its failed series' causes (bits). */
export function requestCause(bits: number): ErrorClass {
  if (bits & classBit(ErrorClass.UNAVAILABLE)) return ErrorClass.UNAVAILABLE;
  if (bits & classBit(ErrorClass.NOT_READY)) return ErrorClass.NOT_READY;
  if (bits & classBit(ErrorClass.CONFLICT)) return ErrorClass.CONFLICT;
  if (bits & classBit(ErrorClass.OTHER)) return ErrorClass.OTHER;
  return ErrorClass.OK;
}

/** errorForClass turns a failed class into the coded error the edge maps to a status. */
export function errorForClass(cls: ErrorClass, message: string): SluiceError {
  switch (cls) {
    case ErrorClass.CONFLICT: return new SluiceError(ErrorCode.Conflict, message);
    case ErrorClass.NOT_READY:
    case ErrorClass.UNAVAILABLE: return new SluiceError(ErrorCode.Unavailable, message);
    default: return new SluiceError(ErrorCode.Internal, message);
  }
}

/** outcomeOfError classifies an error thrown by a local write. */
export function outcomeOfError(e: unknown): WriteOutcome {
  const message = e instanceof Error ? e.message : String(e);
  if (!isSluiceError(e)) return { cls: ErrorClass.OTHER, message };
  switch (e.code) {
    case ErrorCode.Conflict: return { cls: ErrorClass.CONFLICT, message };
    case ErrorCode.Unavailable: return { cls: ErrorClass.UNAVAILABLE, message };
    default: return { cls: ErrorClass.OTHER, message };
  }
}

/** MAX_REASONS bounds how many distinct reasons an error message lists. */
const MAX_REASONS = 8;

/** formatReasons joins distinct reasons like Thanos' errorSet: sorted, "N errors: a; b". */
export function formatReasons(reasons: Iterable<string>): string {
  const all = [...new Set(reasons)].sort();
  const shown = all.length > MAX_REASONS ? [...all.slice(0, MAX_REASONS), `… ${all.length - MAX_REASONS} more`] : all;
  return all.length > 1 ? `${all.length} errors: ${shown.join('; ')}` : (shown[0] ?? '');
}

/**
 * QuorumTracker counts, per series of one request, the outcomes of its replica writes and decides
 * the request's outcome. Counters are typed arrays sized once per request; record() costs O(series
 * in that write) and allocates nothing on success.
 */
export class QuorumTracker {
  readonly numSeries: number;
  readonly quorum: number;
  readonly failureThreshold: number;
  private readonly succ: Uint8Array;
  private readonly fail: Uint8Array;
  private readonly conflict: Uint8Array;
  private readonly notReady: Uint8Array;
  private readonly unavailable: Uint8Array;
  private readonly decidedFlag: Uint8Array;
  private undecided: number;
  private readonly failedWrites: { series: ArrayLike<number>; outcome: WriteOutcome }[] = [];

  /**
   * `replicas` is how many replica writes each series gets (RF, or 1 for an already replicated
   * request) and `quorum` the successes it needs (writeQuorum(RF), or 1).
   */
  constructor(numSeries: number, replicas: number, quorum: number) {
    if (replicas > 255) throw new SluiceError(ErrorCode.Config, `replication factor ${replicas} is over 255`);
    this.numSeries = numSeries;
    this.quorum = quorum;
    this.failureThreshold = failureThreshold(replicas, quorum);
    this.succ = new Uint8Array(numSeries);
    this.fail = new Uint8Array(numSeries);
    this.conflict = new Uint8Array(numSeries);
    this.notReady = new Uint8Array(numSeries);
    this.unavailable = new Uint8Array(numSeries);
    this.decidedFlag = new Uint8Array(numSeries);
    this.undecided = numSeries;
  }

  /** decided tells whether every series has a final outcome (Thanos' canReturnEarly). */
  get decided(): boolean {
    return this.undecided === 0;
  }

  /** record counts one replica write's `outcome` for each series index in `series`. */
  record(series: ArrayLike<number>, outcome: WriteOutcome): void {
    const cls = outcome.cls;
    if (cls === ErrorClass.OK) {
      for (let i = 0; i < series.length; i++) {
        const s = series[i]!;
        if (++this.succ[s]! === this.quorum && this.decidedFlag[s] === 0) { this.decidedFlag[s] = 1; this.undecided--; }
      }
      return;
    }
    this.failedWrites.push({ series, outcome });
    for (let i = 0; i < series.length; i++) {
      const s = series[i]!;
      this.fail[s]!++;
      if (cls === ErrorClass.CONFLICT) {
        if (++this.conflict[s]! === this.failureThreshold && this.decidedFlag[s] === 0) { this.decidedFlag[s] = 1; this.undecided--; }
      } else if (cls === ErrorClass.NOT_READY) {
        this.notReady[s]!++;
      } else if (cls === ErrorClass.UNAVAILABLE) {
        this.unavailable[s]!++;
      }
    }
  }

  /**
   * result returns null if no series failed, else the request's coded error (Conflict,
   * Unavailable or Internal) whose message lists the distinct reasons of the writes that failed
   * the failed series. Call it once the tracker is decided or every write has been recorded.
   */
  result(): SluiceError | null {
    const n = this.numSeries;
    const ft = this.failureThreshold;
    let bits = 0;
    let failed: Uint8Array | undefined;
    for (let s = 0; s < n; s++) {
      const f = this.fail[s]!;
      if (f < ft) continue;
      const c = this.conflict[s]!, nr = this.notReady[s]!, u = this.unavailable[s]!;
      bits |= classBit(seriesCause(c, nr, u, this.quorum));
      failed ??= new Uint8Array(n);
      failed[s] = 1;
    }
    if (failed === undefined) return null;
    const reasons: string[] = [];
    for (const w of this.failedWrites) {
      for (let i = 0; i < w.series.length; i++) {
        if (failed[w.series[i]!] === 1) { reasons.push(w.outcome.message); break; }
      }
    }
    return errorForClass(requestCause(bits), formatReasons(reasons));
  }
}
