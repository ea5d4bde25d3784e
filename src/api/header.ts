/** The header every response carries: which cluster, which member, what revision and term. */
import { createHash } from 'node:crypto';
import type { NodeId, SoftState } from '../raft/types.js';
import type { RaftreeNode } from '../node/raftree-node.js';
import type { ResponseHeaderWire } from './wire-types.js';

/**
 * A short stable name for the cluster: a hash of its founding members' ids, so every member
 * (and every restart) computes the same one without storing anything, and a client can notice
 * it was pointed at a different cluster.
 */
export function clusterIdOf(founders: Iterable<NodeId>): string {
  const sorted = [...founders].sort();
  return createHash('sha256').update(sorted.join('\n')).digest('hex').slice(0, 16);
}

export class HeaderFactory {
  readonly clusterId: string;
  /** Kept from role-change events: status() builds a progress map, too much for every response. */
  private term: number;
  private readonly onSoftState = (state: SoftState): void => {
    this.term = state.term;
  };

  constructor(private readonly node: RaftreeNode) {
    this.clusterId = clusterIdOf(node.config.peers.keys());
    this.term = node.replica.term;
    node.replica.on('softState', this.onSoftState);
  }

  close(): void {
    this.node.replica.off('softState', this.onSoftState);
  }

  /** The term headers carry now. */
  get raftTerm(): number {
    return this.term;
  }

  /** A header at `revision` (a write's own revision), or at the store's current revision. */
  make(revision: number = this.node.replica.stateMachine.revision): ResponseHeaderWire {
    return {
      clusterId: this.clusterId,
      memberId: this.node.config.id,
      revision,
      raftTerm: this.term,
    };
  }
}
