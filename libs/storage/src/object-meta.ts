import { DataLossError } from '@aimaas/runtime';
import { storeError } from './store-errors.js';

/**
 * The meta record a NATS object store keeps per object on `$O.<bucket>.M.<name>`, as JSON. Same
 * layout as nats.go / nats.js and the `nats object` CLI, so either side can read the other's.
 */
export interface ServerObjectMeta {
  name: string;
  description?: string;
  headers?: Record<string, string[]>;
  options?: { max_chunk_size?: number; link?: { bucket: string; name?: string } };
  metadata?: Record<string, string>;
  bucket: string;
  nuid: string;
  size: number;
  chunks: number;
  mtime: string;
  /** `SHA-256=<base64url>` of the whole content. */
  digest: string;
  deleted?: boolean;
}

/** What the store knows about one object. */
export interface ObjectInfo {
  name: string;
  bucket: string;
  /** Content length in bytes. */
  size: number;
  /** SHA-256 of the content, lower-case hex. */
  sha256: string;
  chunks: number;
  /** When the object was written. */
  mtime: Date;
  /** The stream sequence of the meta record; changes on every put and delete. */
  revision: number;
  description: string;
  metadata: Record<string, string>;
}

const DIGEST_PREFIX = 'SHA-256=';

/** Subject of an object's meta record: the name's UTF-8 bytes in padded base64url. */
export function metaSubject(bucket: string, name: string): string {
  return `$O.${bucket}.M.${toBase64UrlPadded(Buffer.from(name, 'utf8'))}`;
}

/** Subject every chunk of one stored object (one put) is published on. */
export function chunkSubject(bucket: string, nuid: string): string {
  return `$O.${bucket}.C.${nuid}`;
}

/** The meta `digest` field for a SHA-256 value. */
export function toDigestField(sha256: Uint8Array): string {
  return DIGEST_PREFIX + toBase64UrlPadded(sha256);
}

/**
 * The lower-case hex SHA-256 in a meta `digest` field (base64url, padded or not, or hex, as the
 * NATS clients write it). An unreadable digest means the record is damaged: `DataLossError`.
 */
function sha256HexOf(meta: ServerObjectMeta): string {
  const digest = meta.digest ?? '';
  const value = digest.startsWith(DIGEST_PREFIX) ? digest.slice(DIGEST_PREFIX.length) : undefined;
  if (value !== undefined && /^[0-9a-fA-F]{64}$/.test(value)) return value.toLowerCase();
  if (value !== undefined && /^[A-Za-z0-9_\-+/]{43}=?$/.test(value)) {
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length === 32) return bytes.toString('hex');
  }
  throw storeError(
    DataLossError,
    `object "${meta.name}" in bucket "${meta.bucket}" has an unreadable digest "${digest}"`,
  );
}

/** The public view of a live meta record stored at stream sequence `revision`. */
export function toObjectInfo(meta: ServerObjectMeta, revision: number): ObjectInfo {
  return {
    name: meta.name,
    bucket: meta.bucket,
    size: meta.size,
    sha256: sha256HexOf(meta),
    chunks: meta.chunks,
    mtime: new Date(meta.mtime),
    revision,
    description: meta.description ?? '',
    metadata: meta.metadata ?? {},
  };
}

function toBase64UrlPadded(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}
