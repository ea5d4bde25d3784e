import type { RaftNode } from '../../src/raft/raft-node.js';
import type { Entry, NodeId } from '../../src/raft/types.js';

/** A safety property was violated: the simulator stops and reports the seed. */
export class InvariantViolation extends Error {
  constructor(
    readonly property: string,
    detail: string,
  ) {
    super(`${property}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The Raft safety properties (Figure 3 of the paper), checked incrementally as the simulator
 * runs so each check costs little per event:
 * - election safety: at most one leader per term;
 * - log matching: an entry identified by (index, term) always has the same command and the
 *   same predecessor term, on every node, so equal (index, term) implies equal prefixes;
 * - leader completeness: every committed entry is in the log of every later leader;
 * - state machine safety: every node applies the same entry at the same index, in order;
 * - commit never moves backwards in durable state;
 * - linearizable reads: a read index covers every write acknowledged before the read began.
 */
export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** `${index}:${term}` -> the entry's data and the term of the entry before it. */
  private readonly entryIdentity = new Map<string, { data: Uint8Array; prevTerm: number }>();
  /** Committed index -> term, from any node's committed entries. */
  private readonly committedTerms = new Map<number, number>();
  maxCommitted = 0;
  /** Applied index -> the entry every node must apply there. */
  private readonly applied = new Map<number, Entry>();
  leadersElected = 0;

  observeRole(node: RaftNode): void {
    if (node.currentRole !== 'leader') return;
    const term = node.currentTerm;
    const known = this.leaderOfTerm.get(term);
    if (known === node.id) return;
    if (known !== undefined) {
      throw new InvariantViolation(
        'election safety',
        `${known} and ${node.id} are both leaders of term ${term}`,
      );
    }
    this.leaderOfTerm.set(term, node.id);
    this.leadersElected++;
    this.checkLeaderCompleteness(node);
  }

  private checkLeaderCompleteness(leader: RaftNode): void {
    for (let index = leader.snapshotIndex + 1; index <= this.maxCommitted; index++) {
      const committedTerm = this.committedTerms.get(index);
      if (committedTerm === undefined) continue;
      const term = leader.logTerm(index);
      if (term !== committedTerm) {
        throw new InvariantViolation(
          'leader completeness',
          `${leader.id} leads term ${leader.currentTerm} but has ${term === undefined ? 'no entry' : `term ${term}`} at committed index ${index} (committed in term ${committedTerm})`,
        );
      }
    }
  }

  /** Entries a node just made durable; `termOf` reads that node's disk after the write. */
  observePersisted(
    node: NodeId,
    entries: readonly Entry[],
    termOf: (index: number) => number | undefined,
  ): void {
    for (const e of entries) {
      const prevTerm = termOf(e.index - 1);
      if (prevTerm === undefined) {
        throw new InvariantViolation(
          'log matching',
          `${node} persisted entry ${e.index} with no predecessor on disk`,
        );
      }
      if (prevTerm > e.term) {
        throw new InvariantViolation(
          'log matching',
          `${node} entry ${e.index} has term ${e.term} after term ${prevTerm}`,
        );
      }
      const key = `${e.index}:${e.term}`;
      const seen = this.entryIdentity.get(key);
      if (!seen) {
        this.entryIdentity.set(key, { data: e.data, prevTerm });
        continue;
      }
      if (!sameBytes(seen.data, e.data)) {
        throw new InvariantViolation(
          'log matching',
          `${node} holds a different command at index ${e.index} term ${e.term}`,
        );
      }
      if (seen.prevTerm !== prevTerm) {
        throw new InvariantViolation(
          'log matching',
          `${node} entry ${e.index}/${e.term} follows term ${prevTerm}, elsewhere term ${seen.prevTerm}`,
        );
      }
    }
  }

  observeDurableCommit(node: NodeId, previous: number, next: number): void {
    if (next < previous) {
      throw new InvariantViolation(
        'commit monotonicity',
        `${node} persisted commit ${next} after ${previous}`,
      );
    }
  }

  /** A node hands `entry` to its state machine right after `appliedIndex`. */
  observeApply(node: RaftNode, appliedIndex: number, entry: Entry): void {
    if (entry.index !== appliedIndex + 1) {
      throw new InvariantViolation(
        'state machine safety',
        `${node.id} applies ${entry.index} right after ${appliedIndex}`,
      );
    }
    if (entry.index > node.commitIndex) {
      throw new InvariantViolation(
        'state machine safety',
        `${node.id} applies ${entry.index} above commit ${node.commitIndex}`,
      );
    }
    const first = this.applied.get(entry.index);
    if (!first) {
      this.applied.set(entry.index, entry);
      this.committedTerms.set(entry.index, entry.term);
      if (entry.index > this.maxCommitted) this.maxCommitted = entry.index;
      return;
    }
    if (first.term !== entry.term || !sameBytes(first.data, entry.data)) {
      throw new InvariantViolation(
        'state machine safety',
        `${node.id} applies term ${entry.term} at index ${entry.index}, another node applied term ${first.term}`,
      );
    }
  }

  /** Whether `index` was applied somewhere with this term (the proposal it identifies committed). */
  appliedTermAt(index: number): number | undefined {
    return this.applied.get(index)?.term;
  }

  observeReadIndex(node: NodeId, requestId: string, readIndex: number, ackedBeforeRead: number): void {
    if (readIndex < ackedBeforeRead) {
      throw new InvariantViolation(
        'linearizable read',
        `${node} answered read ${requestId} at index ${readIndex}, but index ${ackedBeforeRead} was acknowledged before the read began`,
      );
    }
  }
}
