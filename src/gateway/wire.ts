/**
 * wire.ts decodes the protobuf body of a Prometheus remote-write 1.0 request (a
 * `prometheus.WriteRequest`, see src/proto/remote.proto) by hand, straight from the bytes.
 *
 * Why not protobufjs on the ingest path: a generic decoder builds one JS object per series, per
 * label and per sample and one JS string per label name and value. At hundreds of thousands of
 * samples per second that garbage dominates the profile. WriteRequestDecoder instead writes
 * everything into typed arrays it owns and keeps between requests: label names and values are
 * reported as (offset, length) pairs into the input buffer, sample values as their raw 64 bits.
 * After warm-up a decode allocates nothing at all.
 *
 * What is checked: protobuf framing (every varint, tag, length and fixed-width field is complete
 * and inside its enclosing message), wire types of every known field (including inside
 * exemplars, histograms and metadata, which are only counted), field number 0, group wire types
 * (3 and 4: not valid in proto3) and the undefined wire types 6 and 7. Unknown fields of any valid
 * wire type are skipped at every nesting level, so newer senders keep working.
 *
 * What is not checked: UTF-8 validity of strings and the semantics of labels (sortedness,
 * duplicates, empty names). The caller does that, once, where it already touches the bytes.
 *
 * Host requirement: a little-endian host (x86-64, arm64). `values` is a Float64Array view over
 * the same memory as `valueWords`, which only lines up when the host is little-endian.
 *
 * The file stays whole although it is over 600 lines: splitting the decoder across modules
 * measured 1-3% slower (V8 reaches cross-module state through an extra indirection).
 */
import { WireError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Wire types and field kinds
// ---------------------------------------------------------------------------------------------

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

const WIRE_TYPE_NAMES = ['varint', 'i64', 'len', 'start group', 'end group', 'i32', 'invalid', 'invalid'] as const;

/** FieldKind says which wire types a known field accepts and how its payload is checked. */
const FieldKind = {
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
type FieldKind = (typeof FieldKind)[keyof typeof FieldKind];

/** MessageSpec describes one protobuf message type enough to validate its framing. */
interface MessageSpec {
  readonly name: string;
  /** kinds[fieldNumber]; numbers past the end are unknown fields. */
  readonly kinds: Uint8Array;
  readonly fieldNames: readonly string[];
  readonly nested: readonly (MessageSpec | null)[];
}

/** messageSpec builds a MessageSpec from `fieldNumber -> [name, kind, nested spec]`. */
function messageSpec(
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

const LABEL = messageSpec('prometheus.Label', {
  1: ['name', FieldKind.Bytes],
  2: ['value', FieldKind.Bytes],
});
const SAMPLE = messageSpec('prometheus.Sample', {
  1: ['value', FieldKind.I64],
  2: ['timestamp', FieldKind.Varint],
});
const EXEMPLAR = messageSpec('prometheus.Exemplar', {
  1: ['labels', FieldKind.Message, LABEL],
  2: ['value', FieldKind.I64],
  3: ['timestamp', FieldKind.Varint],
});
const BUCKET_SPAN = messageSpec('prometheus.BucketSpan', {
  1: ['offset', FieldKind.Varint],
  2: ['length', FieldKind.Varint],
});
const HISTOGRAM = messageSpec('prometheus.Histogram', {
  1: ['count_int', FieldKind.Varint],
  2: ['count_float', FieldKind.I64],
  3: ['sum', FieldKind.I64],
  4: ['schema', FieldKind.Varint],
  5: ['zero_threshold', FieldKind.I64],
  6: ['zero_count_int', FieldKind.Varint],
  7: ['zero_count_float', FieldKind.I64],
  8: ['negative_spans', FieldKind.Message, BUCKET_SPAN],
  9: ['negative_deltas', FieldKind.RepeatedVarint],
  10: ['negative_counts', FieldKind.RepeatedI64],
  11: ['positive_spans', FieldKind.Message, BUCKET_SPAN],
  12: ['positive_deltas', FieldKind.RepeatedVarint],
  13: ['positive_counts', FieldKind.RepeatedI64],
  14: ['reset_hint', FieldKind.Varint],
  15: ['timestamp', FieldKind.Varint],
  16: ['custom_values', FieldKind.RepeatedI64],
});
const TIME_SERIES = messageSpec('prometheus.TimeSeries', {
  1: ['labels', FieldKind.Message, LABEL],
  2: ['samples', FieldKind.Message, SAMPLE],
  3: ['exemplars', FieldKind.Message, EXEMPLAR],
  4: ['histograms', FieldKind.Message, HISTOGRAM],
});
const METADATA = messageSpec('prometheus.MetricMetadata', {
  1: ['type', FieldKind.Varint],
  2: ['metric_family_name', FieldKind.Bytes],
  4: ['help', FieldKind.Bytes],
  5: ['unit', FieldKind.Bytes],
});
const WRITE_REQUEST = messageSpec('prometheus.WriteRequest', {
  1: ['timeseries', FieldKind.Message, TIME_SERIES],
  3: ['metadata', FieldKind.Message, METADATA],
});

// Tags (field number << 3 | wire type) of the fields decoded on the hot path. All fit one byte.
const TAG_WR_TIMESERIES = (1 << 3) | WT_LEN; // 0x0a
const TAG_WR_METADATA = (3 << 3) | WT_LEN; // 0x1a
const TAG_TS_LABELS = (1 << 3) | WT_LEN; // 0x0a
const TAG_TS_SAMPLES = (2 << 3) | WT_LEN; // 0x12
const TAG_TS_EXEMPLARS = (3 << 3) | WT_LEN; // 0x1a
const TAG_TS_HISTOGRAMS = (4 << 3) | WT_LEN; // 0x22
const TAG_LABEL_NAME = (1 << 3) | WT_LEN; // 0x0a
const TAG_LABEL_VALUE = (2 << 3) | WT_LEN; // 0x12
const TAG_SAMPLE_VALUE = (1 << 3) | WT_I64; // 0x09
const TAG_SAMPLE_TIMESTAMP = (2 << 3) | WT_VARINT; // 0x10

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

/** Low 32 bits of the last varint read by readVarint (as an int32; use `>>> 0` for unsigned). */
let vLo = 0;
/** High 32 bits of the last varint read by readVarint (as an int32, so the sign of an int64). */
let vHi = 0;
/** The last length read by readLen (bounded by the buffer length). */
let vLen = 0;
/** The position after the last int64 read by readInt64. */
let vPos = 0;

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
function readInt64(buf: Uint8Array, p: number, end: number): number {
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
function readLen(buf: Uint8Array, p: number, end: number): number {
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
function readTagSlow(buf: Uint8Array, p: number, end: number): number {
  const after = readVarint(buf, p, end);
  if (vHi !== 0) throw new WireError('tag does not fit in 32 bits', p);
  return after;
}

/**
 * skipOrReject handles a tag that the hot loop of message `spec` did not expect: a known field
 * number (its wire type must then be wrong), field number 0, or an unknown field, which is skipped.
 * Returns the position after the field.
 */
function skipOrReject(
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
function truncatedFixed(size: number, p: number, end: number): WireError {
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
function validateMessage(buf: Uint8Array, p: number, end: number, spec: MessageSpec): void {
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

/** IS_LITTLE_ENDIAN tells whether a Float64Array view over valueWords reads the right doubles. */
const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// The decoder
// ---------------------------------------------------------------------------------------------

/**
 * WriteRequestDecoder decodes remote-write WriteRequest bytes into reusable flat arrays. One
 * instance serves any number of requests, one at a time; its arrays grow geometrically and are
 * never shrunk, so steady-state decoding allocates nothing per request, series, label or sample.
 *
 * Layout after a successful `decode`: series `i` (0 <= i < seriesCount) owns labels
 * `[labelStart[i], labelStart[i+1])` and samples `[sampleStart[i], sampleStart[i+1])`. Label `j`
 * has name bytes `buf[nameOff[j] .. nameOff[j]+nameLen[j])` and value bytes likewise, as offsets
 * into the `buf` given to `decode` (relative to `buf[0]`, not to its ArrayBuffer), so `buf` must be
 * kept unchanged while the labels are read. Sample `k` has timestamp `timestamps[k]` (ms) and the
 * exact IEEE-754 bits of its value in `valueWords[2k]` (low word) and `valueWords[2k+1]` (high
 * word); `values[k]` reads the same bits as a double. Entries past the counts are stale leftovers
 * of earlier requests and must not be read. After `decode` throws, all counts are zero.
 *
 * Absent fields take proto3 defaults: a label without name or value has length 0 (offset 0) there,
 * a sample without value or timestamp has +0 (all bits zero) or 0.
 */
export class WriteRequestDecoder {
  /** seriesCount is the number of TimeSeries in the last decoded request. */
  seriesCount = 0;
  /** labelStart[i] is the index of the first label of series i; seriesCount+1 valid entries. */
  labelStart: Int32Array;
  /** sampleStart[i] is the index of the first sample of series i; seriesCount+1 valid entries. */
  sampleStart: Int32Array;
  /** exemplarCount[i] is the number of exemplars of series i (validated, not decoded). */
  exemplarCount: Int32Array;
  /** histogramCount[i] is the number of native histograms of series i (validated, not decoded). */
  histogramCount: Int32Array;
  /** labelCount is the number of labels over all series. */
  labelCount = 0;
  /** sampleCount is the number of float samples over all series. */
  sampleCount = 0;
  /** exemplarTotal is the number of exemplars over all series. */
  exemplarTotal = 0;
  /** histogramTotal is the number of native histograms over all series. */
  histogramTotal = 0;
  /** metadataCount is the number of MetricMetadata entries (validated, not decoded). */
  metadataCount = 0;
  /** nameOff[j] is the byte offset of label j's name in the decoded buffer. */
  nameOff: Int32Array;
  /** nameLen[j] is the byte length of label j's name. */
  nameLen: Int32Array;
  /** valueOff[j] is the byte offset of label j's value in the decoded buffer. */
  valueOff: Int32Array;
  /** valueLen[j] is the byte length of label j's value. */
  valueLen: Int32Array;
  /** timestamps[k] is sample k's timestamp in ms since the epoch. */
  timestamps: Float64Array;
  /** valueWords[2k] / valueWords[2k+1] are the low / high 32 bits of sample k's value. */
  valueWords: Uint32Array;
  /** values is a Float64Array over valueWords' memory: values[k] is sample k's value. */
  values: Float64Array;

  /**
   * constructor allocates the initial arrays; the optional capacities only avoid early growth.
   * Throws on big-endian hosts, where `values` could not alias `valueWords`.
   */
  constructor(seriesCapacity = 64, labelCapacity = 512, sampleCapacity = 256) {
    if (!IS_LITTLE_ENDIAN) throw new Error('WriteRequestDecoder needs a little-endian host');
    const s = Math.max(2, seriesCapacity | 0);
    const l = Math.max(1, labelCapacity | 0);
    const k = Math.max(1, sampleCapacity | 0);
    this.labelStart = new Int32Array(s + 1);
    this.sampleStart = new Int32Array(s + 1);
    this.exemplarCount = new Int32Array(s);
    this.histogramCount = new Int32Array(s);
    this.nameOff = new Int32Array(l);
    this.nameLen = new Int32Array(l);
    this.valueOff = new Int32Array(l);
    this.valueLen = new Int32Array(l);
    this.timestamps = new Float64Array(k);
    this.valueWords = new Uint32Array(2 * k);
    this.values = new Float64Array(this.valueWords.buffer, 0, k);
  }

  /**
   * decode reads the WriteRequest in `buf[0 .. len)` into this decoder's arrays, replacing the
   * previous request. Throws WireError (code E_BAD_REQUEST, with the failing byte offset) for any
   * malformed input, after which all counts are zero; throws RangeError if `len` is not an integer
   * within `buf`.
   */
  decode(buf: Uint8Array, len: number): void {
    if (!Number.isInteger(len) || len < 0 || len > buf.length) {
      throw new RangeError(`decode: len ${len} is outside the buffer of ${buf.length} bytes`);
    }
    this.reset();
    try {
      this.decodeWriteRequest(buf, len);
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  /** reset empties the decoded request without giving back any memory. */
  private reset(): void {
    this.seriesCount = 0;
    this.labelCount = 0;
    this.sampleCount = 0;
    this.exemplarTotal = 0;
    this.histogramTotal = 0;
    this.metadataCount = 0;
    this.labelStart[0] = 0;
    this.sampleStart[0] = 0;
  }

  /** decodeWriteRequest walks the top-level fields of a WriteRequest occupying [0, end). */
  private decodeWriteRequest(buf: Uint8Array, end: number): void {
    let p = 0;
    while (p < end) {
      const tagPos = p;
      // Hot-path note: every field Sluice reads has a one-byte tag; longer (or over-long) tags
      // take the slow path, and their value is compared the same way afterwards.
      let tag = buf[p]!;
      if (tag < 0x80) p++;
      else {
        p = readTagSlow(buf, p, end);
        tag = vLo >>> 0;
      }
      if (tag === TAG_WR_TIMESERIES) {
        p = readLen(buf, p, end);
        const stop = p + vLen;
        this.decodeTimeSeries(buf, p, stop);
        p = stop;
      } else if (tag === TAG_WR_METADATA) {
        p = readLen(buf, p, end);
        const stop = p + vLen;
        validateMessage(buf, p, stop, METADATA);
        this.metadataCount++;
        p = stop;
      } else {
        p = skipOrReject(buf, tagPos, p, end, tag, WRITE_REQUEST);
      }
    }
  }

  /** decodeTimeSeries decodes one TimeSeries occupying [p, end) as series number seriesCount. */
  private decodeTimeSeries(buf: Uint8Array, p: number, end: number): void {
    const i = this.seriesCount;
    if (i + 1 >= this.labelStart.length) this.growSeries(i + 2);
    let exemplars = 0;
    let histograms = 0;
    // Labels and samples may interleave in the encoding; both land contiguously in the flat arrays
    // because a series is decoded completely before the next one starts.
    while (p < end) {
      const tagPos = p;
      let tag = buf[p]!;
      if (tag < 0x80) p++;
      else {
        p = readTagSlow(buf, p, end);
        tag = vLo >>> 0;
      }
      if (tag === TAG_TS_LABELS) {
        p = readLen(buf, p, end);
        const stop = p + vLen;
        this.decodeLabel(buf, p, stop);
        p = stop;
      } else if (tag === TAG_TS_SAMPLES) {
        p = readLen(buf, p, end);
        const stop = p + vLen;
        this.decodeSample(buf, p, stop);
        p = stop;
      } else if (tag === TAG_TS_EXEMPLARS) {
        p = readLen(buf, p, end);
        const stop = p + vLen;
        validateMessage(buf, p, stop, EXEMPLAR);
        exemplars++;
        p = stop;
      } else if (tag === TAG_TS_HISTOGRAMS) {
        p = readLen(buf, p, end);
        const stop = p + vLen;
        validateMessage(buf, p, stop, HISTOGRAM);
        histograms++;
        p = stop;
      } else {
        p = skipOrReject(buf, tagPos, p, end, tag, TIME_SERIES);
      }
    }
    this.exemplarCount[i] = exemplars;
    this.histogramCount[i] = histograms;
    this.exemplarTotal += exemplars;
    this.histogramTotal += histograms;
    this.labelStart[i + 1] = this.labelCount;
    this.sampleStart[i + 1] = this.sampleCount;
    this.seriesCount = i + 1;
  }

  /** decodeLabel decodes one Label occupying [p, end) as label number labelCount. */
  private decodeLabel(buf: Uint8Array, p: number, end: number): void {
    const j = this.labelCount;
    if (j >= this.nameOff.length) this.growLabels(j + 1);
    // Hot-path note: nearly every label is encoded canonically, `0a <n> <name> 12 <m> <value>`
    // with one-byte lengths, filling the label exactly. A few byte compares recognise that shape
    // and store it without the general loop below, which handles everything else (other order,
    // long strings, absent, repeated or unknown fields). Every byte read here lies inside [p, end).
    if (end - p >= 4 && buf[p] === TAG_LABEL_NAME) {
      const n = buf[p + 1]!;
      const v = p + 2 + n;
      if (n < 0x80 && v + 2 <= end && buf[v] === TAG_LABEL_VALUE) {
        const m = buf[v + 1]!;
        if (m < 0x80 && v + 2 + m === end) {
          this.nameOff[j] = p + 2;
          this.nameLen[j] = n;
          this.valueOff[j] = v + 2;
          this.valueLen[j] = m;
          this.labelCount = j + 1;
          return;
        }
      }
    }
    let nameOff = 0;
    let nameLen = 0;
    let valueOff = 0;
    let valueLen = 0;
    while (p < end) {
      const tagPos = p;
      let tag = buf[p]!;
      if (tag < 0x80) p++;
      else {
        p = readTagSlow(buf, p, end);
        tag = vLo >>> 0;
      }
      // A repeated occurrence of a field replaces the earlier one (protobuf "last one wins").
      if (tag === TAG_LABEL_NAME) {
        p = readLen(buf, p, end);
        nameOff = p;
        nameLen = vLen;
        p += nameLen;
      } else if (tag === TAG_LABEL_VALUE) {
        p = readLen(buf, p, end);
        valueOff = p;
        valueLen = vLen;
        p += valueLen;
      } else {
        p = skipOrReject(buf, tagPos, p, end, tag, LABEL);
      }
    }
    this.nameOff[j] = nameOff;
    this.nameLen[j] = nameLen;
    this.valueOff[j] = valueOff;
    this.valueLen[j] = valueLen;
    this.labelCount = j + 1;
  }

  /** decodeSample decodes one Sample occupying [p, end) as sample number sampleCount. */
  private decodeSample(buf: Uint8Array, p: number, end: number): void {
    const k = this.sampleCount;
    if (k >= this.timestamps.length) this.growSamples(k + 1);
    // Hot-path note: the canonical shape `09 <8 bytes> 10 <varint>` is read straight through; if
    // anything follows the timestamp the general loop below starts over from the beginning.
    if (end - p >= 11 && buf[p] === TAG_SAMPLE_VALUE && buf[p + 9] === TAG_SAMPLE_TIMESTAMP) {
      const ts = readInt64(buf, p + 10, end);
      if (vPos === end) {
        const w = this.valueWords;
        w[2 * k] = buf[p + 1]! | (buf[p + 2]! << 8) | (buf[p + 3]! << 16) | (buf[p + 4]! << 24);
        w[2 * k + 1] = buf[p + 5]! | (buf[p + 6]! << 8) | (buf[p + 7]! << 16) | (buf[p + 8]! << 24);
        this.timestamps[k] = ts;
        this.sampleCount = k + 1;
        return;
      }
    }
    let lo = 0;
    let hi = 0;
    let ts = 0;
    while (p < end) {
      const tagPos = p;
      let tag = buf[p]!;
      if (tag < 0x80) p++;
      else {
        p = readTagSlow(buf, p, end);
        tag = vLo >>> 0;
      }
      if (tag === TAG_SAMPLE_VALUE) {
        if (end - p < 8) throw truncatedFixed(8, p, end);
        // Hot-path note: the double is copied as two little-endian 32-bit words and never becomes a
        // JS number, because loading a signalling NaN into a number may set its quiet bit, and the
        // Prometheus stale marker (0x7ff0000000000002) is one. The int32 results of `|` store
        // into the Uint32Array modulo 2^32, i.e. bit for bit.
        lo = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
        hi = buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24);
        p += 8;
      } else if (tag === TAG_SAMPLE_TIMESTAMP) {
        ts = readInt64(buf, p, end);
        p = vPos;
      } else {
        p = skipOrReject(buf, tagPos, p, end, tag, SAMPLE);
      }
    }
    const w = this.valueWords;
    w[2 * k] = lo;
    w[2 * k + 1] = hi;
    this.timestamps[k] = ts;
    this.sampleCount = k + 1;
  }

  /** growSeries makes the per-series arrays hold at least `need` start entries, keeping contents. */
  private growSeries(need: number): void {
    const size = Math.max(need, this.labelStart.length * 2);
    this.labelStart = grownInt32(this.labelStart, size);
    this.sampleStart = grownInt32(this.sampleStart, size);
    this.exemplarCount = grownInt32(this.exemplarCount, size);
    this.histogramCount = grownInt32(this.histogramCount, size);
  }

  /** growLabels makes the per-label arrays hold at least `need` labels, keeping contents. */
  private growLabels(need: number): void {
    const size = Math.max(need, this.nameOff.length * 2);
    this.nameOff = grownInt32(this.nameOff, size);
    this.nameLen = grownInt32(this.nameLen, size);
    this.valueOff = grownInt32(this.valueOff, size);
    this.valueLen = grownInt32(this.valueLen, size);
  }

  /** growSamples makes the per-sample arrays hold at least `need` samples, keeping contents. */
  private growSamples(need: number): void {
    const size = Math.max(need, this.timestamps.length * 2);
    const ts = new Float64Array(size);
    ts.set(this.timestamps);
    const words = new Uint32Array(2 * size);
    words.set(this.valueWords);
    this.timestamps = ts;
    this.valueWords = words;
    this.values = new Float64Array(words.buffer, 0, size);
  }
}

/** grownInt32 returns a copy of `a` enlarged to `size` entries. */
function grownInt32(a: Int32Array, size: number): Int32Array {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}
