/**
 * The Thanos StoreAPI and InfoAPI wire schema as Sluice speaks it: our own minimal protobuf
 * definitions (only the messages and fields we read or write), with the field numbers, enum
 * values and method paths of Thanos (pkg/store/storepb, pkg/store/labelpb, pkg/info/infopb).
 * Fields we never read (hints, query_hints, shard_info, step, range) are left out on purpose:
 * protobuf decoders skip unknown fields, so requests carrying them still decode.
 *
 * The schema is a TypeScript string parsed by protobufjs at first use, so nothing has to be
 * copied next to the compiled code. This module also holds the grpc-js service definitions that
 * server.ts and client.ts share, and the matcher enum mapping. It touches nothing else.
 *
 * Pitfall: StoreAPI's Chunk.Encoding XOR is 0, while the TSDB's chunkenc.EncXOR is 1.
 */
import protobuf from 'protobufjs';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { SluiceError, ErrorCode } from '../../errors.js';
import { MatchType, type Matcher } from '../../model/matchers.js';

// Package `thanos`: labels, chunks and the Store service messages.
const STORE_PROTO = `
syntax = "proto3";
package thanos;

message Label {
  string name = 1;
  string value = 2;
}

// Same wire shape as Thanos' LabelSet and ZLabelSet.
message LabelSet {
  repeated Label labels = 1;
}

message LabelMatcher {
  enum Type {
    EQ = 0;
    NEQ = 1;
    RE = 2;
    NRE = 3;
  }
  Type type = 1;
  string name = 2;
  string value = 3;
}

message Chunk {
  enum Encoding {
    XOR = 0;
    HISTOGRAM = 1;
    FLOAT_HISTOGRAM = 2;
  }
  Encoding type = 1;
  bytes data = 2;
  uint64 hash = 3;
}

message AggrChunk {
  int64 min_time = 1;
  int64 max_time = 2;
  Chunk raw = 3;
  Chunk count = 4;
  Chunk sum = 5;
  Chunk min = 6;
  Chunk max = 7;
  Chunk counter = 8;
}

message Series {
  repeated Label labels = 1;
  repeated AggrChunk chunks = 2;
}

message SeriesBatch {
  repeated Series series = 1;
}

enum Aggr {
  RAW = 0;
  COUNT = 1;
  SUM = 2;
  MIN = 3;
  MAX = 4;
  COUNTER = 5;
}

enum PartialResponseStrategy {
  WARN = 0;
  ABORT = 1;
}

message SeriesRequest {
  int64 min_time = 1;
  int64 max_time = 2;
  repeated LabelMatcher matchers = 3;
  int64 max_resolution_window = 4;
  repeated Aggr aggregates = 5;
  bool partial_response_disabled = 6;
  PartialResponseStrategy partial_response_strategy = 7;
  bool skip_chunks = 8;
  repeated string without_replica_labels = 14;
  int64 limit = 15;
  int64 response_batch_size = 16;
}

message SeriesResponse {
  oneof result {
    Series series = 1;
    string warning = 2;
    SeriesBatch batch = 4;
  }
}

message LabelNamesRequest {
  bool partial_response_disabled = 1;
  PartialResponseStrategy partial_response_strategy = 2;
  int64 start = 3;
  int64 end = 4;
  repeated LabelMatcher matchers = 6;
  repeated string without_replica_labels = 7;
  int64 limit = 8;
}

message LabelNamesResponse {
  repeated string names = 1;
  repeated string warnings = 2;
}

message LabelValuesRequest {
  string label = 1;
  bool partial_response_disabled = 2;
  PartialResponseStrategy partial_response_strategy = 3;
  int64 start = 4;
  int64 end = 5;
  repeated LabelMatcher matchers = 7;
  repeated string without_replica_labels = 8;
  int64 limit = 9;
}

message LabelValuesResponse {
  repeated string values = 1;
  repeated string warnings = 2;
}
`;

// Package `thanos.info`: the Info service (discovery by Thanos Query since v0.37).
const INFO_PROTO = `
syntax = "proto3";
package thanos.info;

message InfoRequest {}

message TSDBInfo {
  thanos.LabelSet labels = 1;
  int64 min_time = 2;
  int64 max_time = 3;
}

message StoreInfo {
  int64 min_time = 1;
  int64 max_time = 2;
  bool supports_sharding = 3;
  reserved 4;
  bool supports_without_replica_labels = 5;
  repeated TSDBInfo tsdb_infos = 6;
}

message InfoResponse {
  repeated thanos.LabelSet label_sets = 1;
  string component_type = 2;
  StoreInfo store = 3;
}
`;

/** METHOD names the gRPC paths we serve and call. */
export const METHOD = {
  Series: '/thanos.Store/Series',
  LabelNames: '/thanos.Store/LabelNames',
  LabelValues: '/thanos.Store/LabelValues',
  Info: '/thanos.info.Info/Info',
} as const;

/** ChunkEncoding is StoreAPI's Chunk.Encoding (XOR is 0 here, 1 in the TSDB). */
export const ChunkEncoding = { XOR: 0, HISTOGRAM: 1, FLOAT_HISTOGRAM: 2 } as const;

/** Aggr is StoreAPI's aggregate kind; only RAW data exists in Sluice. */
export const Aggr = { RAW: 0, COUNT: 1, SUM: 2, MIN: 3, MAX: 4, COUNTER: 5 } as const;

/** PartialResponseStrategy: WARN turns a failing source into a warning, ABORT fails the call. */
export const PartialResponseStrategy = { WARN: 0, ABORT: 1 } as const;

/** Int64 is how protobufjs hands out an int64 field: a number, or a Long when `long` is loaded. */
export type Int64 = number | { toNumber(): number };

/** toNum turns a decoded int64 into a number (beyond ±2^53 it is rounded; fine for times in ms). */
export function toNum(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/**
 * INT64_MAX / INT64_MIN are the largest/smallest doubles that encode as int64 without wrapping
 * (2^63 itself would wrap to the minimum). Thanos uses MaxInt64 for "no upper bound".
 */
export const INT64_MAX = 9223372036854774784;
export const INT64_MIN = -9223372036854775808;

/** clampInt64 makes a time in ms (possibly ±Infinity) safe to encode as int64. */
export function clampInt64(v: number): number {
  if (Number.isNaN(v)) return 0;
  return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : Math.trunc(v);
}

/** LabelMsg is thanos.Label. */
export interface LabelMsg { name: string; value: string }
/** LabelMatcherMsg is thanos.LabelMatcher (type: EQ=0, NEQ=1, RE=2, NRE=3). */
export interface LabelMatcherMsg { type: number; name: string; value: string }
/** ChunkMsg is thanos.Chunk. */
export interface ChunkMsg { type: number; data: Uint8Array }
/** AggrChunkMsg is thanos.AggrChunk with only the raw chunk set (the others stay null). */
export interface AggrChunkMsg { minTime: Int64; maxTime: Int64; raw: ChunkMsg | null }
/** SeriesMsg is thanos.Series. */
export interface SeriesMsg { labels: LabelMsg[]; chunks: AggrChunkMsg[] }
/** SeriesResponseMsg is thanos.SeriesResponse; exactly one of the fields is set. */
export interface SeriesResponseMsg { series?: SeriesMsg | null; warning?: string; batch?: { series: SeriesMsg[] } | null }

/** SeriesRequestMsg is thanos.SeriesRequest (the fields we know). */
export interface SeriesRequestMsg {
  minTime: Int64;
  maxTime: Int64;
  matchers: LabelMatcherMsg[];
  maxResolutionWindow?: Int64;
  aggregates?: number[];
  partialResponseDisabled?: boolean;
  partialResponseStrategy?: number;
  skipChunks?: boolean;
  withoutReplicaLabels?: string[];
  limit?: Int64;
  responseBatchSize?: Int64;
}

/** LabelNamesRequestMsg is thanos.LabelNamesRequest (the fields we know). */
export interface LabelNamesRequestMsg {
  partialResponseDisabled?: boolean;
  partialResponseStrategy?: number;
  start: Int64;
  end: Int64;
  matchers: LabelMatcherMsg[];
  withoutReplicaLabels?: string[];
  limit?: Int64;
}

/** LabelValuesRequestMsg is thanos.LabelValuesRequest (the fields we know). */
export interface LabelValuesRequestMsg extends LabelNamesRequestMsg { label: string }

/** LabelNamesResponseMsg is thanos.LabelNamesResponse. */
export interface LabelNamesResponseMsg { names: string[]; warnings: string[] }
/** LabelValuesResponseMsg is thanos.LabelValuesResponse. */
export interface LabelValuesResponseMsg { values: string[]; warnings: string[] }

/** TSDBInfoMsg is thanos.info.TSDBInfo. */
export interface TSDBInfoMsg { labels: { labels: LabelMsg[] } | null; minTime: Int64; maxTime: Int64 }
/** StoreInfoMsg is thanos.info.StoreInfo. */
export interface StoreInfoMsg {
  minTime: Int64;
  maxTime: Int64;
  supportsSharding: boolean;
  supportsWithoutReplicaLabels: boolean;
  tsdbInfos: TSDBInfoMsg[];
}
/** InfoResponseMsg is thanos.info.InfoResponse (the parts we fill). */
export interface InfoResponseMsg { labelSets: { labels: LabelMsg[] }[]; componentType: string; store: StoreInfoMsg | null }

/** StoreApiSchema holds the protobufjs types of every message we encode or decode. */
export interface StoreApiSchema {
  SeriesRequest: protobuf.Type;
  SeriesResponse: protobuf.Type;
  LabelNamesRequest: protobuf.Type;
  LabelNamesResponse: protobuf.Type;
  LabelValuesRequest: protobuf.Type;
  LabelValuesResponse: protobuf.Type;
  InfoRequest: protobuf.Type;
  InfoResponse: protobuf.Type;
}

let cached: StoreApiSchema | undefined;

/** loadStoreApiSchema parses the two packages once and returns their message types. */
export function loadStoreApiSchema(): StoreApiSchema {
  if (cached) return cached;
  const root = new protobuf.Root();
  protobuf.parse(STORE_PROTO, root, { keepCase: false });
  protobuf.parse(INFO_PROTO, root, { keepCase: false });
  root.resolveAll();
  cached = {
    SeriesRequest: root.lookupType('thanos.SeriesRequest'),
    SeriesResponse: root.lookupType('thanos.SeriesResponse'),
    LabelNamesRequest: root.lookupType('thanos.LabelNamesRequest'),
    LabelNamesResponse: root.lookupType('thanos.LabelNamesResponse'),
    LabelValuesRequest: root.lookupType('thanos.LabelValuesRequest'),
    LabelValuesResponse: root.lookupType('thanos.LabelValuesResponse'),
    InfoRequest: root.lookupType('thanos.info.InfoRequest'),
    InfoResponse: root.lookupType('thanos.info.InfoResponse'),
  };
  return cached;
}

/** asBuffer wraps encoded bytes as the Buffer grpc-js wants, without copying. */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * codec returns serialize/deserialize functions for one message type. Encoding takes plain
 * objects as they are (no fromObject pass): callers build them with the right field types.
 */
function codec<T>(type: () => protobuf.Type): { ser: (v: T) => Buffer; de: (b: Buffer) => T } {
  return {
    ser: (v: T) => asBuffer(type().encode(v as unknown as protobuf.Message).finish()),
    de: (b: Buffer) => type().decode(b) as unknown as T,
  };
}

const s = (): StoreApiSchema => loadStoreApiSchema();
const seriesReq = codec<SeriesRequestMsg>(() => s().SeriesRequest);
const seriesRes = codec<SeriesResponseMsg>(() => s().SeriesResponse);
const namesReq = codec<LabelNamesRequestMsg>(() => s().LabelNamesRequest);
const namesRes = codec<LabelNamesResponseMsg>(() => s().LabelNamesResponse);
const valuesReq = codec<LabelValuesRequestMsg>(() => s().LabelValuesRequest);
const valuesRes = codec<LabelValuesResponseMsg>(() => s().LabelValuesResponse);
const infoReq = codec<Record<string, never>>(() => s().InfoRequest);
const infoRes = codec<InfoResponseMsg>(() => s().InfoResponse);

/** Serializers of each message, for the client (identity pairs are built by tests). */
export const CODEC = { seriesReq, seriesRes, namesReq, namesRes, valuesReq, valuesRes, infoReq, infoRes } as const;

/** STORE_SERVICE is the grpc-js definition of `thanos.Store` (Series, LabelNames, LabelValues). */
export const STORE_SERVICE: ServiceDefinition = {
  Series: {
    path: METHOD.Series, requestStream: false, responseStream: true,
    requestSerialize: seriesReq.ser, requestDeserialize: seriesReq.de,
    responseSerialize: seriesRes.ser, responseDeserialize: seriesRes.de,
  },
  LabelNames: {
    path: METHOD.LabelNames, requestStream: false, responseStream: false,
    requestSerialize: namesReq.ser, requestDeserialize: namesReq.de,
    responseSerialize: namesRes.ser, responseDeserialize: namesRes.de,
  },
  LabelValues: {
    path: METHOD.LabelValues, requestStream: false, responseStream: false,
    requestSerialize: valuesReq.ser, requestDeserialize: valuesReq.de,
    responseSerialize: valuesRes.ser, responseDeserialize: valuesRes.de,
  },
};

/** INFO_SERVICE is the grpc-js definition of `thanos.info.Info` (Info). */
export const INFO_SERVICE: ServiceDefinition = {
  Info: {
    path: METHOD.Info, requestStream: false, responseStream: false,
    requestSerialize: infoReq.ser, requestDeserialize: infoReq.de,
    responseSerialize: infoRes.ser, responseDeserialize: infoRes.de,
  },
};

// Wire enum value ↔ PromQL operator; the array index is the enum value.
const MATCH_TYPES: readonly MatchType[] = [MatchType.EQ, MatchType.NEQ, MatchType.RE, MatchType.NRE];

/** matcherFromWire turns a LabelMatcher into a Matcher; an unknown type is a bad request. */
export function matcherFromWire(m: LabelMatcherMsg): Matcher {
  const type = MATCH_TYPES[m.type];
  if (type === undefined) throw new SluiceError(ErrorCode.BadRequest, `unknown matcher type ${m.type} for label ${JSON.stringify(m.name)}`);
  return { type, name: m.name, value: m.value };
}

/** matcherToWire turns a Matcher into a LabelMatcher. */
export function matcherToWire(m: Matcher): LabelMatcherMsg {
  return { type: MATCH_TYPES.indexOf(m.type), name: m.name, value: m.value };
}
