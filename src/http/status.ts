import type { RaftreeNode } from '../node/raftree-node.js';
import type { ProgressView } from '../raft/raft-node.js';
import type { NodeId, Role } from '../raft/types.js';

/** A member's replication progress as the leader tracks it. */
export interface ReplicationProgress {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressView['state'];
  readonly recentActive: boolean;
}

export interface MemberStatus {
  readonly id: NodeId;
  /** gRPC address, null when this node has not learnt it (a member added before it joined). */
  readonly address: string | null;
  readonly learner: boolean;
  /** Only on the leader. */
  readonly progress?: ReplicationProgress;
}

/** What GET /status returns. */
export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly listen: string;
  readonly members: readonly MemberStatus[];
  readonly keys: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly watchers: number;
  readonly uptimeSeconds: number;
}

export function nodeStatus(node: RaftreeNode, startedAt: number): NodeStatus {
  const raft = node.replica.status();
  const stateMachine = node.replica.stateMachine;
  const member = (id: NodeId, learner: boolean): MemberStatus => {
    const progress = raft.progress.get(id);
    return {
      id,
      address: node.addresses.get(id) ?? null,
      learner,
      ...(progress && {
        progress: {
          match: progress.match,
          next: progress.next,
          state: progress.state,
          recentActive: progress.recentActive,
        },
      }),
    };
  };
  return {
    id: raft.id,
    role: raft.role,
    term: raft.term,
    leader: raft.leader,
    commitIndex: raft.commitIndex,
    appliedIndex: raft.appliedIndex,
    lastIndex: raft.lastIndex,
    snapshotIndex: raft.snapshotIndex,
    listen: node.config.listen,
    members: [
      ...raft.conf.voters.map((id) => member(id, false)),
      ...raft.conf.learners.map((id) => member(id, true)),
    ],
    keys: stateMachine.keyCount,
    revision: stateMachine.revision,
    compactRevision: stateMachine.compactRevision,
    watchers: stateMachine.watches.watcherCount,
    uptimeSeconds: Math.round((performance.now() - startedAt) / 1000),
  };
}

export type HealthReport =
  | {
      readonly ok: true;
      readonly leader: NodeId;
      readonly appliedIndex: number;
      readonly commitIndex: number;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * Ready means: a leader is known and this node has applied everything committed when the check
 * began. Under write load the commit index runs slightly ahead of apply between two Ready
 * batches, so the check waits (briefly) for apply to catch up with the commit index it saw
 * instead of failing a perfectly healthy node.
 */
export async function checkHealth(node: RaftreeNode, maxApplyWaitMs: number): Promise<HealthReport> {
  const first = node.replica.status();
  if (first.leader === null) {
    return {
      ok: false,
      reason: `no leader known (role ${first.role}, term ${first.term}): election in progress or no quorum`,
    };
  }
  const target = first.commitIndex;
  const deadline = performance.now() + maxApplyWaitMs;
  let applied = node.replica.stateMachine.appliedIndex;
  while (applied < target && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    applied = node.replica.stateMachine.appliedIndex;
  }
  if (applied < target) {
    return { ok: false, reason: `applied index ${applied} is behind commit index ${target}` };
  }
  const leader = node.replica.leaderId;
  if (leader === null) return { ok: false, reason: 'lost the leader while waiting for apply to catch up' };
  return { ok: true, leader, appliedIndex: applied, commitIndex: target };
}
