/**
 * Runs one validated command against the store and the coordination state. Throws a typed error
 * (before any write) when the command cannot apply to the current state, e.g. compacting a
 * revision that does not exist yet, or a put for a session that is not open.
 */
import type { CoordinationState } from './coordination.js';
import { sessionExists, StateMachineError, StateMachineErrorCode, sessionNotFound } from './errors.js';
import { EMPTY_VALUE, LATEST, type MvccStore } from './mvcc-store.js';
import { childPrefixOf, parentPathOf, ROOT_PATH, sequentialPath } from './paths.js';
import {
  deleteKeys,
  deleteResult,
  executeTxn,
  liveKeysInInterval,
  liveKeysWithPrefix,
  putKey,
} from './txn.js';
import type {
  CloseSessionCommand,
  Command,
  CommandResult,
  CreateCommand,
  DeleteNodeCommand,
  KeyChange,
  KeyValue,
} from './types.js';

export interface Execution {
  readonly result: CommandResult;
  /** The changes committed at `result.revision`, for the watch hub; empty when nothing was written. */
  readonly changes: readonly KeyChange[];
}

/** What a command runs against. */
export interface ExecutionContext {
  readonly store: MvccStore;
  readonly coordination: CoordinationState;
  /** The log index of the entry being applied (a new session's default id). */
  readonly index: number;
}

const NO_CHANGES: readonly KeyChange[] = [];

export function executeCommand(context: ExecutionContext, command: Command): Execution {
  const execution = dispatch(context, command);
  // Ownership follows every committed write; a closed session is forgotten only after its keys left it.
  context.coordination.track(execution.changes);
  if (command.type === 'closeSession') context.coordination.forget(command.sessionId);
  return execution;
}

/** Throws SESSION_NOT_FOUND unless `session` (when given) is open. */
export function requireOpenSession(
  coordination: CoordinationState,
  session: number | undefined,
  action: string,
): void {
  if (session !== undefined && !coordination.has(session)) throw sessionNotFound(session, action);
}

function dispatch(context: ExecutionContext, command: Command): Execution {
  const { store, coordination } = context;
  switch (command.type) {
    case 'put': {
      requireOpenSession(coordination, command.session, `cannot put "${command.key}"`);
      const batch = store.beginWrite();
      let previous: KeyValue | undefined;
      try {
        previous = putKey(store, batch, command);
      } catch (error) {
        batch.abort();
        throw error;
      }
      const changes = batch.commit();
      const result =
        command.prevKv === true && previous !== undefined
          ? { type: 'put' as const, revision: store.revision, prevKv: previous }
          : { type: 'put' as const, revision: store.revision };
      return { result, changes };
    }
    case 'delete':
    case 'deleteRange':
    case 'deleteInterval': {
      // A range's keys are gathered before the batch opens: deleting never moves a key.
      const keys =
        command.type === 'delete'
          ? [command.key]
          : command.type === 'deleteRange'
            ? liveKeysWithPrefix(store, command.prefix)
            : liveKeysInInterval(store, command.key, command.rangeEnd);
      const batch = store.beginWrite();
      const deleted = deleteKeys(batch, keys);
      const changes = batch.commit();
      return {
        result: deleteResult(command.type, store.revision, deleted, command.prevKv === true),
        changes,
      };
    }
    case 'txn':
      return executeTxn(store, command, (session, action) =>
        requireOpenSession(coordination, session, action),
      );
    case 'compact':
      store.compact(command.revision);
      return {
        result: { type: 'compact', revision: store.revision, compactRevision: store.compactRevision },
        changes: NO_CHANGES,
      };
    case 'noop':
      return { result: { type: 'noop', revision: store.revision }, changes: NO_CHANGES };
    case 'openSession': {
      const sessionId = command.sessionId ?? coordination.freeSessionId(context.index);
      if (coordination.has(sessionId)) throw sessionExists(sessionId);
      coordination.openSession(sessionId, command.ttlMs);
      return {
        result: {
          type: 'openSession',
          sessionId,
          ttlMs: command.ttlMs,
          revision: store.revision,
        },
        changes: NO_CHANGES,
      };
    }
    case 'closeSession':
      return closeSession(store, coordination, command);
    case 'checkpointSessions':
      for (const { sessionId, remainingMs } of command.sessions)
        coordination.checkpoint(sessionId, remainingMs);
      return { result: { type: 'checkpointSessions', revision: store.revision }, changes: NO_CHANGES };
    case 'create':
      return create(store, coordination, command);
    case 'deleteNode':
      return deleteNode(store, command);
  }
}

function closeSession(
  store: MvccStore,
  coordination: CoordinationState,
  command: CloseSessionCommand,
): Execution {
  const { sessionId } = command;
  if (!coordination.has(sessionId)) throw sessionNotFound(sessionId, `cannot close session ${sessionId}`);
  // Every owned key is live (ownership follows every write), so each of them is deleted here.
  const batch = store.beginWrite();
  const deleted = deleteKeys(batch, coordination.ownedKeys(sessionId));
  const changes = batch.commit();
  const deletedKeys = deleted.map((kv) => kv.key);
  return {
    result: { type: 'closeSession', sessionId, revision: store.revision, deletedKeys },
    changes,
  };
}

function describeOwner(kv: KeyValue): string {
  return `owned by session ${kv.session}`;
}

/**
 * ZooKeeper create. Checks, in order (all before any write): the session is open, the parent
 * exists (or `parents`), the node does not exist, the parent is not ephemeral.
 */
function create(store: MvccStore, coordination: CoordinationState, command: CreateCommand): Execution {
  const sequential = command.sequential === true;
  const base = command.path;
  requireOpenSession(coordination, command.session, `cannot create ${base}`);
  const parent = parentPathOf(sequential ? `${base}0` : base);

  // Walk up to the nearest existing ancestor; everything passed on the way is missing.
  const missing: string[] = [];
  let parentKv: KeyValue | undefined;
  for (let ancestor = parent; ancestor !== ROOT_PATH; ancestor = parentPathOf(ancestor)) {
    parentKv = store.visibleAt(ancestor, LATEST);
    if (parentKv !== undefined) break;
    missing.push(ancestor);
  }
  missing.reverse();
  if (missing.length > 0 && command.parents !== true) {
    throw new StateMachineError(
      StateMachineErrorCode.NoParent,
      `cannot create ${sequential ? `${base}<sequence>` : base}: parent ${parent} does not exist ` +
        `(use parents to create it)`,
      { key: parent },
    );
  }

  let path = base;
  let sequence = 0;
  if (sequential) {
    // The counter only moves forward; a name a plain put already took is skipped, not reused.
    sequence = coordination.nextSequence(parent);
    while (store.visibleAt(sequentialPath(base, sequence), LATEST) !== undefined) sequence++;
    path = sequentialPath(base, sequence);
  } else if (store.visibleAt(path, LATEST) !== undefined) {
    throw new StateMachineError(
      StateMachineErrorCode.NodeExists,
      `cannot create ${path}: it already exists`,
      {
        key: path,
      },
    );
  }

  // Only the nearest existing ancestor gains a child (the missing ones are created persistent).
  if (parentKv !== undefined && parentKv.session !== 0) {
    throw new StateMachineError(
      StateMachineErrorCode.EphemeralParent,
      `cannot create ${path}: its parent ${parentKv.key} is ephemeral (${describeOwner(parentKv)}), ` +
        `and ephemeral nodes cannot have children`,
      { key: parentKv.key, sessionId: parentKv.session },
    );
  }

  const batch = store.beginWrite();
  for (const ancestor of missing) batch.put(ancestor, EMPTY_VALUE);
  batch.put(path, command.value, command.session ?? 0);
  const changes = batch.commit();
  if (sequential) coordination.useSequence(parent, sequence);
  return {
    result: { type: 'create', path, revision: store.revision, createRevision: store.revision },
    changes,
  };
}

/** ZooKeeper delete. Checks, in order: the node exists, its version matches, it has no children. */
function deleteNode(store: MvccStore, command: DeleteNodeCommand): Execution {
  const { path, expectedVersion } = command;
  const kv = store.visibleAt(path, LATEST);
  if (kv === undefined) {
    throw new StateMachineError(StateMachineErrorCode.NoNode, `cannot delete ${path}: it does not exist`, {
      key: path,
    });
  }
  if (expectedVersion !== undefined && kv.version !== expectedVersion) {
    throw new StateMachineError(
      StateMachineErrorCode.BadVersion,
      `cannot delete ${path}: its version is ${kv.version}, not the expected ${expectedVersion}`,
      { key: path },
    );
  }
  const child = firstLiveKeyUnder(store, childPrefixOf(path));
  if (child !== undefined) {
    throw new StateMachineError(
      StateMachineErrorCode.NotEmpty,
      `cannot delete ${path}: it has children (e.g. ${child}); delete them first`,
      { key: path },
    );
  }
  const batch = store.beginWrite();
  batch.delete(path);
  const changes = batch.commit();
  return { result: { type: 'deleteNode', revision: store.revision }, changes };
}

function firstLiveKeyUnder(store: MvccStore, prefix: string): string | undefined {
  for (const cursor = store.seek(prefix); cursor.valid && cursor.key.startsWith(prefix); cursor.next()) {
    if (store.visibleAt(cursor.key, LATEST) !== undefined) return cursor.key;
  }
  return undefined;
}
