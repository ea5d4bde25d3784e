/**
 * The client's one error type. `code` is the gRPC status name, so callers can switch on the
 * same vocabulary the server uses; `outcomeUnknown` marks the one case a caller must think
 * about: a write that may or may not have been applied.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';

export type RaftreeErrorCode =
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

export interface RaftreeErrorInit {
  readonly code: RaftreeErrorCode;
  /** What the server (or the transport) said, verbatim. */
  readonly details: string;
  /** What the caller asked for, e.g. "put /a". */
  readonly operation: string;
  /** The endpoint that failed last, when one was reached or tried. */
  readonly endpoint?: string;
  /** A write that may have been applied: it reached a server and no answer proves otherwise. */
  readonly outcomeUnknown?: boolean;
  /** The request never left this process (every connection attempt failed). */
  readonly notSent?: boolean;
  /** The server's machine-readable trailers (raftree-*), e.g. raftree-compact-revision. */
  readonly trailers?: Readonly<Record<string, string>>;
}

export class RaftreeError extends Error {
  override readonly name: string = 'RaftreeError';
  readonly code: RaftreeErrorCode;
  readonly details: string;
  readonly operation: string;
  readonly endpoint: string | undefined;
  readonly outcomeUnknown: boolean;
  readonly notSent: boolean;
  readonly trailers: Readonly<Record<string, string>>;

  constructor(init: RaftreeErrorInit) {
    super(describe(init));
    this.code = init.code;
    this.details = init.details;
    this.operation = init.operation;
    this.endpoint = init.endpoint;
    this.outcomeUnknown = init.outcomeUnknown ?? false;
    this.notSent = init.notSent ?? false;
    this.trailers = init.trailers ?? {};
  }

  /** For OUT_OF_RANGE on a compacted revision: the oldest revision still readable. */
  get compactRevision(): number | undefined {
    const value = this.trailers[SERVER_TRAILERS.compactRevision];
    return value === undefined ? undefined : Number(value);
  }
}

/** Trailing metadata the server sets on its errors (see src/api/errors.ts). */
export const SERVER_TRAILERS = {
  /** Present on every error the server itself produced (as opposed to a broken connection). */
  memberId: 'raftree-member-id',
  leaderId: 'raftree-leader-id',
  leaderAddress: 'raftree-leader-address',
  /** "unknown": the write may or may not have taken effect. */
  outcome: 'raftree-outcome',
  compactRevision: 'raftree-compact-revision',
  currentRevision: 'raftree-current-revision',
} as const;

/** A watch asked for history the cluster has compacted away; it cannot resume. */
export class WatchCompactedError extends RaftreeError {
  override readonly name = 'WatchCompactedError';
  /** The revision the watch needed next. */
  readonly requestedRevision: number;
  private readonly compactedThrough: number;

  constructor(compactRevision: number, requestedRevision: number, init: Omit<RaftreeErrorInit, 'code'>) {
    super({
      ...init,
      code: 'OUT_OF_RANGE',
      trailers: { ...init.trailers, [SERVER_TRAILERS.compactRevision]: String(compactRevision) },
    });
    this.compactedThrough = compactRevision;
    this.requestedRevision = requestedRevision;
  }

  /** The oldest revision still available: watch again from here (after re-reading state). */
  override get compactRevision(): number {
    return this.compactedThrough;
  }
}

function describe(init: RaftreeErrorInit): string {
  const where = init.endpoint !== undefined ? ` (${init.endpoint})` : '';
  const details = init.details !== '' ? `: ${init.details}` : '';
  return `${init.operation}: ${init.code}${where}${details}${hint(init)}`;
}

function hint(init: RaftreeErrorInit): string {
  if (init.outcomeUnknown) {
    return ' — outcome unknown: the write may or may not have been applied; read the key back to find out';
  }
  if (init.notSent)
    return ' — no endpoint could be reached; is the cluster running and are --endpoints right?';
  if (init.code === 'UNAVAILABLE') return ' — the cluster may have no leader (no quorum); retry shortly';
  return '';
}

const CODE_NAMES = new Map<number, RaftreeErrorCode>(
  Object.entries(GrpcStatus)
    .filter((entry): entry is [RaftreeErrorCode, number] => typeof entry[1] === 'number' && entry[0] !== 'OK')
    .map(([name, code]) => [code, name]),
);

export function codeName(code: number): RaftreeErrorCode {
  return CODE_NAMES.get(code) ?? 'UNKNOWN';
}

/** A gRPC ServiceError's shape, without depending on its class. */
export interface StatusLike {
  readonly code: number;
  readonly details: string;
  readonly metadata?: { getMap(): Record<string, unknown> };
}

/** The string-valued raftree-* trailers of a status (binary and foreign ones are dropped). */
export function serverTrailers(error: StatusLike): Record<string, string> {
  const trailers: Record<string, string> = {};
  const map = error.metadata?.getMap() ?? {};
  for (const [key, value] of Object.entries(map)) {
    if (key.startsWith('raftree-') && typeof value === 'string') trailers[key] = value;
  }
  return trailers;
}

export function isStatusLike(error: unknown): error is StatusLike {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'number' &&
    typeof (error as { details?: unknown }).details === 'string'
  );
}
