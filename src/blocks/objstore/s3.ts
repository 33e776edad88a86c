/**
 * S3 bucket (Thanos `type: S3`) on @aws-sdk/client-s3: single PUTs up to `part_size`, multipart
 * uploads above it (CreateMultipartUpload / UploadPart / CompleteMultipartUpload, aborted on
 * failure) streamed from the file one part at a time, ranged GETs, v1/v2 listings.
 * Touches only the network and the files it is asked to upload (read-only).
 *
 * Checksums: the SDK's default "flexible checksums" send streamed bodies as aws-chunked with a
 * trailer, which several S3-compatible servers store verbatim (measured: s3rver kept the framing
 * in the object). They are turned off (WHEN_REQUIRED); integrity comes from Content-MD5 instead,
 * as in Thanos (`send_content_md5`, default true), computed in a first read of each part.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadObjectCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
  UploadPartCommand, type CompletedPart, type S3ClientConfig, type StorageClass,
} from '@aws-sdk/client-s3';
import { ErrorCode, SluiceError } from '../../errors.js';
import { ObjectNotFoundError, dirPrefix, type Bucket, type IterOptions, type ObjectAttributes, type UploadSource } from './bucket.js';
import { fail } from './fields.js';
import type { S3Config } from './s3Config.js';

/** MAX_PARTS is the S3 limit on parts per multipart upload; bigger objects get bigger parts. */
const MAX_PARTS = 10_000;

/** S3BucketOptions tune behaviour tests need to control. */
export interface S3BucketOptions {
  /** partAttempts is how often one PUT (single or part) is tried before the upload fails (3). */
  partAttempts?: number;
  /** retryDelayMs is the wait before the second attempt; it doubles after that (500). */
  retryDelayMs?: number;
  /** maxAttempts is the SDK's own attempts for requests without a streamed body (3). */
  maxAttempts?: number;
}

/** SourceSlicer cuts an upload source into byte ranges: a fresh body per call, and its MD5. */
interface SourceSlicer {
  size: number;
  body(start: number, len: number): Readable | Uint8Array;
  md5(start: number, len: number): Promise<string>;
}

/** S3Bucket implements Bucket against S3 and S3-compatible servers. Immutable after construction. */
export class S3Bucket implements Bucket {
  readonly name: string;
  private readonly cfg: S3Config;
  /** client sends requests without streamed bodies; the SDK retries them. */
  private readonly client: S3Client;
  /** uploadClient sends streamed PUTs, which the SDK cannot replay: one attempt, retried here. */
  private readonly uploadClient: S3Client;
  private readonly agents: Array<HttpAgent | HttpsAgent>;
  private readonly metadata: Record<string, string>;
  private readonly storageClass: StorageClass | undefined;
  private readonly partAttempts: number;
  private readonly retryDelayMs: number;

  constructor(cfg: S3Config, opts: S3BucketOptions = {}) {
    this.cfg = cfg;
    this.name = cfg.bucket;
    this.partAttempts = Math.max(1, opts.partAttempts ?? 3);
    this.retryDelayMs = opts.retryDelayMs ?? 500;
    const metadata: Record<string, string> = {};
    let storageClass: string | undefined;
    for (const [k, v] of Object.entries(cfg.putUserMetadata)) {
      if (k.toLowerCase() === 'x-amz-storage-class') storageClass = v;
      else metadata[k] = v;
    }
    this.metadata = metadata;
    this.storageClass = storageClass as StorageClass | undefined;

    const h = cfg.http;
    const agentOpts = {
      keepAlive: true,
      maxSockets: h.maxConnsPerHost > 0 ? h.maxConnsPerHost : Infinity,
      maxFreeSockets: Math.max(1, h.maxIdleConnsPerHost),
      timeout: h.idleConnTimeoutMs,
    };
    const httpAgent = new HttpAgent(agentOpts);
    const httpsAgent = new HttpsAgent({ ...agentOpts, ...tlsOptions(cfg) });
    this.agents = [httpAgent, httpsAgent];
    const base: S3ClientConfig = {
      endpoint: `${cfg.insecure ? 'http' : 'https'}://${cfg.endpoint}`,
      region: cfg.region === '' ? 'us-east-1' : cfg.region,
      forcePathStyle: !useVirtualHost(cfg),
      followRegionRedirects: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: h.tlsHandshakeTimeoutMs,
        requestTimeout: h.responseHeaderTimeoutMs,
        httpAgent,
        httpsAgent,
      },
    };
    if (cfg.accessKey !== '') {
      base.credentials = {
        accessKeyId: cfg.accessKey,
        secretAccessKey: cfg.secretKey,
        ...(cfg.sessionToken !== '' ? { sessionToken: cfg.sessionToken } : {}),
      };
    }
    this.client = new S3Client({ ...base, maxAttempts: opts.maxAttempts ?? 3 });
    this.uploadClient = new S3Client({ ...base, maxAttempts: 1 });
  }

  async upload(name: string, src: UploadSource): Promise<void> {
    const slicer = typeof src === 'string' ? await fileSlicer(src, name) : bytesSlicer(src);
    if (this.cfg.disableMultipart || slicer.size <= this.cfg.partSize) {
      await this.retrying('upload', name, async () => {
        const md5 = this.cfg.sendContentMd5 ? { ContentMD5: await slicer.md5(0, slicer.size) } : {};
        await withBody(slicer, 0, slicer.size, (body) => this.uploadClient.send(new PutObjectCommand({
          Bucket: this.cfg.bucket, Key: name, Body: body, ContentLength: slicer.size, ...md5, ...this.putOptions(),
        })));
      });
      return;
    }
    await this.multipart(name, slicer);
  }

  async get(name: string): Promise<Uint8Array> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.cfg.bucket, Key: name }));
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array(0);
    } catch (e) {
      throw s3Error(e, 'get', name);
    }
  }

  async getRange(name: string, offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new SluiceError(ErrorCode.Internal, `getRange ${name}: bad offset ${offset}`);
    if (length === 0) {
      await this.attributes(name); // still report a missing object
      return new Uint8Array(0);
    }
    const range = length < 0 ? `bytes=${offset}-` : `bytes=${offset}-${offset + length - 1}`;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.cfg.bucket, Key: name, Range: range }));
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array(0);
    } catch (e) {
      // 416: the offset is at or past the end; the contract clips instead.
      if (httpStatus(e) === 416) return new Uint8Array(0);
      throw s3Error(e, 'getRange', name);
    }
  }

  async attributes(name: string): Promise<ObjectAttributes> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.cfg.bucket, Key: name }));
      return { size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0) };
    } catch (e) {
      throw s3Error(e, 'attributes', name);
    }
  }

  async exists(name: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.cfg.bucket, Key: name }));
      return true;
    } catch (e) {
      const err = s3Error(e, 'exists', name);
      if (err instanceof ObjectNotFoundError) return false;
      throw err;
    }
  }

  async *iter(dir: string, opts?: IterOptions): AsyncIterable<string> {
    const prefix = dirPrefix(dir);
    const delimiter = opts?.recursive === true ? undefined : '/';
    let token: string | undefined;
    do {
      const page: string[] = [];
      try {
        if (this.cfg.listObjectsVersion === 'v1') {
          const out = await this.client.send(new ListObjectsCommand({ Bucket: this.cfg.bucket, Prefix: prefix, Delimiter: delimiter, Marker: token }));
          for (const c of out.Contents ?? []) if (c.Key !== undefined && c.Key !== prefix) page.push(c.Key);
          for (const p of out.CommonPrefixes ?? []) if (p.Prefix !== undefined) page.push(p.Prefix);
          const last = out.Contents?.at(-1)?.Key;
          token = out.IsTruncated === true ? (out.NextMarker ?? last) : undefined;
        } else {
          const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.cfg.bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token }));
          for (const c of out.Contents ?? []) if (c.Key !== undefined && c.Key !== prefix) page.push(c.Key);
          for (const p of out.CommonPrefixes ?? []) if (p.Prefix !== undefined) page.push(p.Prefix);
          token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
        }
      } catch (e) {
        throw s3Error(e, 'iter', dir);
      }
      page.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      yield* page;
    } while (token !== undefined);
  }

  async delete(name: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.cfg.bucket, Key: name }));
    } catch (e) {
      const err = s3Error(e, 'delete', name);
      if (!(err instanceof ObjectNotFoundError)) throw err;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.uploadClient.destroy();
    for (const a of this.agents) a.destroy();
  }

  /** multipart sends `slicer` in parts of at least part_size; any failure aborts the upload. */
  private async multipart(name: string, slicer: SourceSlicer): Promise<void> {
    const partSize = Math.max(this.cfg.partSize, Math.ceil(slicer.size / MAX_PARTS));
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.cfg.bucket, Key: name, ...this.putOptions() }));
      uploadId = created.UploadId;
      if (uploadId === undefined) throw new SluiceError(ErrorCode.Internal, `s3 upload ${name}: no upload id returned`);
      const parts: CompletedPart[] = [];
      for (let start = 0, n = 1; start < slicer.size; start += partSize, n++) {
        const len = Math.min(partSize, slicer.size - start);
        const id = uploadId;
        const etag = await this.retrying('upload part', name, async () => {
          const md5 = this.cfg.sendContentMd5 ? { ContentMD5: await slicer.md5(start, len) } : {};
          const out = await withBody(slicer, start, len, (body) => this.uploadClient.send(new UploadPartCommand({
            Bucket: this.cfg.bucket, Key: name, UploadId: id, PartNumber: n, Body: body, ContentLength: len, ...md5,
          })));
          return out.ETag;
        });
        parts.push({ PartNumber: n, ETag: etag });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.cfg.bucket, Key: name, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    } catch (e) {
      if (uploadId !== undefined) {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.cfg.bucket, Key: name, UploadId: uploadId })).catch(() => undefined);
      }
      throw s3Error(e, 'upload', name);
    }
  }

  /** retrying runs `fn` up to partAttempts times while it fails with a retryable error. */
  private async retrying<T>(op: string, name: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const err = s3Error(e, op, name);
        if (err.code !== ErrorCode.Unavailable || attempt >= this.partAttempts) throw err;
        await new Promise((r) => setTimeout(r, this.retryDelayMs * 2 ** (attempt - 1)));
      }
    }
  }

  private putOptions(): { Metadata?: Record<string, string>; StorageClass?: StorageClass } {
    return {
      ...(Object.keys(this.metadata).length > 0 ? { Metadata: this.metadata } : {}),
      ...(this.storageClass !== undefined ? { StorageClass: this.storageClass } : {}),
    };
  }
}

/**
 * useVirtualHost decides bucket addressing. `auto` follows minio-go (Thanos' client): virtual
 * hosts only for AWS and Google endpoints, and not for dotted bucket names over TLS; anything
 * else (MinIO, Ceph, IPs, localhost) is path-style.
 */
export function useVirtualHost(cfg: Pick<S3Config, 'bucketLookupType' | 'endpoint' | 'bucket' | 'insecure'>): boolean {
  if (cfg.bucketLookupType === 'path') return false;
  if (cfg.bucketLookupType === 'virtual-hosted') return true;
  const host = hostOf(cfg.endpoint);
  if (!cfg.insecure && cfg.bucket.includes('.')) return false;
  return /(^|\.)amazonaws\.com(\.cn)?$/.test(host) || host === 'storage.googleapis.com';
}

/** hostOf strips the port (and IPv6 brackets) from host[:port]. */
function hostOf(endpoint: string): string {
  if (endpoint.startsWith('[')) return endpoint.slice(1, endpoint.indexOf(']'));
  const i = endpoint.lastIndexOf(':');
  return (i >= 0 ? endpoint.slice(0, i) : endpoint).toLowerCase();
}

function tlsOptions(cfg: S3Config): HttpsAgentOptions {
  const t = cfg.http.tls;
  const out: HttpsAgentOptions = { rejectUnauthorized: !(cfg.http.insecureSkipVerify || t.insecureSkipVerify) };
  try {
    if (t.caFile !== '') {
      const ca = readFileSync(t.caFile, 'utf8');
      out.ca = t.trustRootCa ? [...rootCertificates, ca] : ca;
    }
    if (t.certFile !== '') {
      out.cert = readFileSync(t.certFile);
      out.key = readFileSync(t.keyFile);
    }
  } catch (e) {
    throw fail(`http_config.tls_config: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (t.serverName !== '') out.servername = t.serverName;
  return out;
}

async function fileSlicer(path: string, name: string): Promise<SourceSlicer> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw new SluiceError(ErrorCode.Internal, `s3 upload ${name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return {
    size,
    body: (start, len) => (len === 0 ? new Uint8Array(0) : createReadStream(path, { start, end: start + len - 1 })),
    md5: async (start, len) => {
      const h = createHash('md5');
      if (len > 0) for await (const chunk of createReadStream(path, { start, end: start + len - 1 })) h.update(chunk as Buffer);
      return h.digest('base64');
    },
  };
}

/** withBody runs `fn` with a fresh body for the range and closes a file stream the request left open. */
async function withBody<T>(slicer: SourceSlicer, start: number, len: number, fn: (body: Readable | Uint8Array) => Promise<T>): Promise<T> {
  const body = slicer.body(start, len);
  try {
    return await fn(body);
  } finally {
    if (!(body instanceof Uint8Array) && !body.destroyed) body.destroy();
  }
}

function bytesSlicer(b: Uint8Array): SourceSlicer {
  return {
    size: b.length,
    body: (start, len) => b.subarray(start, start + len),
    md5: async (start, len) => createHash('md5').update(b.subarray(start, start + len)).digest('base64'),
  };
}

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** s3Error turns an SDK or network failure into the bucket's coded errors. */
function s3Error(e: unknown, op: string, name: string): SluiceError {
  if (e instanceof SluiceError) return e;
  const status = httpStatus(e);
  const ename = e instanceof Error ? e.name : '';
  const msg = e instanceof Error ? e.message || ename : String(e);
  if (ename === 'NoSuchKey' || ename === 'NotFound' || (status === 404 && ename !== 'NoSuchBucket' && ename !== 'NoSuchUpload')) {
    return new ObjectNotFoundError(name, { cause: e });
  }
  const text = `s3 ${op} ${name}: ${ename === 'NoSuchBucket' ? 'bucket does not exist' : msg}${status !== undefined ? ` (HTTP ${status})` : ''}`;
  const retryable = status === undefined || status >= 500 || status === 429 || status === 408
    || ename === 'RequestTimeout' || ename === 'SlowDown' || ename === 'TimeoutError';
  return new SluiceError(retryable ? ErrorCode.Unavailable : ErrorCode.Internal, text, { cause: e });
}
