/**
 * Coded errors of Sluice. Every condition a caller branches on has a class with a stable `code`;
 * the HTTP status is chosen once, at the edge (src/gateway/status.ts), never where the error is made.
 * Errors cross worker threads as `{ code, message }` and are rebuilt with `fromWire`.
 */

/** ErrorCode lists every stable error code. */
export const ErrorCode = {
  /** The body is not valid snappy or not a valid protobuf WriteRequest. */
  BadRequest: 'E_BAD_REQUEST',
  /** The Content-Type or Content-Encoding is not one we read. */
  UnsupportedMediaType: 'E_UNSUPPORTED_MEDIA_TYPE',
  /** The tenant named by the request is not a valid tenant ID. */
  InvalidTenant: 'E_INVALID_TENANT',
  /** A series or sample conflicts with what is stored (duplicate, out of order, bad labels). */
  Conflict: 'E_CONFLICT',
  /** The request (or its decompressed body) is larger than a limit. */
  TooLarge: 'E_TOO_LARGE',
  /** A rate or cardinality limit refuses the request for now. */
  TooManyRequests: 'E_TOO_MANY_REQUESTS',
  /** The node is starting, stopping or a shard is unavailable; retry later. */
  Unavailable: 'E_UNAVAILABLE',
  /** A flag or configuration value is wrong. */
  Config: 'E_CONFIG',
  /** Anything else. */
  Internal: 'E_INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** SluiceError is the base class of all coded errors. */
export class SluiceError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'SluiceError';
  }
}

/** WireError reports a body that cannot be decoded; `offset` is the byte where decoding failed. */
export class WireError extends SluiceError {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(ErrorCode.BadRequest, `${message} at byte ${offset}`);
    this.offset = offset;
    this.name = 'WireError';
  }
}

/** ConfigError reports a bad flag or configuration file. */
export class ConfigError extends SluiceError {
  constructor(message: string) {
    super(ErrorCode.Config, message);
    this.name = 'ConfigError';
  }
}

/** isSluiceError tells a coded error from any other thrown value. */
export function isSluiceError(e: unknown): e is SluiceError {
  return e instanceof SluiceError;
}

/** toWire turns an error into a plain object that survives structured clone. */
export function toWire(e: unknown): { code: ErrorCode; message: string } {
  if (isSluiceError(e)) return { code: e.code, message: e.message };
  return { code: ErrorCode.Internal, message: e instanceof Error ? e.message : String(e) };
}

/** fromWire rebuilds a coded error sent by another thread with toWire. */
export function fromWire(w: { code: ErrorCode; message: string }): SluiceError {
  return new SluiceError(w.code, w.message);
}
