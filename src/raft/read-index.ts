import { quorumSize } from './quorum.js';
import type { NodeId } from './types.js';

/** Request ids, with the node that asked (this node, or a follower that forwarded them). */
export interface ReadRequest {
  readonly origin: NodeId;
  readonly ids: readonly string[];
}

/** Read requests waiting for one heartbeat round to confirm the leader is still the leader. */
interface PendingRound {
  readonly context: number;
  /** The commit index when the round started, after its requests arrived: the reads must see at least this. */
  readonly index: number;
  readonly requests: readonly ReadRequest[];
  readonly acks: Set<NodeId>;
}

/**
 * ReadIndex (Raft thesis §6.4): the leader records its commit index, then confirms with a
 * heartbeat round to a quorum that no newer leader exists. Rounds complete in order: an ack of
 * a later round also confirms every earlier one.
 */
export class ReadIndexQueue {
  private rounds: PendingRound[] = [];
  private lastContext = 0;

  /** Start a round; returns the context to put in the heartbeats. */
  add(requests: readonly ReadRequest[], commitIndex: number): number {
    const context = ++this.lastContext;
    this.rounds.push({ context, index: commitIndex, requests, acks: new Set() });
    return context;
  }

  /** The newest round still waiting, whose ack would confirm them all; 0 when none waits. */
  get newestContext(): number {
    return this.rounds.length === 0 ? 0 : this.rounds[this.rounds.length - 1]!.context;
  }

  /**
   * Record an ack from a voter (or from the leader itself). Returns the rounds confirmed by it,
   * oldest first, removing them from the queue.
   */
  ack(context: number, from: NodeId, voters: readonly NodeId[], self: NodeId): PendingRound[] {
    const round = this.rounds.find((r) => r.context === context);
    if (!round) return [];
    round.acks.add(from);
    round.acks.add(self);
    let count = 0;
    for (const v of voters) if (round.acks.has(v)) count++;
    if (count < quorumSize(voters.length)) return [];
    const position = this.rounds.indexOf(round);
    return this.rounds.splice(0, position + 1);
  }

  /** Drop everything (leadership lost: the rounds can never be confirmed). */
  clear(): PendingRound[] {
    const dropped = this.rounds;
    this.rounds = [];
    return dropped;
  }

  get size(): number {
    return this.rounds.length;
  }
}
