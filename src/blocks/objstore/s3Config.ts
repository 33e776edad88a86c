/**
 * The `config:` section of a Thanos `type: S3` objstore config: every key Thanos' S3 client
 * accepts is read (so a Thanos file loads unchanged), defaults are Thanos', and the options
 * Sluice does not implement (signature v2, server-side encryption) are refused by name.
 * Pure: reads no file (TLS files are read when the bucket is built).
 */
import { Fields, fail } from './fields.js';

/** MIN_PART_SIZE is S3's smallest multipart part (the last part may be smaller). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** DEFAULT_PART_SIZE is Thanos' default multipart part size (64 MiB). */
export const DEFAULT_PART_SIZE = 64 * 1024 * 1024;

/** BucketLookup is how the bucket is addressed: by host name, by path, or chosen by endpoint. */
export type BucketLookup = 'auto' | 'virtual-hosted' | 'path';

/** S3TlsConfig is `http_config.tls_config`. */
export interface S3TlsConfig {
  caFile: string;
  certFile: string;
  keyFile: string;
  serverName: string;
  insecureSkipVerify: boolean;
  /** trustRootCa keeps the system roots trusted next to `caFile`. */
  trustRootCa: boolean;
}

/** S3HttpConfig is the part of `http_config` Sluice applies (the rest is accepted and ignored). */
export interface S3HttpConfig {
  /** idleConnTimeoutMs closes idle keep-alive sockets after this long. */
  idleConnTimeoutMs: number;
  /** responseHeaderTimeoutMs fails a request whose socket stays silent this long. */
  responseHeaderTimeoutMs: number;
  /** tlsHandshakeTimeoutMs bounds connection setup. */
  tlsHandshakeTimeoutMs: number;
  /** maxConnsPerHost caps sockets per host; 0 is unlimited. */
  maxConnsPerHost: number;
  /** maxIdleConnsPerHost caps idle keep-alive sockets per host. */
  maxIdleConnsPerHost: number;
  /** insecureSkipVerify disables TLS certificate checks. */
  insecureSkipVerify: boolean;
  tls: S3TlsConfig;
}

/** S3Config is a parsed, validated S3 objstore config. */
export interface S3Config {
  bucket: string;
  /** endpoint is `host[:port]` without a scheme, as in Thanos. */
  endpoint: string;
  /** region is empty when not set (the client then starts with us-east-1 and follows redirects). */
  region: string;
  /** awsSdkAuth uses the AWS SDK's default credential chain. */
  awsSdkAuth: boolean;
  accessKey: string;
  secretKey: string;
  sessionToken: string;
  /** insecure talks plain HTTP. */
  insecure: boolean;
  /** putUserMetadata is sent with every upload (X-Amz-Storage-Class becomes the storage class). */
  putUserMetadata: Record<string, string>;
  listObjectsVersion: 'v1' | 'v2';
  bucketLookupType: BucketLookup;
  /** sendContentMd5 sends Content-MD5 with every upload and part (Thanos default: true). */
  sendContentMd5: boolean;
  disableMultipart: boolean;
  /** partSize is the multipart part size; objects larger than it are sent in parts. */
  partSize: number;
  http: S3HttpConfig;
}

/** parseS3Config reads the `config:` mapping of a `type: S3` objstore config. */
export function parseS3Config(f: Fields): S3Config {
  const cfg: S3Config = {
    bucket: f.str('bucket'),
    endpoint: f.str('endpoint'),
    region: f.str('region'),
    awsSdkAuth: f.bool('aws_sdk_auth'),
    accessKey: f.str('access_key'),
    secretKey: f.str('secret_key'),
    sessionToken: f.str('session_token'),
    insecure: f.bool('insecure'),
    putUserMetadata: f.stringMap('put_user_metadata'),
    listObjectsVersion: 'v2',
    bucketLookupType: 'auto',
    sendContentMd5: f.bool('send_content_md5', true),
    disableMultipart: f.bool('disable_multipart'),
    partSize: f.int('part_size', DEFAULT_PART_SIZE),
    http: parseHttpConfig(f.sub('http_config')),
  };
  if (f.bool('signature_version2')) throw fail(`${f.name('signature_version2')}: signature version 2 is not supported; use version 4`);
  const sse = f.sub('sse_config');
  const sseType = sse.str('type');
  sse.str('kms_key_id');
  sse.stringMap('kms_encryption_context');
  sse.str('encryption_key');
  sse.done();
  if (sseType !== '') throw fail(`${f.name('sse_config')}: server-side encryption (${sseType}) is not supported`);
  const trace = f.sub('trace');
  trace.bool('enable');
  trace.done();
  f.bool('disable_dualstack');
  f.str('sts_endpoint');

  const lov = f.str('list_objects_version');
  if (lov !== '' && lov !== 'v1' && lov !== 'v2') throw fail(`${f.name('list_objects_version')}: unsupported version ${JSON.stringify(lov)}; supported: v1, v2`);
  if (lov === 'v1') cfg.listObjectsVersion = 'v1';
  const blt = f.str('bucket_lookup_type', 'auto');
  // Thanos spells it `virtual-hosted`; `virtual-host` is accepted too.
  if (blt === 'auto' || blt === 'path' || blt === 'virtual-hosted') cfg.bucketLookupType = blt;
  else if (blt === 'virtual-host') cfg.bucketLookupType = 'virtual-hosted';
  else throw fail(`${f.name('bucket_lookup_type')}: unsupported bucket lookup type ${JSON.stringify(blt)}; supported: auto, virtual-hosted, path`);
  f.done();

  if (cfg.bucket === '') throw fail(`${f.name('bucket')} is required for S3`);
  if (cfg.endpoint === '') throw fail(`no s3 endpoint in config (${f.name('endpoint')})`);
  if (cfg.endpoint.includes('://') || cfg.endpoint.includes('/')) {
    throw fail(`${f.name('endpoint')} must be host[:port] without a scheme or path (use insecure: true for http), got ${JSON.stringify(cfg.endpoint)}`);
  }
  if (cfg.awsSdkAuth && cfg.accessKey !== '') throw fail('aws_sdk_auth and access_key are mutually exclusive');
  if (cfg.accessKey === '' && cfg.secretKey !== '') throw fail('secret_key is set without access_key; set both, or neither to use the environment/IAM');
  if (cfg.accessKey !== '' && cfg.secretKey === '') throw fail('access_key is set without secret_key; set both, or neither to use the environment/IAM');
  if (cfg.partSize < MIN_PART_SIZE) throw fail(`${f.name('part_size')} must be at least ${MIN_PART_SIZE} (5 MiB, the S3 minimum), got ${cfg.partSize}`);
  return cfg;
}

function parseHttpConfig(h: Fields): S3HttpConfig {
  const out: S3HttpConfig = {
    idleConnTimeoutMs: h.duration('idle_conn_timeout', 90_000),
    responseHeaderTimeoutMs: h.duration('response_header_timeout', 120_000),
    tlsHandshakeTimeoutMs: h.duration('tls_handshake_timeout', 10_000),
    maxConnsPerHost: h.int('max_conns_per_host', 0),
    maxIdleConnsPerHost: h.int('max_idle_conns_per_host', 100),
    insecureSkipVerify: h.bool('insecure_skip_verify'),
    tls: { caFile: '', certFile: '', keyFile: '', serverName: '', insecureSkipVerify: false, trustRootCa: false },
  };
  // Accepted for compatibility, no effect on Node's HTTP client.
  h.duration('expect_continue_timeout', 1000);
  h.int('max_idle_conns', 100);
  h.bool('force_attempt_http2');
  h.bool('disable_compression');
  const t = h.sub('tls_config');
  out.tls = {
    caFile: t.str('ca_file'),
    certFile: t.str('cert_file'),
    keyFile: t.str('key_file'),
    serverName: t.str('server_name'),
    insecureSkipVerify: t.bool('insecure_skip_verify'),
    trustRootCa: t.bool('trust_root_ca'),
  };
  t.done();
  h.done();
  if ((out.tls.certFile === '') !== (out.tls.keyFile === '')) {
    throw fail(`${t.name('cert_file')} and ${t.name('key_file')} must be set together`);
  }
  return out;
}
