/**
 * Runs one validated command against the store. Throws a typed error (before any write) when the
 * command cannot apply to the current state, e.g. compacting a revision that does not exist yet.
 */
import type { MvccStore } from './mvcc-store.js';
import { deleteKeys, deleteResult, executeTxn, liveKeysWithPrefix } from './txn.js';
import type { Command, CommandResult, KeyChange } from './types.js';

export interface Execution {
  readonly result: CommandResult;
  /** The changes committed at `result.revision`, for the watch hub; empty when nothing was written. */
  readonly changes: readonly KeyChange[];
}

const NO_CHANGES: readonly KeyChange[] = [];

export function executeCommand(store: MvccStore, command: Command): Execution {
  switch (command.type) {
    case 'put': {
      const batch = store.beginWrite();
      const previous = batch.put(command.key, command.value);
      const changes = batch.commit();
      const result =
        command.prevKv === true && previous !== undefined
          ? { type: 'put' as const, revision: store.revision, prevKv: previous }
          : { type: 'put' as const, revision: store.revision };
      return { result, changes };
    }
    case 'delete':
    case 'deleteRange': {
      // A deleteRange's keys are gathered before the batch opens: deleting never moves a key.
      const keys = command.type === 'delete' ? [command.key] : liveKeysWithPrefix(store, command.prefix);
      const batch = store.beginWrite();
      const deleted = deleteKeys(batch, keys);
      const changes = batch.commit();
      return {
        result: deleteResult(command.type, store.revision, deleted, command.prevKv === true),
        changes,
      };
    }
    case 'txn':
      return executeTxn(store, command);
    case 'compact':
      store.compact(command.revision);
      return {
        result: { type: 'compact', revision: store.revision, compactRevision: store.compactRevision },
        changes: NO_CHANGES,
      };
    case 'noop':
      return { result: { type: 'noop', revision: store.revision }, changes: NO_CHANGES };
  }
}
