/**
 * The `sluice hashring` commands:
 *
 *   sluice hashring plan --from A.json --to B.json [--algorithm hashmod|ketama]
 *                        [--replication-factor N] [--series N] [--seed N] [--tenant NAME[=WEIGHT]]… [--json]
 *   sluice hashring lint FILE [--algorithm hashmod|ketama] [--replication-factor N]
 *   sluice hashring generate --replicas N --namespace NS [--statefulset S] [--service S] [--port P]
 *                            [--cluster-domain D] [--hashring NAME] [--tenant T]… [--zones a,b,c]
 *                            [--algorithm hashmod|ketama]
 *
 * `plan` prints, per endpoint, the share of all replicas it holds before and after the change and
 * the share it gains and loses (plan.ts); `lint` prints the findings of lint.ts; `generate` prints
 * the hashring file of a StatefulSet (generate.ts). Exit status: 0;
 * 1 when lint finds an error or a file cannot be used; 2 for a usage error. Reads the files named
 * on the command line and writes to stdout/stderr; nothing else.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isSluiceError } from '../errors.js';
import { ALGORITHMS, parseHashringsConfig, type HashringConfig } from './config.js';
import { generateHashrings } from './generate.js';
import { formatFinding, hasErrors, lintHashringsText } from './lint.js';
import { DEFAULT_PLAN_SERIES, planHashringChange, planTenants, syntheticSample, type HashringPlan, type TenantWeight } from './plan.js';
import type { HashringAlgorithm } from './ring.js';

/** HASHRING_USAGE is the help text of `sluice hashring`. */
export const HASHRING_USAGE = `usage: sluice hashring <plan|lint|generate> [flags]

  sluice hashring plan --from OLD.json --to NEW.json [flags]
      Places a seeded sample of series with both hashring files and prints, per endpoint, the share
      of all replicas (series x RF) it holds before and after, gains and loses, then how much moves.
      --algorithm hashmod|ketama   rings without their own "algorithm" (default hashmod, as
                                   --receive.hashrings-algorithm)
      --replication-factor N       as --receive.replication-factor (default 1)
      --series N                   sample size (default ${DEFAULT_PLAN_SERIES})
      --seed N                     sample seed (default 1)
      --tenant NAME[=WEIGHT]       a tenant to sample and its relative share of the series
                                   (repeatable; default: every tenant the files list, plus
                                   "default-tenant" for a catch-all ring, equally weighted)
      --json                       print the plan as JSON

  sluice hashring lint FILE [flags]
      Checks a hashring file: a catch-all ring smaller than a tenant ring or of one endpoint, rings
      with fewer endpoints than RF, duplicate or shared endpoints and tenants, zone layouts.
      Exits 1 when any finding is an error.
      --algorithm hashmod|ketama   as above (default hashmod)
      --replication-factor N       as above (default 1)

  sluice hashring generate --replicas N --namespace NS [flags]
      Prints the hashring file of a StatefulSet: one ring of <statefulset>-<i>.<service>.<NS>.svc:<port>,
      i = 0..N-1, each equal to that pod's --receive.local-endpoint.
      --statefulset NAME           StatefulSet name (default sluice)
      --service NAME               its headless Service (default: the StatefulSet name)
      --port N                     remote-write port (default 19291)
      --cluster-domain D           append D after .svc (default: none)
      --hashring NAME              ring name (default "default")
      --tenant NAME                a tenant the ring serves (repeatable; default: every tenant)
      --zones a,b,c                give endpoint i the az zones[i mod count] (ketama only)
      --algorithm hashmod|ketama   written into the ring (default ketama)

Exit status: 0 ok, 1 lint error, unusable file or value generate refuses, 2 usage error.`;

/** CliIO is where the commands write (the process's streams unless a test passes its own). */
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
}

const processIO: CliIO = {
  out: (line) => { process.stdout.write(line + '\n'); },
  err: (line) => { process.stderr.write(line + '\n'); },
};

/** UsageError is a bad command line (exit status 2); `showUsage` prints the help text after it. */
class UsageError extends Error {
  readonly showUsage: boolean;
  constructor(message: string, showUsage = false) {
    super(message);
    this.showUsage = showUsage;
  }
}

/** hashringMain runs `sluice hashring …` with the arguments after `hashring`; returns the exit status. */
export async function hashringMain(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      (sub === undefined ? io.err : io.out)(HASHRING_USAGE);
      return sub === undefined ? 2 : 0;
    }
    if (rest.includes('--help') || rest.includes('-h')) { io.out(HASHRING_USAGE); return 0; }
    if (sub === 'plan') return await planCommand(rest, io);
    if (sub === 'lint') return await lintCommand(rest, io);
    if (sub === 'generate') return generateCommand(rest, io);
    throw new UsageError(`unknown hashring command ${JSON.stringify(sub)} (want plan, lint or generate)`, true);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`sluice hashring: ${e.message}${e.showUsage ? `\n\n${HASHRING_USAGE}` : "\nRun 'sluice hashring --help' for usage."}`);
      return 2;
    }
    if (isSluiceError(e)) { io.err(`sluice hashring: ${e.message}`); return 1; }
    throw e;
  }
}

/** planCommand runs `sluice hashring plan`. */
async function planCommand(args: readonly string[], io: CliIO): Promise<number> {
  const v = parse(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    algorithm: { type: 'string' },
    'replication-factor': { type: 'string' },
    series: { type: 'string' },
    seed: { type: 'string' },
    tenant: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  }, false).values;
  if (typeof v['from'] !== 'string' || typeof v['to'] !== 'string') throw new UsageError('plan needs --from FILE and --to FILE');
  const algorithm = algorithmFlag(v['algorithm']);
  const rf = intFlag(v['replication-factor'], 'replication-factor', 1, 1, 1000);
  const series = intFlag(v['series'], 'series', DEFAULT_PLAN_SERIES, 1, 10_000_000);
  const seed = intFlag(v['seed'], 'seed', 1, 0, 0xffffffff);
  const from = await readConfig(v['from']);
  const to = await readConfig(v['to']);
  const notes: string[] = [];
  const tenants = Array.isArray(v['tenant']) && v['tenant'].length > 0
    ? v['tenant'].map((t) => tenantFlag(String(t)))
    : planTenants(from, to, notes);
  if (tenants.length === 0) throw new UsageError('no tenant to sample: the files list none and have no catch-all; pass --tenant NAME');
  const plan = planHashringChange(from, to, { algorithm, replicationFactor: rf }, syntheticSample(tenants, series, seed));
  if (v['json'] === true) {
    io.out(JSON.stringify({ algorithm, seed, ...plan }, null, 2));
    return 0;
  }
  for (const n of notes) io.err(`note: ${n}`);
  for (const line of formatPlan(plan, { from: v['from'], to: v['to'], algorithm, seed })) io.out(line);
  return 0;
}

/** lintCommand runs `sluice hashring lint`. */
async function lintCommand(args: readonly string[], io: CliIO): Promise<number> {
  const p = parse(args, {
    algorithm: { type: 'string' },
    'replication-factor': { type: 'string' },
  }, true);
  if (p.positionals.length !== 1) throw new UsageError('lint needs exactly one FILE');
  const file = p.positionals[0]!;
  const algorithm = algorithmFlag(p.values['algorithm']);
  const rf = intFlag(p.values['replication-factor'], 'replication-factor', 1, 1, 1000);
  const findings = lintHashringsText(await readText(file), { algorithm, replicationFactor: rf });
  // Errors first; within a severity, the order lint found them in (file order).
  for (const f of findings.filter((x) => x.severity === 'error')) io.out(formatFinding(f));
  for (const f of findings.filter((x) => x.severity !== 'error')) io.out(formatFinding(f));
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.length - errors;
  io.out(findings.length === 0
    ? `${file}: no problems found (replication factor ${rf}, default algorithm ${algorithm})`
    : `${file}: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  return hasErrors(findings) ? 1 : 0;
}

/** generateCommand runs `sluice hashring generate`: the file goes to stdout, nothing else does. */
function generateCommand(args: readonly string[], io: CliIO): number {
  const v = parse(args, {
    replicas: { type: 'string' }, namespace: { type: 'string' }, statefulset: { type: 'string' },
    service: { type: 'string' }, port: { type: 'string' }, 'cluster-domain': { type: 'string' },
    hashring: { type: 'string' }, tenant: { type: 'string', multiple: true }, zones: { type: 'string' },
    algorithm: { type: 'string' },
  }, false).values;
  if (v['replicas'] === undefined || typeof v['namespace'] !== 'string') throw new UsageError('generate needs --replicas N and --namespace NS');
  const statefulSet = typeof v['statefulset'] === 'string' ? v['statefulset'] : 'sluice';
  const text = generateHashrings({
    replicas: intFlag(v['replicas'], 'replicas', 1, 1, 1000),
    statefulSet,
    service: typeof v['service'] === 'string' ? v['service'] : statefulSet,
    namespace: v['namespace'],
    port: intFlag(v['port'], 'port', 19291, 1, 65535),
    algorithm: v['algorithm'] === undefined ? 'ketama' : algorithmFlag(v['algorithm']),
    ...(typeof v['cluster-domain'] === 'string' ? { clusterDomain: v['cluster-domain'] } : {}),
    ...(typeof v['hashring'] === 'string' ? { hashring: v['hashring'] } : {}),
    ...(Array.isArray(v['tenant']) ? { tenants: v['tenant'].map(String) } : {}),
    ...(typeof v['zones'] === 'string' ? { zones: v['zones'].split(',') } : {}),
  });
  io.out(text.slice(0, -1)); // io.out adds the final newline back
  return 0;
}

/** formatPlan renders a plan as a header, a table of endpoints and a summary. */
export function formatPlan(plan: HashringPlan, ctx: { from: string; to: string; algorithm: HashringAlgorithm; seed: number }): string[] {
  const lines: string[] = [];
  const nFrom = plan.endpoints.filter((e) => e.inFrom).length;
  const nTo = plan.endpoints.filter((e) => e.inTo).length;
  lines.push(`from ${ctx.from} (${nFrom} endpoints) to ${ctx.to} (${nTo} endpoints); default algorithm ${ctx.algorithm}, replication factor ${plan.replicationFactor}`);
  lines.push(`sample: ${plan.series} series (seed ${ctx.seed}) over ${plan.tenants.length} tenant${plan.tenants.length === 1 ? '' : 's'}; shares are of all ${plan.totalReplicas} replicas (series x RF)`);
  for (const t of plan.tenants) {
    const ring = t.ringBefore === t.ringAfter ? `${t.ringBefore ?? 'no hashring'}` : `${t.ringBefore ?? 'no hashring'} -> ${t.ringAfter ?? 'no hashring'}`;
    lines.push(`  tenant ${JSON.stringify(t.tenant)}: ${t.series} series, ${ring}`);
  }
  lines.push('');
  const rows = plan.endpoints.map((e) => [
    e.address + (e.inFrom ? (e.inTo ? '' : ' (removed)') : ' (new)'),
    pct(e.beforeShare), pct(e.afterShare), pct(e.gainedShare), pct(e.lostShare),
  ]);
  const head = ['endpoint', 'before', 'after', 'gained', 'lost'];
  const width = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const fmt = (r: string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(width[c]!) : cell.padStart(width[c]!))).join('  ');
  lines.push(fmt(head));
  for (const r of rows) lines.push(fmt(r));
  lines.push('');
  lines.push(`moved: ${pct(plan.movedReplicaShare)} of replicas (${plan.movedReplicas} of ${plan.totalReplicas} land on an endpoint that did not hold them)`);
  lines.push(`series with any replica moved: ${pct(plan.movedSeriesShare)} (${plan.movedSeries} of ${plan.series})`);
  if (plan.unroutableBefore > 0 || plan.unroutableAfter > 0) {
    lines.push(`series no hashring serves: ${plan.unroutableBefore} before, ${plan.unroutableAfter} after (their writes fail)`);
  }
  return lines;
}

/** pct formats a share as a percentage with one decimal. */
function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** parse wraps node:util parseArgs, turning its errors into usage errors. */
function parse(args: readonly string[], options: Options, allowPositionals: boolean): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const r = parseArgs({ args: [...args], options: options ?? {}, allowPositionals, strict: true });
    return { values: r.values as Record<string, unknown>, positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function algorithmFlag(v: unknown): HashringAlgorithm {
  if (v === undefined) return 'hashmod';
  if (typeof v === 'string' && (ALGORITHMS as readonly string[]).includes(v)) return v as HashringAlgorithm;
  throw new UsageError(`--algorithm: expected hashmod or ketama, got ${JSON.stringify(v)}`);
}

function intFlag(v: unknown, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

/** tenantFlag reads `NAME` or `NAME=WEIGHT`. */
function tenantFlag(s: string): TenantWeight {
  const eq = s.lastIndexOf('=');
  if (eq < 0) {
    if (s === '') throw new UsageError('--tenant: empty tenant name');
    return { tenant: s, weight: 1 };
  }
  const tenant = s.slice(0, eq);
  const weight = Number(s.slice(eq + 1));
  if (tenant === '' || !Number.isFinite(weight) || weight < 0 || s.slice(eq + 1) === '') {
    throw new UsageError(`--tenant: expected NAME or NAME=WEIGHT (a non-negative number), got ${JSON.stringify(s)}`);
  }
  return { tenant, weight };
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function readConfig(file: string): Promise<HashringConfig[]> {
  return parseHashringsConfig(await readText(file), file);
}
