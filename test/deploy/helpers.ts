/**
 * Helpers of the deploy/ tests: find the repository, render an overlay with `kubectl kustomize`
 * (the binary in $KUBECTL, else `kubectl` on PATH), and turn a rendered StatefulSet into the
 * command line one of its pods runs — env references `$(VAR)` resolved the way the kubelet does,
 * and mounted ConfigMap/Secret files written to a temp dir so the flags that name them can be
 * loaded. Reads deploy/ and writes only temp dirs the caller removes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** K8sObject is a rendered Kubernetes object, read as plain YAML. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, any>;

/** repoRoot finds <root> from <root>/<build dir>/out/test/deploy or <root>/dist/test/deploy. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'deploy', 'base', 'kustomization.yaml')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('repository root with deploy/base not found');
}

export const ROOT = repoRoot();
export const DEPLOY = join(ROOT, 'deploy');

/** KUBECTL is the kubectl binary the tests render with. */
export const KUBECTL = process.env['KUBECTL'] ?? 'kubectl';

/** parseYamlDocs parses every document of a YAML text, failing on any YAML error. */
export function parseYamlDocs(text: string, what: string): any[] {
  const docs = parseAllDocuments(text);
  for (const d of docs) assert.equal(d.errors.length, 0, `${what}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS()).filter((d) => d !== null && d !== undefined);
}

const rendered = new Map<string, K8sObject[]>();

/** render runs `kubectl kustomize deploy/overlays/<overlay>` once and returns its objects. */
export function render(overlay: string): K8sObject[] {
  let objs = rendered.get(overlay);
  if (objs === undefined) {
    let out: string;
    try {
      out = execFileSync(KUBECTL, ['kustomize', join(DEPLOY, 'overlays', overlay)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      if (err.code === 'ENOENT') throw new Error(`${KUBECTL} not found: install kubectl (Debian: kubernetes-client) or set KUBECTL`);
      throw new Error(`kubectl kustomize deploy/overlays/${overlay} failed: ${err.stderr ?? err.message}`);
    }
    objs = parseYamlDocs(out, `overlay ${overlay}`) as K8sObject[];
    // kustomize v5 folds long base64 values of generated Secrets over several lines; the API
    // server's decoder (Go's encoding/base64) skips newlines, the schema's "byte" format does not.
    for (const o of objs) {
      if (o.kind !== 'Secret' || o['data'] === undefined) continue;
      for (const [k, v] of Object.entries(o['data'] as Record<string, string>)) o['data'][k] = v.replace(/\s+/g, '');
    }
    rendered.set(overlay, objs);
  }
  return structuredClone(objs);
}

/** one returns the only object of a kind (and name, if given); fails if there is not exactly one. */
export function one(objs: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${found.length}`);
  return found[0]!;
}

/** durationMs reads a simple Go duration (`90s`, `2m`, `1h`) as ms. */
export function durationMs(s: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(s);
  assert.ok(m !== null, `unexpected duration ${s}`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
}

/** cpuQuantity reads a Kubernetes CPU quantity (`2`, `1500m`, `0.5`) in CPUs. */
export function cpuQuantity(q: string | number): number {
  const s = String(q);
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(s);
  assert.ok(m !== null, `unexpected CPU quantity ${s}`);
  return m[2] === 'm' ? Number(m[1]) / 1000 : Number(m[1]);
}

/** container returns the StatefulSet's `sluice` container. */
export function container(sts: K8sObject): any {
  const c = (sts['spec'].template.spec.containers as any[]).find((x) => x.name === 'sluice');
  assert.ok(c !== undefined, 'the StatefulSet has no container named sluice');
  return c;
}

/**
 * podEnv resolves the container's env for pod `ordinal` as the kubelet would: literal values,
 * metadata.name / metadata.namespace field refs, and limits.cpu resource refs (rounded up to the
 * divisor, as the kubelet does). Anything else fails the test.
 */
export function podEnv(sts: K8sObject, ordinal: number): Map<string, string> {
  const c = container(sts);
  const env = new Map<string, string>();
  for (const e of (c.env ?? []) as any[]) {
    if (e.value !== undefined) env.set(e.name, String(e.value));
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env.set(e.name, `${sts.metadata.name}-${ordinal}`);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env.set(e.name, sts.metadata.namespace!);
    else if (e.valueFrom?.resourceFieldRef !== undefined) {
      const ref = e.valueFrom.resourceFieldRef;
      assert.equal(ref.resource, 'limits.cpu', `env ${e.name}: only limits.cpu is understood here`);
      const limit = c.resources?.limits?.cpu;
      assert.ok(limit !== undefined, `env ${e.name} reads limits.cpu, but the container has no CPU limit (it would get the node's CPUs)`);
      env.set(e.name, String(Math.ceil(cpuQuantity(limit) / cpuQuantity(ref.divisor ?? '1'))));
    } else assert.fail(`env ${e.name}: unsupported source ${JSON.stringify(e.valueFrom)}`);
  }
  return env;
}

/** expand replaces `$(VAR)` in a container argument; an undefined VAR fails (the kubelet would pass it literally). */
export function expand(arg: string, env: ReadonlyMap<string, string>): string {
  return arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_m, name: string) => {
    const v = env.get(name);
    assert.ok(v !== undefined, `argument ${arg} references $(${name}), which the container's env does not define`);
    return v;
  });
}

/** podArgs is the argument list of pod `ordinal` after env expansion (args[0] is the subcommand). */
export function podArgs(sts: K8sObject, ordinal: number): string[] {
  const env = podEnv(sts, ordinal);
  return (container(sts).args as string[]).map((a) => expand(a, env));
}

/** flagValue returns the value of `--name=value` among args, or undefined. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/**
 * localizeArgs writes the files of every ConfigMap or Secret volume the container mounts into a
 * temp dir (taking objects from `objs`, or from `extra` for a Secret the user creates) and
 * rewrites each flag value under a mount path to the temp copy; the data volume's mount path maps
 * to an empty temp dir. Returns the rewritten args and the temp dir (the caller removes it).
 */
export function localizeArgs(args: readonly string[], sts: K8sObject, objs: readonly K8sObject[], extra: readonly K8sObject[] = []): { args: string[]; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-deploy-'));
  const volumes = new Map<string, any>((sts['spec'].template.spec.volumes as any[]).map((v) => [v.name, v]));
  const claims = new Set<string>((sts['spec'].volumeClaimTemplates ?? []).map((t: any) => t.metadata.name));
  const mapped: [string, string][] = [];
  for (const m of container(sts).volumeMounts as any[]) {
    const local = join(dir, m.name);
    mkdirSync(local, { recursive: true });
    mapped.push([m.mountPath, local]);
    if (claims.has(m.name)) continue;
    const v = volumes.get(m.name);
    assert.ok(v !== undefined, `volumeMount ${m.name} has no volume`);
    let files: Record<string, string> = {};
    if (v.configMap !== undefined) {
      files = one(objs, 'ConfigMap', v.configMap.name)['data'] ?? {};
    } else if (v.secret !== undefined) {
      const s = [...objs, ...extra].find((o) => o.kind === 'Secret' && o.metadata.name === v.secret.secretName);
      assert.ok(s !== undefined, `Secret ${v.secret.secretName} (volume ${m.name}) is neither rendered nor supplied`);
      for (const [k, b64] of Object.entries((s['data'] ?? {}) as Record<string, string>)) files[k] = Buffer.from(b64, 'base64').toString('utf8');
      Object.assign(files, s['stringData'] ?? {});
    } else if (v.emptyDir === undefined) assert.fail(`volume ${m.name}: unexpected source`);
    for (const [k, text] of Object.entries(files)) writeFileSync(join(local, k), text);
  }
  // Longest mount path first, so /data does not capture /data-something.
  mapped.sort((a, b) => b[0].length - a[0].length);
  const out = args.map((a) => {
    const eq = a.indexOf('=');
    if (!a.startsWith('--') || eq < 0) return a;
    const value = a.slice(eq + 1);
    for (const [mount, local] of mapped) {
      if (value === mount || value.startsWith(`${mount}/`)) return `${a.slice(0, eq + 1)}${local}${value.slice(mount.length)}`;
    }
    return a;
  });
  return { args: out, dir };
}
