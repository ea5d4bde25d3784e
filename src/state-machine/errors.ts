/**
 * Typed errors of the state machine. `code` is stable (the API layer maps it to a gRPC status);
 * the message is for a person; the optional fields carry what a program needs to recover
 * (e.g. the compacted revision to restart a watch from).
 */

export const StateMachineErrorCode = {
  /** A malformed request: empty key, negative revision, bad option. Maps to INVALID_ARGUMENT. */
  InvalidArgument: 'INVALID_ARGUMENT',
  /** A txn branch writes the same key twice (or puts a key its own delete covers). */
  DuplicateKey: 'DUPLICATE_KEY',
  /** The requested revision's history was compacted away. Carries `compactRevision`. */
  Compacted: 'COMPACTED',
  /** The requested revision has not happened yet. Carries `currentRevision`. */
  FutureRevision: 'FUTURE_REVISION',
  /** A command's bytes are not a valid encoding (truncated, unknown tag, bad UTF-8, trailing bytes). */
  CorruptCommand: 'CORRUPT_COMMAND',
  /** A well-formed command of a kind this version reserves but does not implement yet. */
  UnsupportedCommand: 'UNSUPPORTED_COMMAND',
  /** A snapshot image failed its checksum or structural checks; nothing was restored. */
  CorruptSnapshot: 'CORRUPT_SNAPSHOT',
  /** apply() was given a log index at or below the one already applied. */
  AlreadyApplied: 'ALREADY_APPLIED',
  /** A watcher's queue outgrew its bound because its consumer did not take events fast enough. */
  WatcherTooSlow: 'WATCHER_TOO_SLOW',
  /** The watcher was cancelled by its owner. */
  WatchCancelled: 'WATCH_CANCELLED',
  /** The state was replaced by an older snapshot, so a live watcher's position no longer exists. */
  StateRestored: 'STATE_RESTORED',
  /** A watch listener threw; the watcher was cancelled so the apply loop stays healthy. */
  ListenerFailed: 'LISTENER_FAILED',
  /** A bug in the state machine itself (an invariant broke). */
  Internal: 'INTERNAL',
  /** A command names a session that is not open (never opened, closed or expired). Carries `sessionId`. */
  SessionNotFound: 'SESSION_NOT_FOUND',
  /** openSession with a chosen id that an open session already has. Carries `sessionId`. */
  SessionExists: 'SESSION_EXISTS',
  /** A put with ignoreValue / ignoreSession names a key that does not exist. Carries `key`. */
  KeyNotFound: 'KEY_NOT_FOUND',
  /** A tree path is malformed (not absolute, empty / `.` / `..` segment, trailing `/`, NUL, or `/`). Carries `key`. */
  InvalidPath: 'INVALID_PATH',
  /** create: the parent node does not exist and `parents` was not set. `key` is the missing parent. */
  NoParent: 'NO_PARENT',
  /** create: the parent is ephemeral (owned by a session), and ephemeral nodes have no children. `key` is the parent. */
  EphemeralParent: 'EPHEMERAL_PARENT',
  /** create: a node already exists at the path. Carries `key`. */
  NodeExists: 'NODE_EXISTS',
  /** deleteNode: no node exists at the path. Carries `key`. */
  NoNode: 'NO_NODE',
  /** deleteNode: the node's version differs from `expectedVersion`. Carries `key`. */
  BadVersion: 'BAD_VERSION',
  /** deleteNode: the node has children (keys under `path/`). Carries `key`. */
  NotEmpty: 'NOT_EMPTY',
} as const;
export type StateMachineErrorCode = (typeof StateMachineErrorCode)[keyof typeof StateMachineErrorCode];

export interface StateMachineErrorDetails {
  readonly key?: string;
  readonly requestedRevision?: number;
  readonly compactRevision?: number;
  readonly currentRevision?: number;
  readonly sessionId?: number;
}

export class StateMachineError extends Error {
  override readonly name = 'StateMachineError';
  readonly code: StateMachineErrorCode;
  readonly key?: string;
  readonly requestedRevision?: number;
  readonly compactRevision?: number;
  readonly currentRevision?: number;
  readonly sessionId?: number;

  constructor(code: StateMachineErrorCode, message: string, details: StateMachineErrorDetails = {}) {
    super(message);
    this.code = code;
    if (details.key !== undefined) this.key = details.key;
    if (details.requestedRevision !== undefined) this.requestedRevision = details.requestedRevision;
    if (details.compactRevision !== undefined) this.compactRevision = details.compactRevision;
    if (details.currentRevision !== undefined) this.currentRevision = details.currentRevision;
    if (details.sessionId !== undefined) this.sessionId = details.sessionId;
  }
}

export function isStateMachineError(error: unknown): error is StateMachineError {
  return error instanceof StateMachineError;
}

export function invalidArgument(message: string, key?: string): StateMachineError {
  return new StateMachineError(
    StateMachineErrorCode.InvalidArgument,
    message,
    key === undefined ? {} : { key },
  );
}

export function compactedError(requestedRevision: number, compactRevision: number): StateMachineError {
  return new StateMachineError(
    StateMachineErrorCode.Compacted,
    `revision ${requestedRevision} has been compacted; the oldest available revision is ${compactRevision}`,
    { requestedRevision, compactRevision },
  );
}

export function futureRevisionError(requestedRevision: number, currentRevision: number): StateMachineError {
  return new StateMachineError(
    StateMachineErrorCode.FutureRevision,
    `revision ${requestedRevision} is in the future; the current revision is ${currentRevision}`,
    { requestedRevision, currentRevision },
  );
}

export function sessionNotFound(sessionId: number, action: string): StateMachineError {
  return new StateMachineError(
    StateMachineErrorCode.SessionNotFound,
    `${action}: session ${sessionId} does not exist (it was never opened, or it was closed or expired)`,
    { sessionId },
  );
}

export function sessionExists(sessionId: number): StateMachineError {
  return new StateMachineError(
    StateMachineErrorCode.SessionExists,
    `cannot open session ${sessionId}: a session with that id is already open (choose another id, or omit it)`,
    { sessionId },
  );
}

export function keyNotFound(key: string): StateMachineError {
  return new StateMachineError(
    StateMachineErrorCode.KeyNotFound,
    `cannot keep the current value or owner of "${key}": the key does not exist`,
    { key },
  );
}

export function invalidPath(path: string, why: string): StateMachineError {
  return new StateMachineError(
    StateMachineErrorCode.InvalidPath,
    `invalid path ${JSON.stringify(path)}: ${why}`,
    { key: path },
  );
}

/** Wraps anything thrown into a StateMachineError; a non-typed throw is a bug, reported as INTERNAL. */
export function toStateMachineError(error: unknown): StateMachineError {
  if (error instanceof StateMachineError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new StateMachineError(StateMachineErrorCode.Internal, `internal state machine error: ${detail}`);
}
