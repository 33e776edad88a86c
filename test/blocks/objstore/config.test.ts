import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadObjstoreConfig, newBucket, parseObjstoreConfig } from '../../../src/blocks/objstore/config.js';
import { FilesystemBucket } from '../../../src/blocks/objstore/filesystem.js';
import { PrefixedBucket } from '../../../src/blocks/objstore/bucket.js';
import { DEFAULT_PART_SIZE } from '../../../src/blocks/objstore/s3Config.js';
import { isSluiceError } from '../../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-objcfg-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** configError asserts `fn` throws a ConfigError whose message matches `re`. */
function configError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e) => isSluiceError(e) && e.code === 'E_CONFIG' && re.test(e.message));
}

test('a Thanos S3 file with every documented key loads, with Thanos defaults', () => {
  const cfg = parseObjstoreConfig(`
type: s3
config:
  bucket: "thanos"
  endpoint: "s3.eu-west-1.amazonaws.com"
  region: eu-west-1
  disable_dualstack: false
  aws_sdk_auth: false
  access_key: AK
  insecure: false
  signature_version2: false
  secret_key: SK
  session_token: ""
  put_user_metadata: {}
  http_config:
    idle_conn_timeout: 1m30s
    response_header_timeout: 2m
    insecure_skip_verify: false
    tls_handshake_timeout: 10s
    expect_continue_timeout: 1s
    max_idle_conns: 100
    max_idle_conns_per_host: 100
    max_conns_per_host: 0
    tls_config:
      ca_file: ""
      cert_file: ""
      key_file: ""
      server_name: ""
      insecure_skip_verify: false
    disable_compression: false
  trace:
    enable: false
  list_objects_version: ""
  bucket_lookup_type: auto
  send_content_md5: true
  disable_multipart: false
  part_size: 67108864
  sse_config:
    type: ""
    kms_key_id: ""
    kms_encryption_context: {}
    encryption_key: ""
  sts_endpoint: ""
prefix: "/receive/"
`);
  assert.equal(cfg.type, 'S3');
  assert.equal(cfg.prefix, 'receive');
  if (cfg.type !== 'S3') return;
  assert.equal(cfg.s3.bucket, 'thanos');
  assert.equal(cfg.s3.http.idleConnTimeoutMs, 90_000);
  assert.equal(cfg.s3.http.responseHeaderTimeoutMs, 120_000);
  assert.equal(cfg.s3.partSize, DEFAULT_PART_SIZE);
  assert.equal(cfg.s3.listObjectsVersion, 'v2');
  assert.equal(cfg.s3.sendContentMd5, true);
});

test('defaults: part_size 64 MiB, MD5 on, path lookup auto', () => {
  const cfg = parseObjstoreConfig('type: S3\nconfig:\n  bucket: b\n  endpoint: minio:9000\n');
  assert.ok(cfg.type === 'S3');
  if (cfg.type !== 'S3') return;
  assert.equal(cfg.s3.partSize, 64 * 1024 * 1024);
  assert.equal(cfg.s3.bucketLookupType, 'auto');
  assert.equal(cfg.s3.region, '');
});

test('unknown keys are named, at the top level and inside config', () => {
  configError(() => parseObjstoreConfig('type: S3\nconfig:\n  bucket: b\n  endpoint: e\n  buckett: x\n'), /unknown field "config\.buckett"/);
  configError(() => parseObjstoreConfig('type: FILESYSTEM\nconfig:\n  directory: /d\nprefixx: p\n'), /unknown field "prefixx"/);
  configError(() => parseObjstoreConfig('type: S3\nconfig:\n  bucket: b\n  endpoint: e\n  http_config:\n    idle_timeout: 1s\n'), /unknown field "config\.http_config\.idle_timeout"/);
});

test('unsupported types name the type and what is supported; type is case-insensitive', () => {
  configError(() => parseObjstoreConfig('type: GCS\nconfig:\n  bucket: b\n'), /"GCS" is not supported; supported: FILESYSTEM, S3/);
  configError(() => parseObjstoreConfig('config:\n  directory: /d\n'), /missing type/);
  const cfg = parseObjstoreConfig('type: filesystem\nconfig:\n  directory: /d\n');
  assert.equal(cfg.type, 'FILESYSTEM');
});

test('refused options: signature v2, SSE, missing endpoint, half credentials, tiny parts, bad values', () => {
  const s3 = (extra: string): string => `type: S3\nconfig:\n  bucket: b\n  endpoint: e:9000\n${extra}`;
  configError(() => parseObjstoreConfig(s3('  signature_version2: true\n')), /signature version 2 is not supported/);
  configError(() => parseObjstoreConfig(s3('  sse_config:\n    type: SSE-S3\n')), /server-side encryption \(SSE-S3\) is not supported/);
  configError(() => parseObjstoreConfig('type: S3\nconfig:\n  bucket: b\n'), /no s3 endpoint/);
  configError(() => parseObjstoreConfig(s3('  access_key: a\n')), /access_key is set without secret_key/);
  configError(() => parseObjstoreConfig(s3('  part_size: 1024\n')), /part_size must be at least 5242880/);
  configError(() => parseObjstoreConfig(s3('  insecure: maybe\n')), /config\.insecure must be true or false/);
  configError(() => parseObjstoreConfig(s3('  bucket_lookup_type: dns\n')), /unsupported bucket lookup type "dns"/);
  configError(() => parseObjstoreConfig('type: S3\nconfig:\n  bucket: b\n  endpoint: http://e:9000\n'), /without a scheme/);
  configError(() => parseObjstoreConfig(s3('  http_config:\n    idle_conn_timeout: soon\n')), /must be a duration/);
  configError(() => parseObjstoreConfig('type: [S3\n'), /parsing YAML/);
  configError(() => parseObjstoreConfig('type: FILESYSTEM\nconfig: {}\n'), /missing directory/);
});

test('YAML 1.1 booleans (yes/no) read as yaml.v2 reads them', () => {
  const cfg = parseObjstoreConfig('type: S3\nconfig:\n  bucket: b\n  endpoint: e:9000\n  insecure: yes\n');
  assert.ok(cfg.type === 'S3' && cfg.s3.insecure);
});

test('flags: file or inline content, not both; $(VAR) substitution; empty means no object store', () => {
  const file = join(root, 'objstore.yml');
  writeFileSync(file, 'type: FILESYSTEM\nconfig:\n  directory: $(BLOCKS_DIR)\n');
  const env = { BLOCKS_DIR: join(root, 'bkt') };
  const a = loadObjstoreConfig({ configFile: file }, env);
  assert.ok(a?.type === 'FILESYSTEM' && a.filesystem.directory === env.BLOCKS_DIR);
  const b = loadObjstoreConfig({ config: 'type: FILESYSTEM\nconfig:\n  directory: $(BLOCKS_DIR)\n' }, env);
  assert.deepEqual(b, a);
  assert.equal(loadObjstoreConfig({}, env), undefined);
  assert.equal(loadObjstoreConfig({ config: '' }, env), undefined);
  configError(() => loadObjstoreConfig({ configFile: file, config: 'type: S3' }, env), /both --objstore.config-file and --objstore.config/);
  configError(() => loadObjstoreConfig({ configFile: file }, {}), /unset environment variable "BLOCKS_DIR"/);
  configError(() => loadObjstoreConfig({ configFile: join(root, 'missing.yml') }, env), /loading file/);
});

test('newBucket builds the backend and wraps it in the prefix', () => {
  const plain = newBucket(parseObjstoreConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(root, 'b1')}\n`));
  assert.ok(plain instanceof FilesystemBucket);
  const prefixed = newBucket(parseObjstoreConfig(`type: FILESYSTEM\nconfig:\n  directory: ${join(root, 'b2')}\nprefix: p/q\n`));
  assert.ok(prefixed instanceof PrefixedBucket);
});
