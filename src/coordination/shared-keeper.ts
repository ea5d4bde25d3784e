/**
 * The node's one SessionKeeper, shared by every API that serves sessions: the native
 * coordination API (Session, Tree, Election) and the etcd Lease API. Each extension acquires it
 * when it attaches and releases it when it stops; the keeper runs while anyone holds it.
 *
 * Why one per node: a keeper decides expiry from the keep-alives *it* saw. Two keepers on one
 * leader would each expire the sessions kept alive only through the other API (and checkpoint
 * twice). Keyed by the node, so any composition of extensions gets exactly one, whichever
 * attaches first and without wiring between them.
 */
import type { RaftreeNode } from '../node/raftree-node.js';
import { SessionKeeper, type SessionKeeperOptions } from './session-keeper.js';

/** What an extension may tune (the replica and logger come from the node). */
export type SessionKeeperTuning = Omit<SessionKeeperOptions, 'replica' | 'logger'>;

export interface SessionKeeperHandle {
  readonly keeper: SessionKeeper;
  /** Gives the keeper back; the last release stops it. Idempotent. */
  release(): void;
}

interface Shared {
  readonly keeper: SessionKeeper;
  users: number;
}

const shared = new WeakMap<RaftreeNode, Shared>();

/**
 * The keeper of `node`, started by the first caller. Only that first caller's tuning applies:
 * a later caller that passes tuning gets an Error (at attach time, so a misconfiguration shows
 * at startup), because silently ignoring it would run with timing nobody asked for.
 */
export function acquireSessionKeeper(node: RaftreeNode, tuning?: SessionKeeperTuning): SessionKeeperHandle {
  let entry = shared.get(node);
  if (entry === undefined) {
    const keeper = new SessionKeeper({
      ...tuning,
      replica: node.replica,
      logger: node.logger.child({ module: 'sessions' }),
    });
    entry = { keeper, users: 0 };
    shared.set(node, entry);
  } else if (tuning !== undefined && Object.keys(tuning).length > 0) {
    throw new Error(
      `the session keeper of node ${node.config.id} already runs (another extension started it); ` +
        'pass session tuning to the extension that attaches first',
    );
  }
  const acquired = entry;
  acquired.users++;
  let released = false;
  return {
    keeper: acquired.keeper,
    release(): void {
      if (released) return;
      released = true;
      acquired.users--;
      if (acquired.users > 0) return;
      acquired.keeper.stop();
      if (shared.get(node) === acquired) shared.delete(node);
    },
  };
}
