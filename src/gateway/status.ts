/**
 * The one place where coded errors become HTTP statuses (remote-write and read API alike).
 * Conflicts are 409 (Thanos), unavailable 503 with Retry-After, validation 400, limits 413/429.
 */
import { ErrorCode, isSluiceError } from '../errors.js';

/** statusOf maps an error to an HTTP status code. */
export function statusOf(e: unknown): number {
  if (!isSluiceError(e)) return 500;
  switch (e.code) {
    case ErrorCode.BadRequest:
    case ErrorCode.InvalidTenant: return 400;
    case ErrorCode.UnsupportedMediaType: return 415;
    case ErrorCode.Conflict: return 409;
    case ErrorCode.TooLarge: return 413;
    case ErrorCode.TooManyRequests: return 429;
    case ErrorCode.Unavailable: return 503;
    default: return 500;
  }
}

/** RETRY_AFTER_SECONDS is sent with 503 and 429 so senders back off instead of hammering. */
export const RETRY_AFTER_SECONDS = '1';
