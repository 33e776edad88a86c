/**
 * The Thanos objstore config (`--objstore.config-file` / `--objstore.config`): YAML with `type`,
 * `config` and `prefix`, `$(VAR)` environment substitution as Thanos does, strict keys, and the
 * factory that turns it into a Bucket. Reads the config file it is given; nothing else.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '../../errors.js';
import { PrefixedBucket, trimSlashes, type Bucket } from './bucket.js';
import { Fields, fail } from './fields.js';
import { FilesystemBucket, type FilesystemConfig } from './filesystem.js';
import { S3Bucket, type S3BucketOptions } from './s3.js';
import { parseS3Config, type S3Config } from './s3Config.js';

/** SUPPORTED_TYPES are the `type:` values Sluice implements (matched case-insensitively). */
export const SUPPORTED_TYPES = ['FILESYSTEM', 'S3'] as const;

/** ObjstoreConfig is a parsed objstore config: exactly one of `filesystem` / `s3` is set. */
export type ObjstoreConfig =
  | { type: 'FILESYSTEM'; prefix: string; filesystem: FilesystemConfig }
  | { type: 'S3'; prefix: string; s3: S3Config };

/** ObjstoreFlags are the two mutually exclusive flags (either may be absent or empty). */
export interface ObjstoreFlags {
  /** configFile is `--objstore.config-file`. */
  configFile?: string | undefined;
  /** config is `--objstore.config`. */
  config?: string | undefined;
}

/**
 * loadObjstoreConfig reads the config named by the flags. Returns undefined when neither flag
 * has content (Thanos then uploads nothing); throws ConfigError when both are set, the file
 * cannot be read, a `$(VAR)` is unset, or the YAML is wrong.
 */
export function loadObjstoreConfig(flags: ObjstoreFlags, env: NodeJS.ProcessEnv = process.env): ObjstoreConfig | undefined {
  const file = flags.configFile ?? '';
  const inline = flags.config ?? '';
  if (file !== '' && inline !== '') throw new ConfigError('both --objstore.config-file and --objstore.config flags set');
  let text = inline;
  if (file !== '') {
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`loading file ${file} for --objstore.config-file: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (text.trim() === '') return undefined;
  return parseObjstoreConfig(substituteEnv(text, env));
}

/**
 * substituteEnv replaces `$(NAME)` with the variable's value (the Kubernetes convention Thanos
 * follows); an unset variable is an error, as in Thanos.
 */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(/\$\(([a-zA-Z_0-9]+)\)/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new ConfigError(`objstore config: found reference to unset environment variable ${JSON.stringify(name)}`);
    return v;
  });
}

/** parseObjstoreConfig parses objstore YAML (after environment substitution). */
export function parseObjstoreConfig(text: string): ObjstoreConfig {
  let doc: unknown;
  try {
    // yaml.v2, which Thanos uses, reads YAML 1.1.
    doc = parse(text, { version: '1.1' });
  } catch (e) {
    throw fail(`parsing YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const top = new Fields(doc, '');
  const rawType = top.str('type');
  const prefix = trimSlashes(top.str('prefix'));
  const config = top.sub('config');
  top.done();
  const type = rawType.toUpperCase();
  switch (type) {
    case 'FILESYSTEM': {
      const directory = config.str('directory');
      config.done();
      if (directory === '') throw fail('missing directory for filesystem bucket (config.directory)');
      return { type, prefix, filesystem: { directory } };
    }
    case 'S3':
      return { type, prefix, s3: parseS3Config(config) };
    case '':
      throw fail(`missing type; supported: ${SUPPORTED_TYPES.join(', ')}`);
    default:
      throw fail(`bucket type ${JSON.stringify(rawType)} is not supported; supported: ${SUPPORTED_TYPES.join(', ')}`);
  }
}

/** NewBucketOptions pass backend-specific tuning through the factory. */
export interface NewBucketOptions {
  s3?: S3BucketOptions;
}

/** newBucket builds the bucket a config describes, wrapped in its prefix when it has one. */
export function newBucket(cfg: ObjstoreConfig, opts: NewBucketOptions = {}): Bucket {
  const b: Bucket = cfg.type === 'FILESYSTEM' ? new FilesystemBucket(cfg.filesystem) : new S3Bucket(cfg.s3, opts.s3);
  return cfg.prefix === '' ? b : new PrefixedBucket(b, cfg.prefix);
}
