/**
 * args.ts parses the load generator's command-line flags and turns them into LoadOptions.
 */
import { parseArgs } from 'node:util';
import type { LoadOptions } from './options.js';

/** USAGE is the flag summary printed for --help and for a missing --url. */
export const USAGE = `usage: npm run loadtest -- --url URL [--series N] [--rounds R | --duration S] [--batch B]
         [--concurrency C] [--tenants T] [--labels 8] [--seed 1] [--start-ms MS]
         [--tenant-header THANOS-TENANT] [--max-retries 8] [--timeout-ms 30000] [--json] [--gen-only]`;

/**
 * parseCliArgs parses argv (without node and the script) into the flags' string and boolean
 * values. Throws on an unknown flag, a missing flag value or a positional argument.
 */
export function parseCliArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      series: { type: 'string' },
      rounds: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      tenants: { type: 'string' },
      labels: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      'start-ms': { type: 'string' },
      'start-round': { type: 'string' },
      'tenant-header': { type: 'string' },
      'max-retries': { type: 'string' },
      'timeout-ms': { type: 'string' },
      json: { type: 'boolean', default: false },
      'gen-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  return values;
}

/** CliValues are the parsed flags returned by parseCliArgs. */
export type CliValues = ReturnType<typeof parseCliArgs>;

/** num converts the value of flag `name` to a number; undefined stays undefined. Throws on a non-number. */
function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name}: not a number: ${v}`);
  return n;
}

/**
 * cliLoadOptions turns parsed flags into the LoadOptions they set (unset flags are left out, for
 * resolveOptions to default). Without --url (only valid with --gen-only) a placeholder URL is used.
 * Throws on a numeric flag that is not a number.
 */
export function cliLoadOptions(values: CliValues): Partial<LoadOptions> & { url: string } {
  const partial: Partial<LoadOptions> & { url: string } = { url: values.url ?? 'http://127.0.0.1:1/' };
  const set = <K extends keyof LoadOptions>(k: K, v: LoadOptions[K] | undefined): void => { if (v !== undefined) partial[k] = v; };
  set('series', num(values.series, 'series'));
  set('rounds', num(values.rounds, 'rounds'));
  set('batch', num(values.batch, 'batch'));
  set('concurrency', num(values.concurrency, 'concurrency'));
  set('tenants', num(values.tenants, 'tenants'));
  set('labels', num(values.labels, 'labels'));
  set('durationSec', num(values.duration, 'duration'));
  set('seed', num(values.seed, 'seed'));
  set('startMs', num(values['start-ms'], 'start-ms'));
  set('startRound', num(values['start-round'], 'start-round'));
  set('tenantHeader', values['tenant-header']);
  set('maxRetries', num(values['max-retries'], 'max-retries'));
  set('timeoutMs', num(values['timeout-ms'], 'timeout-ms'));
  return partial;
}
