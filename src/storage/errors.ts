/**
 * Typed storage errors. Callers branch on `code` (stable), never on the message (for people).
 */

export type StorageErrorCode =
  | 'STORAGE_CORRUPT'
  | 'STORAGE_UNSUPPORTED_FORMAT'
  | 'STORAGE_LOCKED'
  | 'STORAGE_INVALID_WRITE'
  | 'STORAGE_CLOSED'
  | 'STORAGE_FAILED';

export abstract class StorageError extends Error {
  abstract readonly code: StorageErrorCode;
}

/** Which kind of record a corruption was found in. */
export type StorageRecordKind =
  'formatMarker' | 'hardState' | 'snapshotMeta' | 'snapshotChunk' | 'entry' | 'log';

/**
 * What is on disk cannot be trusted: a checksum mismatch, a malformed record, a gap in the log,
 * a missing snapshot chunk. Never "repaired" silently: the node must not start from it (restore
 * the member from a peer instead).
 */
export class StorageCorruptionError extends StorageError {
  readonly code = 'STORAGE_CORRUPT' as const;
  readonly record: StorageRecordKind;
  /** The LevelDB key of the offending record, hex, when there is one. */
  readonly keyHex: string | null;
  /** The log index (entries) or chunk number (snapshot chunks) concerned, when there is one. */
  readonly position: number | null;

  constructor(record: StorageRecordKind, detail: string, where: { keyHex?: string; position?: number } = {}) {
    const position =
      where.position === undefined
        ? ''
        : ` ${record === 'snapshotChunk' ? 'chunk' : 'index'} ${where.position}`;
    const key = where.keyHex === undefined ? '' : ` (key 0x${where.keyHex})`;
    super(`Storage is corrupt: ${record} record${position}${key}: ${detail}`);
    this.name = 'StorageCorruptionError';
    this.record = record;
    this.keyHex = where.keyHex ?? null;
    this.position = where.position ?? null;
  }
}

/** The directory holds a raftree store written in a format version this build does not read. */
export class StorageUnsupportedFormatError extends StorageError {
  readonly code = 'STORAGE_UNSUPPORTED_FORMAT' as const;
  constructor(dir: string, found: number, supported: number) {
    super(
      `Storage at ${dir} uses format version ${found}; this build reads version ${supported}. Upgrade raftree or use another data directory.`,
    );
    this.name = 'StorageUnsupportedFormatError';
  }
}

/** Another process (or another open handle in this process) holds the store's lock. */
export class StorageLockedError extends StorageError {
  readonly code = 'STORAGE_LOCKED' as const;
  readonly dir: string;
  constructor(dir: string, options?: { cause?: unknown }) {
    super(
      `Storage directory ${dir} is already in use (its LevelDB LOCK is held). ` +
        'Another raftree node, or another open handle in this process, is using it: stop that node, ' +
        'or give this node a data directory of its own.',
      options,
    );
    this.name = 'StorageLockedError';
    this.dir = dir;
  }
}

/**
 * The caller asked for a write that would break the storage contract (a gap in the log, an
 * out-of-date snapshot, a non-integer index...). Nothing was written. This is a bug in the caller.
 */
export class StorageInvalidWriteError extends StorageError {
  readonly code = 'STORAGE_INVALID_WRITE' as const;
  constructor(detail: string) {
    super(`Invalid storage write: ${detail}`);
    this.name = 'StorageInvalidWriteError';
  }
}

export class StorageClosedError extends StorageError {
  readonly code = 'STORAGE_CLOSED' as const;
  constructor(operation: string) {
    super(`Storage is closed; cannot ${operation}.`);
    this.name = 'StorageClosedError';
  }
}

/**
 * An earlier write failed (I/O error, disk full). Whether it reached the disk is unknown, so the
 * in-memory view may be wrong: the store refuses further work until reopened (fail-stop, as etcd
 * does on a failed fsync).
 */
export class StorageFailedError extends StorageError {
  readonly code = 'STORAGE_FAILED' as const;
  constructor(operation: string, options: { cause: unknown }) {
    super(
      `Storage refused to ${operation}: an earlier write failed (${describeCause(options.cause)}); reopen the store to recover from what is on disk.`,
      options,
    );
    this.name = 'StorageFailedError';
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

export function isStorageError(error: unknown): error is StorageError {
  return error instanceof StorageError;
}
