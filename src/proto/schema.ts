/**
 * Loads the remote-write schema (remote.proto beside this file) with protobufjs. Used by tests,
 * the load generator and anything off the hot path that must encode or decode WriteRequests the
 * generic way. The ingest path itself uses src/gateway/wire.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

/** Plain shapes protobufjs accepts for encoding (timestamps as numbers of ms). */
export interface LabelMsg { name: string; value: string }
export interface SampleMsg { value: number; timestamp: number }
export interface ExemplarMsg { labels: LabelMsg[]; value: number; timestamp: number }
export interface TimeSeriesMsg {
  labels: LabelMsg[];
  samples: SampleMsg[];
  exemplars?: ExemplarMsg[];
  histograms?: Record<string, unknown>[];
}
export interface MetadataMsg { type: number; metricFamilyName: string; help: string; unit: string }
export interface WriteRequestMsg { timeseries: TimeSeriesMsg[]; metadata?: MetadataMsg[] }

/** RemoteWriteSchema holds the protobufjs message types of remote-write 1.0. */
export interface RemoteWriteSchema {
  WriteRequest: protobuf.Type;
  TimeSeries: protobuf.Type;
}

let cached: RemoteWriteSchema | undefined;

/** protoPath finds remote.proto whether we run from src/ (tsx) or dist/src/ (compiled). */
function protoPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'remote.proto')];
  // Compiled code lives under <root>/dist/src/proto (or a private build dir): walk up to the root.
  let dir = here;
  for (let i = 0; i < 6; i++) { dir = dirname(dir); candidates.push(join(dir, 'src', 'proto', 'remote.proto')); }
  for (const p of candidates) {
    try { readFileSync(p); return p; } catch { /* try next */ }
  }
  throw new Error('remote.proto not found next to ' + here);
}

/** loadRemoteWriteSchema parses remote.proto once and returns its message types. */
export function loadRemoteWriteSchema(): RemoteWriteSchema {
  if (cached) return cached;
  const root = protobuf.parse(readFileSync(protoPath(), 'utf8'), { keepCase: false }).root;
  cached = {
    WriteRequest: root.lookupType('prometheus.WriteRequest'),
    TimeSeries: root.lookupType('prometheus.TimeSeries'),
  };
  return cached;
}

/** encodeWriteRequest encodes a WriteRequest (not compressed) with protobufjs. */
export function encodeWriteRequest(req: WriteRequestMsg): Uint8Array {
  const { WriteRequest } = loadRemoteWriteSchema();
  return WriteRequest.encode(WriteRequest.fromObject(req)).finish();
}
