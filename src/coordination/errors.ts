/**
 * Status mapping for the coordination commands' state-machine errors (the KV ones keep the
 * API layer's mapping), each with a hint a person can act on.
 */
import * as grpc from '@grpc/grpc-js';
import { ApiError } from '../api/errors.js';
import { fromStateMachineError, toApiError, type RequestKind } from '../api/errors.js';
import { StateMachineError } from '../state-machine/index.js';

const HINTS: Readonly<Record<string, readonly [grpc.status, string]>> = {
  SESSION_NOT_FOUND: [grpc.status.NOT_FOUND, 'open a new session (raftree session grant TTL)'],
  NODE_EXISTS: [
    grpc.status.ALREADY_EXISTS,
    'delete it first, or choose another name (or create it sequential)',
  ],
  NO_NODE: [grpc.status.NOT_FOUND, 'list its parent to see what is there (raftree ls PATH)'],
  NO_PARENT: [grpc.status.FAILED_PRECONDITION, 'or create the parent first (raftree create --parents)'],
  EPHEMERAL_PARENT: [grpc.status.FAILED_PRECONDITION, 'create the child under a persistent node instead'],
  BAD_VERSION: [grpc.status.FAILED_PRECONDITION, 'the node changed since you read it: read it again'],
  NOT_EMPTY: [grpc.status.FAILED_PRECONDITION, ''],
  INVALID_PATH: [grpc.status.INVALID_ARGUMENT, 'give an absolute path like "/app/config"'],
};

/** A state-machine error as the coordination API reports it. */
export function coordinationError(error: StateMachineError): ApiError {
  const hint = HINTS[error.code];
  if (hint === undefined) return fromStateMachineError(error);
  const [code, advice] = hint;
  return new ApiError(code, advice === '' ? error.message : `${error.message}; ${advice}`);
}

/** toApiError with the coordination codes mapped. */
export function toCoordinationApiError(error: unknown, kind: RequestKind): ApiError {
  if (error instanceof StateMachineError) return coordinationError(error);
  return toApiError(error, kind);
}

/** Runs `work`, turning coordination state-machine errors into their statuses. */
export async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StateMachineError) throw coordinationError(error);
    throw error;
  }
}

export const failedPrecondition = (message: string): ApiError =>
  new ApiError(grpc.status.FAILED_PRECONDITION, message);
export const notFound = (message: string): ApiError => new ApiError(grpc.status.NOT_FOUND, message);
