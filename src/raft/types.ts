/**
 * The Raft core's vocabulary: log entries, durable state, snapshots and the messages peers
 * exchange. These types are the contract between the pure core and everything around it
 * (storage persists them, the transport carries them, the simulator shuffles them).
 */

/** A member's stable identity, e.g. "n1". Addresses are the host's business, not the core's. */
export type NodeId = string;

export const EntryType = {
  /** Opaque application command (or the leader's empty no-op, whose data has length 0). */
  Normal: 0,
  /** A membership change; data is an encoded {@link ConfChange}. */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before this node sends a message or grants a vote. */
export interface HardState {
  readonly term: number;
  /** The candidate this node voted for in `term`, or null. */
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** The cluster configuration: who votes and who only replicates. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export const ConfChangeType = {
  AddVoter: 'addVoter',
  AddLearner: 'addLearner',
  RemoveNode: 'removeNode',
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/**
 * One membership change. `context` is carried through the log untouched (the node runtime
 * puts the new member's address there).
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  readonly context?: string;
}

export interface SnapshotMeta {
  /** The last log index the image covers. */
  readonly index: number;
  readonly term: number;
  /** The configuration as of `index`. */
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /**
   * The state machine image, opaque to the core; SNAPSHOT_DATA_IN_STORAGE in a snapshot message
   * of a node whose host had it forget the image (RaftNode.forgetSnapshotData).
   */
  readonly data: Uint8Array;
}

/**
 * Stands for a snapshot image the core no longer holds because the host keeps it in storage:
 * the host sends the stored snapshot in place of a message carrying this (compare by identity).
 */
export const SNAPSHOT_DATA_IN_STORAGE: Uint8Array = new Uint8Array(0);

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Messages between peers. Every message carries the sender's term (0 for local-only). */
interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

export interface VoteRequest extends MessageBase {
  readonly type: 'vote' | 'preVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set when the election was started by a leadership transfer (TimeoutNow). */
  readonly transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'voteResp' | 'preVoteResp';
  readonly reject: boolean;
}

export interface AppendRequest extends MessageBase {
  readonly type: 'append';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /**
   * Set on an append with no entries that only carries a higher commit index to a follower in
   * the pipeline (everything was sent to it). A follower whose log matches applies the commit
   * and does not answer: the answer would tell the leader nothing it does not know, and it was
   * about half of all appends answered under load. A follower whose log does not match still
   * answers (the reject resets the pipeline), and a lost answer to an earlier append is found
   * by the next heartbeat's answer, as before. Absent means false.
   */
  readonly commitOnly?: boolean;
}

export interface AppendResponse extends MessageBase {
  readonly type: 'appendResp';
  readonly reject: boolean;
  /**
   * On success: the highest index known to match the leader's log.
   * On reject: the prevLogIndex that was rejected.
   */
  readonly index: number;
  /** On reject: a hint for fast backtracking (follower's best guess of the last possible match). */
  readonly rejectHintIndex: number;
  readonly rejectHintTerm: number;
}

export interface HeartbeatRequest extends MessageBase {
  readonly type: 'heartbeat';
  readonly commit: number;
  /** A ReadIndex round id the follower must echo back; 0 when the heartbeat is plain. */
  readonly readContext: number;
}

export interface HeartbeatResponse extends MessageBase {
  readonly type: 'heartbeatResp';
  readonly readContext: number;
}

export interface SnapshotRequest extends MessageBase {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

export interface TimeoutNowRequest extends MessageBase {
  readonly type: 'timeoutNow';
}

/** A follower asks the leader for a read index on behalf of its clients. */
export interface ReadIndexRequest extends MessageBase {
  readonly type: 'readIndex';
  readonly requestIds: readonly string[];
}

export interface ReadIndexResponse extends MessageBase {
  readonly type: 'readIndexResp';
  readonly requestIds: readonly string[];
  /** The commit index the reads must wait for; 0 together with `reject`. */
  readonly index: number;
  readonly reject: boolean;
}

/**
 * A follower hands its clients' commands to the leader inside Raft (etcd's MsgProp), so a write
 * that reaches a follower costs one more peer message, not a second client call.
 */
export interface ProposalRequest extends MessageBase {
  readonly type: 'propose';
  /** Chosen by the follower; echoed in the answer. */
  readonly proposalId: number;
  readonly commands: readonly Uint8Array[];
}

/**
 * The leader's answer: it appended the commands at `index`, `index + 1`, ... in term `term`
 * (the message's term), or refused them all (`reject`: not leader, or a transfer is under way),
 * in which case none was appended and the follower may retry safely.
 */
export interface ProposalResponse extends MessageBase {
  readonly type: 'proposeResp';
  readonly proposalId: number;
  /** The first command's index; 0 together with `reject`. */
  readonly index: number;
  readonly reject: boolean;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotRequest
  | TimeoutNowRequest
  | ReadIndexRequest
  | ReadIndexResponse
  | ProposalRequest
  | ProposalResponse;

export type MessageType = Message['type'];

/** A linearizable read may be served once the local applied index reaches `index`. */
export interface ReadState {
  readonly requestId: string;
  readonly index: number;
}

/**
 * The leader's answer to commands this node forwarded: each sits at `index + i` with `term`
 * in the leader's log (it is ours if the entry applied there has that term), or none was
 * appended (`rejected`).
 */
export interface ProposalAck {
  readonly proposalId: number;
  readonly index: number;
  readonly term: number;
  readonly rejected: boolean;
}

/** Everything a node's persistent storage holds; the input to a restart. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous, in index order. */
  readonly entries: readonly Entry[];
}

/** What the node's role looks like now; reported in a Ready when it changed. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly term: number;
}

/**
 * One batch of work for the host, carried out in this order:
 *  1. persist `snapshot`, `entries` and `hardState` in ONE durable (fsynced) write;
 *  2. then send `messages` (they may promise what step 1 made durable);
 *  3. then restore the state machine from `snapshot` (if any) and apply `committedEntries`;
 *     serve `readStates` once the applied index reaches their index;
 *  4. then call `advance()`.
 */
export interface Ready {
  /** Present when role, leader or term changed since the last Ready. */
  readonly softState: SoftState | null;
  /** Present when it changed and must be persisted. */
  readonly hardState: HardState | null;
  /**
   * Entries to append. Any persisted entries with index >= entries[0].index are discarded
   * first (a conflicting suffix from an old leader).
   */
  readonly entries: readonly Entry[];
  /**
   * A snapshot received from the leader: it replaces the whole persisted log (every persisted
   * entry is discarded) and the state machine is restored from it before applying.
   */
  readonly snapshot: Snapshot | null;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** Answers to forwarded proposals; note them before applying `committedEntries`. */
  readonly proposalAcks: readonly ProposalAck[];
  /**
   * Whether step 1 must be fsynced: false when only the commit index changed (a commit index
   * lost in a crash is simply learned again), which keeps an fsync off the commit path.
   */
  readonly mustSync: boolean;
}

/**
 * Messages only a leader sends promise nothing about the sender's own disk, so they may leave
 * before the Ready's fsync (Raft thesis §10.2.1): the leader counts itself towards commit only
 * once its entries are durable, and its term was durable before any vote for it was granted.
 * Votes and acknowledgements must wait for the fsync.
 */
export function mayPrecedePersistence(message: Message): boolean {
  switch (message.type) {
    case 'append':
    case 'heartbeat':
    case 'snapshot':
    case 'timeoutNow':
    case 'readIndexResp':
    case 'proposeResp': // only says where the commands sit, not that anything is durable
    case 'propose':
      return true;
    default:
      return false;
  }
}
