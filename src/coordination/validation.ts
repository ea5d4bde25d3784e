/**
 * Turns untrusted coordination requests into checked values and state-machine commands. Like
 * the KV API, everything is checked before proposing, so nothing invalid reaches the log.
 */
import { Buffer } from 'node:buffer';
import { invalidArgument, tooLarge } from '../api/errors.js';
import { bytes, flag, integer, text } from '../api/field-readers.js';
import { quoteKey } from '../api/validation.js';
import type { RequestLimits } from '../node/node-config.js';
import {
  MAX_SESSION_TTL_MS,
  MIN_SESSION_TTL_MS,
  pathProblem,
  StateMachineError,
  validateCommand,
  type Command,
  type CreateCommand,
  type DeleteNodeCommand,
} from '../state-machine/index.js';
import { coordinationError } from './errors.js';
import type { LeaderKeyWire } from './wire-types.js';

/** Where elections and locks keep their candidates. */
export const ELECTION_ROOT = '/_election';
export const LOCK_ROOT = '/_lock';
/** The name prefix of a candidate node (its sequence number follows). */
export const CANDIDATE_PREFIX = 'c-';

// --- Field readers --------------------------------------------------------------------------------

/** A session id that must be given (positive). */
export function toSessionId(value: unknown, what = 'session_id'): number {
  const id = integer(value, what);
  if (id <= 0) {
    throw invalidArgument(
      `${what} must be a positive session id, got ${id}; open a session first (raftree session grant TTL)`,
    );
  }
  return id;
}

/** A session id that may be 0 (none). */
function optionalSessionId(value: unknown, what: string): number {
  const id = integer(value, what);
  if (id < 0) throw invalidArgument(`${what} must not be negative (0 = none), got ${id}`);
  return id;
}

export function toTtlMs(value: unknown): number {
  const ttl = integer(value, 'ttl_ms');
  if (ttl <= 0) {
    throw invalidArgument(
      `session TTL must be positive, got ${ttl} ms; give at least ${MIN_SESSION_TTL_MS} ms (e.g. 10000 for 10 s)`,
    );
  }
  if (ttl < MIN_SESSION_TTL_MS) {
    throw invalidArgument(
      `session TTL ${ttl} ms is too short: at least ${MIN_SESSION_TTL_MS} ms, so a leader change cannot expire a live session`,
    );
  }
  if (ttl > MAX_SESSION_TTL_MS) {
    throw invalidArgument(
      `session TTL ${ttl} ms is too long: at most ${MAX_SESSION_TTL_MS} ms (1 hour); keep the session alive instead`,
    );
  }
  return ttl;
}

function checkKeySize(key: string, what: string, limits: RequestLimits): void {
  if (key.length * 3 > limits.maxKeyBytes) {
    const size = Buffer.byteLength(key, 'utf8');
    if (size > limits.maxKeyBytes) {
      throw invalidArgument(
        `${what} is ${size} bytes (UTF-8); paths may be at most ${limits.maxKeyBytes} bytes`,
      );
    }
  }
}

function checkValue(value: Uint8Array, what: string, limits: RequestLimits): void {
  if (value.length > limits.maxValueBytes) {
    throw tooLarge(`${what} is ${value.length} bytes; values may be at most ${limits.maxValueBytes} bytes`);
  }
}

/** A node path: absolute, no empty/'.'/'..' segment, no trailing '/'. */
export function toNodePath(value: unknown, what: string, limits: RequestLimits): string {
  const path = text(value, what);
  if (path.length === 0) throw invalidArgument(`${what} is empty: give an absolute path like "/app/config"`);
  checkKeySize(path, what, limits);
  return path;
}

/** The state machine's own structural checks, with the coordination codes mapped. */
export function checkCoordinationCommand(command: Command): void {
  try {
    validateCommand(command);
  } catch (error) {
    throw error instanceof StateMachineError ? coordinationError(error) : error;
  }
}

export function toCreateCommand(
  wire: {
    readonly path: unknown;
    readonly value: unknown;
    readonly sessionId: unknown;
    readonly sequential: unknown;
    readonly parents: unknown;
  },
  limits: RequestLimits,
): CreateCommand {
  const sequential = flag(wire.sequential, 'create sequential');
  const path = toNodePath(wire.path, 'create path', limits);
  const value = bytes(wire.value, 'create value');
  checkValue(value, `create value for ${quoteKey(path)}`, limits);
  const session = optionalSessionId(wire.sessionId, 'create session_id');
  const parents = flag(wire.parents, 'create parents');
  const command: CreateCommand = {
    type: 'create',
    path,
    value,
    ...(session > 0 ? { session } : {}),
    ...(sequential ? { sequential } : {}),
    ...(parents ? { parents } : {}),
  };
  checkCoordinationCommand(command);
  return command;
}

export function toDeleteNodeCommand(
  wire: { readonly path: unknown; readonly expectedVersion: unknown },
  limits: RequestLimits,
): DeleteNodeCommand {
  const path = toNodePath(wire.path, 'delete path', limits);
  const expected = integer(wire.expectedVersion, 'delete expected_version');
  if (expected < -1) {
    throw invalidArgument(
      `delete expected_version must be a version (>= 1), or -1 / 0 for any; got ${expected}`,
    );
  }
  const command: DeleteNodeCommand =
    expected > 0 ? { type: 'deleteNode', path, expectedVersion: expected } : { type: 'deleteNode', path };
  checkCoordinationCommand(command);
  return command;
}

/** A path to read (stat / children): '/' is allowed here. */
export function toReadPath(value: unknown, what: string, limits: RequestLimits): string {
  const path = toNodePath(value, what, limits);
  if (path === '/') return path;
  const problem = pathProblem(path);
  if (problem !== undefined) throw invalidArgument(`${what} ${quoteKey(path)}: ${problem}`);
  return path;
}

export function toSerializable(value: unknown): boolean {
  return flag(value, 'serializable');
}

// --- Elections and locks ---------------------------------------------------------------------------

const NAME = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** An election or lock name: one path segment of letters, digits and `_ . : @ -`. */
export function toRecipeName(value: unknown, what: string): string {
  const name = text(value, what);
  if (name.length === 0)
    throw invalidArgument(`${what} is empty: give a name like "leader" or "jobs.cleanup"`);
  if (!NAME.test(name) || name === '.' || name === '..') {
    throw invalidArgument(
      `${what} ${quoteKey(name)} may contain only letters, digits and '_', '.', ':', '@', '-' (at most 128, not '.' or '..')`,
    );
  }
  return name;
}

export function toCampaignValue(value: unknown, limits: RequestLimits): Uint8Array {
  const data = bytes(value, 'campaign value');
  checkValue(data, 'campaign value', limits);
  return data;
}

/** The directory holding an election's (or lock's) candidates. */
export function recipeDirectory(root: string, name: string): string {
  return `${root}/${name}`;
}

export interface CheckedLeaderKey {
  readonly name: string;
  readonly key: string;
  readonly sessionId: number;
  readonly fencingToken: number;
}

/** A LeaderKey the client sends back (Resign / Unlock): it must name a candidate of that election. */
export function toLeaderKey(value: unknown, root: string, what: string): CheckedLeaderKey {
  if (value === null || value === undefined || typeof value !== 'object') {
    throw invalidArgument(`${what} is missing: pass the key Campaign or Lock returned`);
  }
  const wire = value as Partial<Record<keyof LeaderKeyWire, unknown>>;
  const name = toRecipeName(wire.name, `${what} name`);
  const key = text(wire.key, `${what} key`);
  const directory = `${recipeDirectory(root, name)}/`;
  const rest = key.startsWith(directory) ? key.slice(directory.length) : '';
  if (!rest.startsWith(CANDIDATE_PREFIX) || rest.includes('/')) {
    throw invalidArgument(
      `${what} key ${quoteKey(key)} is not a candidate of ${quoteKey(name)} (expected ${directory}${CANDIDATE_PREFIX}NNNNNNNNNN)`,
    );
  }
  const fencingToken = integer(wire.fencingToken, `${what} fencing_token`);
  if (fencingToken <= 0) {
    throw invalidArgument(`${what} fencing_token must be the positive token Campaign or Lock returned`);
  }
  const sessionId = optionalSessionId(wire.sessionId, `${what} session_id`);
  return { name, key, sessionId, fencingToken };
}
