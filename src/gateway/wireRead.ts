/**
 * wireRead.ts holds the low-level protobuf readers behind WriteRequestDecoder (wire.ts): varints,
 * length prefixes and tags, skipping and rejecting unexpected fields, the WireError messages, and
 * validateMessage, which checks the framing of the parts of a request that are only counted.
 * Nothing here knows the remote-write schema; wire.ts describes it with messageSpec.
 */
import { WireError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Wire types and field kinds
// ---------------------------------------------------------------------------------------------

/** WT_VARINT, WT_I64, WT_LEN and WT_I32 are the protobuf wire types Sluice accepts. */
export const WT_VARINT = 0;
export const WT_I64 = 1;
export const WT_LEN = 2;
const WT_I32 = 5;

/** WIRE_TYPE_NAMES names the wire types 0..7 in error messages. */
const WIRE_TYPE_NAMES = ['varint', 'i64', 'len', 'start group', 'end group', 'i32', 'invalid', 'invalid'] as const;

/** FieldKind says which wire types a known field accepts and how its payload is checked. */
export const FieldKind = {
  /** Not a field of this message: skipped whatever its (valid) wire type. */
  Unknown: 0,
  /** A scalar varint (int32/int64/uint64/sint/enum): wire type 0. */
  Varint: 1,
  /** A double or fixed64: wire type 1. */
  I64: 2,
  /** A string or bytes: wire type 2, contents not inspected. */
  Bytes: 3,
  /** An embedded message: wire type 2, contents validated against a nested spec. */
  Message: 4,
  /** A repeated varint scalar: wire type 0 (unpacked) or 2 (packed; every varint complete). */
  RepeatedVarint: 5,
  /** A repeated double/fixed64: wire type 1 (unpacked) or 2 (packed; length a multiple of 8). */
  RepeatedI64: 6,
} as const;
export type FieldKind = (typeof FieldKind)[keyof typeof FieldKind];

/** MessageSpec describes one protobuf message type enough to validate its framing. */
export interface MessageSpec {
  readonly name: string;
  /** kinds[fieldNumber]; numbers past the end are unknown fields. */
  readonly kinds: Uint8Array;
  readonly fieldNames: readonly string[];
  readonly nested: readonly (MessageSpec | null)[];
}

/** messageSpec builds a MessageSpec from `fieldNumber -> [name, kind, nested spec]`. */
export function messageSpec(
  name: string,
  fields: Readonly<Record<number, readonly [string, FieldKind, MessageSpec?]>>,
): MessageSpec {
  const numbers = Object.keys(fields).map(Number);
  const size = Math.max(...numbers) + 1;
  const kinds = new Uint8Array(size);
  const fieldNames: string[] = new Array<string>(size).fill('');
  const nested: (MessageSpec | null)[] = new Array<MessageSpec | null>(size).fill(null);
  for (const n of numbers) {
    const f = fields[n]!;
    kinds[n] = f[1];
    fieldNames[n] = f[0];
    nested[n] = f[2] ?? null;
  }
  return { name, kinds, fieldNames, nested };
}

// ---------------------------------------------------------------------------------------------
// Primitive readers
//
// Hot-path note: a reader returns the position after what it read and leaves the value in one of
// the module-level scratch variables below. That returns two numbers without allocating a tuple
// or an object; V8 inlines these small functions into the loops that call them. Decoding is
// synchronous and not re-entrant, so sharing the scratch between decoder instances is safe (each
// worker thread has its own copy of this module).
// ---------------------------------------------------------------------------------------------

// Only small integers (V8 "Smis") are kept here: storing a non-Smi number into a module-level
// variable allocates a heap box on Node 20, which is exactly the per-sample garbage this file
// exists to avoid. Doubles (timestamps) are therefore returned, not stored.

/** vLo is the low 32 bits of the last varint read by readVarint (as an int32; use `>>> 0` for unsigned). */
export let vLo = 0;
/** vHi is the high 32 bits of the last varint read by readVarint (as an int32, so the sign of an int64). */
let vHi = 0;
/** vLen is the last length read by readLen (bounded by the buffer length). */
export let vLen = 0;
/** vPos is the position after the last int64 read by readInt64. */
export let vPos = 0;

/** TWO_POW_32 is 2^32, the weight of the high word of a varint. */
const TWO_POW_32 = 4294967296;

/**
 * readVarint reads a base-128 varint of up to 10 bytes starting at `p` (which may equal `end`)
 * into vLo/vHi and returns the position after it. Throws WireError if the varint runs past `end`,
 * is longer than 10 bytes, or does not fit 64 bits.
 */
function readVarint(buf: Uint8Array, p: number, end: number): number {
  const start = p;
  let lo = 0;
  let hi = 0;
  let b = 0;
  // Bytes 0..3 carry bits 0..27, all in the low word.
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= end) throw truncatedVarint(start, end);
    b = buf[p++]!;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) {
      vLo = lo;
      vHi = 0;
      return p;
    }
  }
  // Byte 4 carries bits 28..34: its low 4 bits end the low word, its high 3 bits start the high.
  if (p >= end) throw truncatedVarint(start, end);
  b = buf[p++]!;
  lo |= (b & 0x7f) << 28;
  hi = (b & 0x7f) >>> 4;
  if (b < 0x80) {
    vLo = lo;
    vHi = hi;
    return p;
  }
  // Bytes 5..8 carry bits 35..62: high-word shifts 3, 10, 17, 24.
  for (let shift = 3; shift < 31; shift += 7) {
    if (p >= end) throw truncatedVarint(start, end);
    b = buf[p++]!;
    hi |= (b & 0x7f) << shift;
    if (b < 0x80) {
      vLo = lo;
      vHi = hi;
      return p;
    }
  }
  // Byte 9 carries bit 63 only.
  if (p >= end) throw truncatedVarint(start, end);
  b = buf[p++]!;
  if (b > 1) {
    throw new WireError(
      b >= 0x80 ? 'varint longer than 10 bytes' : 'varint does not fit in 64 bits',
      start,
    );
  }
  vLo = lo;
  vHi = hi | (b << 31);
  return p;
}

/** truncatedVarint builds the error for a varint that starts at `start` and runs past `end`. */
function truncatedVarint(start: number, end: number): WireError {
  return new WireError(`truncated varint (message ends at byte ${end})`, start);
}

/**
 * readInt64 reads the int64 varint at `p`, returns it as a double and leaves the position after it
 * in vPos. Negative values are 10-byte two's complement varints; values past 2^53 round to the
 * nearest double.
 *
 * Hot-path note: timestamps in ms are about 2^41 (6-byte varints). Up to 7 bytes (49 bits) the
 * value is accumulated straight into a double, which is exact there; only longer varints go
 * through the two-word reader.
 */
export function readInt64(buf: Uint8Array, p: number, end: number): number {
  let v = 0;
  let mul = 1;
  const stop = end - p < 7 ? end : p + 7;
  for (let q = p; q < stop; q++) {
    const b = buf[q]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      vPos = q + 1;
      return v;
    }
    mul *= 128;
  }
  vPos = readVarint(buf, p, end);
  // vHi is a signed int32, so this is the two's complement int64 value, rounded once.
  return vHi * TWO_POW_32 + (vLo >>> 0);
}

/**
 * readLen reads a length prefix at `p` into vLen and returns the position after it, checking that
 * the length fits in what is left before `end`. Throws WireError otherwise.
 */
export function readLen(buf: Uint8Array, p: number, end: number): number {
  if (p < end) {
    const b = buf[p]!;
    // Hot-path note: label names, values and samples are almost always shorter than 128 bytes.
    if (b < 0x80) {
      if (b > end - p - 1) throw lengthPastEnd(b, p, end - p - 1);
      vLen = b;
      return p + 1;
    }
  }
  const after = readVarint(buf, p, end);
  if (vHi !== 0 || vLo < 0 || vLo > end - after) {
    throw lengthPastEnd(vHi * TWO_POW_32 + (vLo >>> 0), p, end - after);
  }
  vLen = vLo;
  return after;
}

/** lengthPastEnd builds the error for a length prefix at `at` that overruns its message. */
function lengthPastEnd(n: number, at: number, left: number): WireError {
  const shown = n < 0 ? `${n} (negative as int64)` : String(n);
  return new WireError(`length ${shown} runs past the end of the enclosing message (${left} bytes left)`, at);
}

/**
 * readTagSlow reads a tag that did not fit one byte into vLo and returns the position after it.
 * Throws WireError for tags that do not fit 32 bits.
 */
export function readTagSlow(buf: Uint8Array, p: number, end: number): number {
  const after = readVarint(buf, p, end);
  if (vHi !== 0) throw new WireError('tag does not fit in 32 bits', p);
  return after;
}

/**
 * skipOrReject handles a tag that the hot loop of message `spec` did not expect: a known field
 * number (its wire type must then be wrong), field number 0, or an unknown field, which is skipped.
 * Returns the position after the field.
 */
export function skipOrReject(
  buf: Uint8Array,
  tagPos: number,
  p: number,
  end: number,
  tag: number,
  spec: MessageSpec,
): number {
  const field = tag >>> 3;
  const wt = tag & 7;
  if (field < spec.kinds.length && spec.kinds[field] !== FieldKind.Unknown) {
    throw wrongWireType(spec, field, wt, tagPos);
  }
  return skipField(buf, tagPos, p, end, field, wt);
}

/**
 * skipField skips the payload of an unknown field of wire type `wt` that starts at `p` and returns
 * the position after it. Throws WireError for field number 0, group wire types and wire types 6/7.
 */
function skipField(buf: Uint8Array, tagPos: number, p: number, end: number, field: number, wt: number): number {
  if (field === 0) throw new WireError('invalid field number 0', tagPos);
  switch (wt) {
    case WT_VARINT:
      return readVarint(buf, p, end);
    case WT_I64:
      if (end - p < 8) throw truncatedFixed(8, p, end);
      return p + 8;
    case WT_LEN: {
      const after = readLen(buf, p, end);
      return after + vLen;
    }
    case WT_I32:
      if (end - p < 4) throw truncatedFixed(4, p, end);
      return p + 4;
    case 3:
    case 4:
      throw new WireError(`group wire type ${wt} (${WIRE_TYPE_NAMES[wt]}) of field ${field} is not supported`, tagPos);
    default:
      throw new WireError(`invalid wire type ${wt} of field ${field}`, tagPos);
  }
}

/** truncatedFixed builds the error for a fixed-width field of `size` bytes cut off by `end`. */
export function truncatedFixed(size: number, p: number, end: number): WireError {
  return new WireError(`truncated ${size}-byte fixed-width field (${end - p} bytes left)`, p);
}

/** wrongWireType builds the error for a known field sent with a wire type it cannot have. */
function wrongWireType(spec: MessageSpec, field: number, wt: number, tagPos: number): WireError {
  const kind = spec.kinds[field]!;
  let expected: string;
  switch (kind) {
    case FieldKind.Varint: expected = 'varint'; break;
    case FieldKind.I64: expected = 'i64'; break;
    case FieldKind.RepeatedVarint: expected = 'varint or len'; break;
    case FieldKind.RepeatedI64: expected = 'i64 or len'; break;
    default: expected = 'len';
  }
  return new WireError(
    `${spec.name} field ${field} (${spec.fieldNames[field]}) has wire type ${wt} (${WIRE_TYPE_NAMES[wt]}), expected ${expected}`,
    tagPos,
  );
}

/**
 * validateMessage walks the message `spec` that occupies [p, end) without keeping anything: every
 * field must be well framed, every known field must have an acceptable wire type, and embedded
 * messages are validated recursively. Used for the parts of a WriteRequest that Sluice only counts
 * (exemplars, histograms, metadata). The specs are not recursive, so neither is the stack depth.
 */
export function validateMessage(buf: Uint8Array, p: number, end: number, spec: MessageSpec): void {
  const kinds = spec.kinds;
  while (p < end) {
    const tagPos = p;
    let tag = buf[p]!;
    if (tag < 0x80) p++;
    else {
      p = readTagSlow(buf, p, end);
      tag = vLo >>> 0;
    }
    const field = tag >>> 3;
    const wt = tag & 7;
    const kind = field < kinds.length ? kinds[field]! : FieldKind.Unknown;
    switch (kind) {
      case FieldKind.Varint:
        if (wt !== WT_VARINT) throw wrongWireType(spec, field, wt, tagPos);
        p = readVarint(buf, p, end);
        break;
      case FieldKind.I64:
        if (wt !== WT_I64) throw wrongWireType(spec, field, wt, tagPos);
        if (end - p < 8) throw truncatedFixed(8, p, end);
        p += 8;
        break;
      case FieldKind.Bytes:
        if (wt !== WT_LEN) throw wrongWireType(spec, field, wt, tagPos);
        p = readLen(buf, p, end);
        p += vLen;
        break;
      case FieldKind.Message: {
        if (wt !== WT_LEN) throw wrongWireType(spec, field, wt, tagPos);
        p = readLen(buf, p, end);
        const stop = p + vLen;
        validateMessage(buf, p, stop, spec.nested[field]!);
        p = stop;
        break;
      }
      case FieldKind.RepeatedVarint:
        if (wt === WT_VARINT) p = readVarint(buf, p, end);
        else if (wt === WT_LEN) {
          p = readLen(buf, p, end);
          const stop = p + vLen;
          while (p < stop) p = readVarint(buf, p, stop);
        } else throw wrongWireType(spec, field, wt, tagPos);
        break;
      case FieldKind.RepeatedI64:
        if (wt === WT_I64) {
          if (end - p < 8) throw truncatedFixed(8, p, end);
          p += 8;
        } else if (wt === WT_LEN) {
          const lenPos = p;
          p = readLen(buf, p, end);
          if (vLen % 8 !== 0) {
            throw new WireError(
              `${spec.name} field ${field} (${spec.fieldNames[field]}): packed length ${vLen} is not a multiple of 8`,
              lenPos,
            );
          }
          p += vLen;
        } else throw wrongWireType(spec, field, wt, tagPos);
        break;
      default:
        p = skipField(buf, tagPos, p, end, field, wt);
    }
  }
}
