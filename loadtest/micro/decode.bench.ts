/**
 * decode.bench.ts compares, in one run, the ways a remote-write body can be decoded:
 * protobufjs `WriteRequest.decode` against Sluice's WriteRequestDecoder, and snappyjs against the
 * native snappy binding (both through src/gateway/snappy.ts, i.e. with the checks the ingest path
 * really pays). Fixture: 500 series x 8 Kubernetes-style labels x 1 sample, seeded, so runs are
 * comparable. Plain node, no extra packages:
 *
 *   node dist/loadtest/micro/decode.bench.js [seconds-per-case]
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { WriteRequestDecoder } from '../../src/gateway/wire.js';
import { snappyCompress, snappyNativeAvailable, snappyUncompressWith } from '../../src/gateway/snappy.js';
import { encodeWriteRequest, loadRemoteWriteSchema } from '../../src/proto/schema.js';
import type { TimeSeriesMsg } from '../../src/proto/schema.js';
import { Rng, SEED } from '../../test/helpers/prng.js';

/** BenchResult is one measured case. */
export interface BenchResult {
  name: string;
  /** samplesPerSec is fixture samples decoded per second (500 per operation). */
  samplesPerSec: number;
  /** usPerOp is the mean time of one whole-body operation in microseconds. */
  usPerOp: number;
}

/** BenchOptions tunes the run; defaults keep the whole benchmark under ~10 s on a busy box. */
export interface BenchOptions {
  /** seconds is the measured time per case. */
  seconds?: number;
  /** warmupSeconds is the unmeasured time per case run first, so every case meets optimized code. */
  warmupSeconds?: number;
}

const SERIES = 500;

/** fixture builds the seeded 500-series body (uncompressed protobuf). */
export function fixture(seed: number = SEED): Uint8Array {
  const rng = new Rng(seed);
  const metrics = Array.from({ length: 40 }, (_, i) =>
    rng.pick(['http_requests_total', 'container_cpu_usage_seconds_total', 'kube_pod_status_ready', 'node_memory_bytes']) + `_${i}`);
  const namespaces = Array.from({ length: 12 }, () => rng.asciiString(12));
  const containers = ['app', 'sidecar', 'envoy', 'init', 'exporter'];
  const timeseries: TimeSeriesMsg[] = [];
  for (let i = 0; i < SERIES; i++) {
    const deploy = rng.pick(namespaces);
    timeseries.push({
      labels: [
        { name: '__name__', value: rng.pick(metrics) },
        { name: 'cluster', value: rng.pick(['prod-eu-west-1', 'prod-us-east-2', 'staging-eu-1']) },
        { name: 'container', value: rng.pick(containers) },
        { name: 'env', value: rng.pick(['prod', 'staging']) },
        { name: 'instance', value: `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}:${rng.pick([8080, 9090, 9100])}` },
        { name: 'job', value: rng.pick(['kubernetes-pods', 'kubelet', 'node-exporter']) },
        { name: 'namespace', value: deploy },
        { name: 'pod', value: `${deploy}-${rng.asciiString(10)}-${rng.asciiString(5)}` },
      ],
      samples: [{ value: rng.chance(0.5) ? rng.int(0, 1_000_000) : rng.next() * 1000, timestamp: 1_700_000_000_000 + rng.int(0, 60_000) }],
    });
  }
  return encodeWriteRequest({ timeseries });
}

/** sink keeps results observable so the optimizer cannot drop the measured work. */
let sink = 0;

/** runFor calls `op` in batches until `seconds` pass; returns [operations, elapsed ms]. */
function runFor(op: () => number, seconds: number): [number, number] {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let ops = 0;
  let now = start;
  do {
    for (let i = 0; i < 16; i++) sink += op();
    ops += 16;
    now = performance.now();
  } while (now < deadline);
  return [ops, now - start];
}

/** measure warms `op` up, then times it. */
function measure(name: string, op: () => number, opts: Required<BenchOptions>): BenchResult {
  runFor(op, opts.warmupSeconds);
  const [ops, ms] = runFor(op, opts.seconds);
  return { name, samplesPerSec: (ops * SERIES * 1000) / ms, usPerOp: (ms * 1000) / ops };
}

/** main runs every case, prints a table and the ratios, and returns the results. */
export function main(options: BenchOptions = {}): BenchResult[] {
  const opts: Required<BenchOptions> = { seconds: options.seconds ?? 1.5, warmupSeconds: options.warmupSeconds ?? 0.5 };
  const body = fixture();
  const compressed = snappyCompress(body);
  const { WriteRequest } = loadRemoteWriteSchema();
  const decoder = new WriteRequestDecoder();

  const results: BenchResult[] = [];
  results.push(measure('protobufjs WriteRequest.decode', () => {
    const m = WriteRequest.decode(body) as unknown as { timeseries: unknown[] };
    return m.timeseries.length;
  }, opts));
  results.push(measure('sluice WriteRequestDecoder.decode', () => {
    decoder.decode(body, body.length);
    return decoder.sampleCount;
  }, opts));
  results.push(measure('snappyjs uncompress (+validation)', () => snappyUncompressWith('js', compressed).length, opts));
  if (snappyNativeAvailable) {
    results.push(measure('native snappy uncompress', () => snappyUncompressWith('native', compressed).length, opts));
  }

  console.log(`fixture: ${SERIES} series x 8 labels x 1 sample; ${body.length} B protobuf, ${compressed.length} B snappy`);
  console.log(`${'case'.padEnd(36)}${'samples/s'.padStart(14)}${'us/op'.padStart(10)}`);
  for (const r of results) {
    console.log(`${r.name.padEnd(36)}${Math.round(r.samplesPerSec).toLocaleString('en-US').padStart(14)}${r.usPerOp.toFixed(1).padStart(10)}`);
  }
  const rate = (prefix: string): number => results.find((r) => r.name.startsWith(prefix))?.samplesPerSec ?? NaN;
  console.log(`ratio ours/protobufjs: ${(rate('sluice') / rate('protobufjs')).toFixed(2)}x`);
  if (snappyNativeAvailable) console.log(`ratio native/js snappy: ${(rate('native') / rate('snappyjs')).toFixed(2)}x`);
  if (sink === -1) console.log(sink);
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  main(seconds === undefined || !(seconds > 0) ? {} : { seconds });
}
