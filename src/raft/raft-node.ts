import { applyConfChange, decodeConfChange, encodeConfChange, validateConfChange } from './conf-change.js';
import { validateRaftConfig, type Random, type RaftConfig } from './config.js';
import { invariant, RaftError } from './errors.js';
import { Progress } from './progress.js';
import { committedIndex, tallyVotes } from './quorum.js';
import { entrySize, RaftLog } from './raft-log.js';
import { ReadIndexQueue, type ReadRequest } from './read-index.js';
import {
  ConfChangeType,
  EntryType,
  SNAPSHOT_DATA_IN_STORAGE,
  type AppendRequest,
  type AppendResponse,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type HeartbeatRequest,
  type Message,
  type NodeId,
  type PersistedState,
  type ProposalAck,
  type ProposalRequest,
  type ReadIndexRequest,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SnapshotRequest,
  type SoftState,
  type VoteRequest,
} from './types.js';

export interface RaftNodeOptions {
  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly random: Random;
  /** What storage held at startup (a fresh node passes an empty state). */
  readonly persisted: PersistedState;
  /**
   * For a brand-new cluster only: the founding voters. When storage is empty and this is
   * given, the node writes one AddVoter entry per founder at indexes 1..n (term 1), identical
   * on every founder, so the configuration lives in the log from the first entry. A node that
   * joins an existing cluster passes nothing and learns the configuration from the leader.
   */
  readonly bootstrapVoters?: readonly NodeId[];
}

export interface ProgressView {
  readonly match: number;
  readonly next: number;
  readonly state: Progress['state'];
  readonly isLearner: boolean;
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly conf: ConfState;
  readonly leadTransferee: NodeId | null;
  /** Only on the leader: each member's replication progress. */
  readonly progress: ReadonlyMap<NodeId, ProgressView>;
}

interface ProposalAccepted {
  readonly index: number;
  readonly term: number;
}

const EMPTY = new Uint8Array(0);

/**
 * The Raft protocol as a pure, synchronous state machine (in the shape of etcd's RawNode).
 *
 * Inputs: tick(), step(message), propose(data), forwardProposals(id, commands),
 * proposeConfChange(change), readIndex(ids),
 * transferLeadership(target), campaign(), compact(index, image).
 * Outputs: ready() gathers what to persist, send, apply and answer; advance() acknowledges
 * that the host carried it out. The core never performs I/O, reads a clock or draws
 * randomness except from the injected generator, so the same code runs in the deterministic
 * simulator and in the real node.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly config: RaftConfig;
  private readonly random: Random;

  private role: Role = 'follower';
  private term: number;
  private vote: NodeId | null;
  private leader: NodeId | null = null;
  private readonly log: RaftLog;

  private conf: ConfState;
  /** Configurations applied since the snapshot, so compact(index) can record the one as of index. */
  private confHistory: { index: number; conf: ConfState }[] = [];
  private readonly progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  private leadTransferee: NodeId | null = null;
  /** The log index of the newest membership change; another may be proposed once it is applied. */
  private pendingConfIndex = 0;
  private readonly readQueue = new ReadIndexQueue();
  /** Reads that arrived before this leader committed an entry of its own term. */
  private deferredReads: ReadRequest[] = [];
  /** Reads that arrived while a ReadIndex round was in flight: they share the next round. */
  private nextRoundReads: ReadRequest[] = [];
  /** Proposals appended since the last Ready: followers get them in one append each. */
  private pendingBroadcast = false;

  /** The newest snapshot this node holds (sent to followers that fell behind its log). */
  private snapshot: Snapshot | null;
  /** A snapshot received from the leader that the host has not yet persisted and restored. */
  private receivedSnapshot: Snapshot | null = null;

  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private proposalAcks: ProposalAck[] = [];
  private persistedHardState: HardState;
  private lastSoftState: SoftState;
  /** What the outstanding Ready handed out, settled by advance(). */
  private inProgress: { appliedTo: number; hardState: HardState | null; snapshot: Snapshot | null } | null =
    null;

  constructor(options: RaftNodeOptions) {
    validateRaftConfig(options.config);
    this.id = options.id;
    this.config = options.config;
    this.random = options.random;
    const { hardState, snapshot, entries } = options.persisted;
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.snapshot = snapshot;
    this.log = new RaftLog(snapshot, entries, hardState.commit);
    this.conf = snapshot?.meta.conf ?? { voters: [], learners: [] };
    this.persistedHardState = hardState;

    const isFresh = hardState.term === 0 && snapshot === null && entries.length === 0;
    if (isFresh && options.bootstrapVoters && options.bootstrapVoters.length > 0) {
      this.bootstrap(options.bootstrapVoters);
    }
    this.resetRandomizedElectionTimeout();
    this.lastSoftState = this.softState();
  }

  private bootstrap(voters: readonly NodeId[]): void {
    const founders = [...new Set(voters)].sort();
    this.term = 1;
    founders.forEach((nodeId, i) => {
      const data = encodeConfChange({ type: ConfChangeType.AddVoter, nodeId });
      this.log.appendLocal({ index: i + 1, term: 1, type: EntryType.ConfChange, data });
    });
    this.log.commitTo(founders.length);
    // Lets the first Ready persist the founding entries even though hard state moved too.
    this.persistedHardState = { term: 0, vote: null, commit: 0 };
  }

  // ---------------------------------------------------------------------------------------
  // Inputs

  /** One unit of logical time. */
  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign();
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.quorumRecentlyActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = null;
    }
    for (const [id, pr] of this.progress) {
      if (
        id !== this.id &&
        pr.state === 'snapshot' &&
        ++pr.snapshotElapsedTicks >= this.config.snapshotRetryTicks
      ) {
        pr.becomeProbe(); // the snapshot was probably lost; probing resends it
      }
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      // Carries the newest unconfirmed read round, if any: should its own heartbeats or their
      // answers have been lost, this one confirms it (and the reads waiting behind it start).
      this.broadcastHeartbeat(this.readQueue.newestContext);
    }
  }

  /** Start an election now (PreVote first when enabled). */
  campaign(): void {
    if (!this.promotable()) return;
    if (this.config.preVote) this.startElection('preCandidate', false);
    else this.startElection('candidate', false);
  }

  /** Propose a command. Only the leader accepts; the host forwards to the leader otherwise. */
  propose(data: Uint8Array): ProposalAccepted {
    this.checkCanPropose();
    return this.appendProposal(EntryType.Normal, data);
  }

  /** Propose several commands at once (group commit: one Ready persists them together). */
  proposeBatch(commands: readonly Uint8Array[]): ProposalAccepted[] {
    this.checkCanPropose();
    return commands.map((data) => this.appendProposal(EntryType.Normal, data));
  }

  /**
   * A follower hands commands to its leader (the host batches what its clients sent). The
   * leader's answer comes as a ProposalAck in a later Ready; a lost message or a leader that
   * changed leaves it unanswered, so the host gives up on the unanswered ones when the leader
   * or term changes, or after a timeout. Throws NOT_LEADER when this node leads (propose
   * instead) or knows no leader.
   */
  forwardProposals(proposalId: number, commands: readonly Uint8Array[]): void {
    if (this.role === 'leader' || this.leader === null) {
      throw new RaftError('NOT_LEADER', `node ${this.id} has no leader to forward to`, this.leader);
    }
    this.send({ type: 'propose', from: this.id, to: this.leader, term: this.term, proposalId, commands });
  }

  /** Propose one membership change; another may follow once this one is applied. */
  proposeConfChange(change: ConfChange): ProposalAccepted {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied) {
      throw new RaftError(
        'CONF_CHANGE_PENDING',
        `a membership change (index ${this.pendingConfIndex}) is still being applied; retry when it is`,
      );
    }
    validateConfChange(this.conf, change);
    const accepted = this.appendProposal(EntryType.ConfChange, encodeConfChange(change));
    this.pendingConfIndex = accepted.index;
    return accepted;
  }

  private checkCanPropose(): void {
    if (this.role !== 'leader') {
      throw new RaftError('NOT_LEADER', `node ${this.id} is not the leader`, this.leader);
    }
    if (this.leadTransferee !== null) {
      throw new RaftError(
        'TRANSFER_IN_PROGRESS',
        `leadership is being transferred to ${this.leadTransferee}; retry shortly`,
        this.leadTransferee,
      );
    }
  }

  private appendProposal(type: EntryType, data: Uint8Array): ProposalAccepted {
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.log.appendLocal(entry);
    this.pendingBroadcast = true;
    return { index: entry.index, term: entry.term };
  }

  /**
   * Ask for a linearizable read point for the given request ids. The answer comes as
   * ReadStates in a later Ready. A follower forwards to the leader; with no known leader the
   * request fails at once (the host retries).
   */
  readIndex(requestIds: readonly string[]): void {
    if (requestIds.length === 0) return;
    if (this.role === 'leader') {
      this.handleReadRequest(this.id, requestIds);
      return;
    }
    if (this.leader === null) {
      throw new RaftError('NOT_LEADER', `node ${this.id} knows no leader to confirm a read with`, null);
    }
    this.send({ type: 'readIndex', from: this.id, to: this.leader, term: this.term, requestIds });
  }

  /** Hand leadership to `target` (a voter): catch it up, then tell it to campaign at once. */
  transferLeadership(target: NodeId): void {
    if (this.role !== 'leader') {
      throw new RaftError('NOT_LEADER', `node ${this.id} is not the leader`, this.leader);
    }
    if (target === this.id) return;
    if (!this.conf.voters.includes(target)) {
      throw new RaftError('INVALID_ARGUMENT', `cannot transfer leadership to ${target}: it is not a voter`);
    }
    if (this.leadTransferee === target) return;
    this.leadTransferee = target;
    this.electionElapsed = 0; // the transfer must finish within one election timeout
    const pr = this.progress.get(target)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppend(target, true);
  }

  /**
   * Compact the log: `image` is the state machine as of applied index `index`. Returns the
   * snapshot, which the host must persist (see RaftStorage.compact).
   */
  compact(index: number, image: Uint8Array): Snapshot {
    if (index <= this.log.snapshotIndex || index > this.log.applied) {
      throw new RaftError(
        'INVALID_ARGUMENT',
        `snapshot index ${index} must be above the current snapshot (${this.log.snapshotIndex}) and applied (${this.log.applied})`,
      );
    }
    const term = this.log.term(index)!;
    const snapshot: Snapshot = { meta: { index, term, conf: this.confAt(index) }, data: image };
    this.log.compactTo(index, term);
    this.confHistory = this.confHistory.filter((c) => c.index > index);
    this.snapshot = snapshot;
    return snapshot;
  }

  /**
   * The host holds the snapshot at `index` durably and will send it from storage: the core drops
   * its copy of the image (as large as the whole state) and from then on sends snapshot messages
   * whose data is SNAPSHOT_DATA_IN_STORAGE. Ignored unless `index` is the newest snapshot's, so a
   * newer snapshot received while the host was persisting the older one keeps its image.
   */
  forgetSnapshotData(index: number): void {
    if (this.snapshot === null || this.snapshot.meta.index !== index) return;
    if (this.snapshot.data === SNAPSHOT_DATA_IN_STORAGE) return;
    this.snapshot = { meta: this.snapshot.meta, data: SNAPSHOT_DATA_IN_STORAGE };
  }

  private confAt(index: number): ConfState {
    let conf = this.snapshot?.meta.conf ?? { voters: [], learners: [] };
    for (const change of this.confHistory) {
      if (change.index <= index) conf = change.conf;
    }
    return conf;
  }

  /** Handle a message from a peer. Messages for another node or from an unknown era are dropped. */
  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;

    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // CheckQuorum lease: while we hear from a live leader, ignore disruptive candidates
        // (unless the leader itself handed over leadership).
        const inLease =
          this.config.checkQuorum &&
          this.leader !== null &&
          this.electionElapsed < this.config.electionTicks &&
          !m.transfer;
        if (inLease) return;
      }
      if (m.type === 'preVote') {
        // A PreVote does not bump our term: the candidate may never win.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // A granted PreVote carries the term we would campaign in; not a newer leader.
      } else {
        const isFromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
        this.becomeFollower(m.term, isFromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if (
        (this.config.checkQuorum || this.config.preVote) &&
        (m.type === 'append' || m.type === 'heartbeat')
      ) {
        // A stale leader (e.g. back from a partition) learns our term and steps down; without
        // this it could keep a PreVote-enabled cluster from ever electing past it.
        this.send(this.appendResponse(m.from, false, 0));
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case 'vote':
      case 'preVote':
        this.handleVoteRequest(m);
        return;
      case 'voteResp':
      case 'preVoteResp':
        this.handleVoteResponse(m.from, m.type, m.reject);
        return;
      case 'append':
        if (this.role === 'leader') return; // same term, two leaders: impossible; ignore
        this.becomeFollowerOf(m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        if (this.role === 'leader') return;
        this.becomeFollowerOf(m.from);
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        if (this.role === 'leader') return;
        this.becomeFollowerOf(m.from);
        this.handleSnapshot(m);
        return;
      case 'appendResp':
        if (this.role === 'leader') this.handleAppendResponse(m);
        return;
      case 'heartbeatResp':
        if (this.role === 'leader') this.handleHeartbeatResponse(m.from, m.readContext);
        return;
      case 'timeoutNow':
        if (this.role !== 'leader' && this.promotable()) this.startElection('candidate', true);
        return;
      case 'readIndex':
        this.handleForwardedRead(m);
        return;
      case 'readIndexResp':
        if (!m.reject) {
          for (const requestId of m.requestIds) this.readStates.push({ requestId, index: m.index });
        }
        return;
      case 'propose':
        this.handleForwardedProposals(m);
        return;
      case 'proposeResp':
        this.proposalAcks.push({
          proposalId: m.proposalId,
          index: m.index,
          term: m.term,
          rejected: m.reject,
        });
        return;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Roles

  private becomeFollower(term: number, leader: NodeId | null): void {
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    this.role = 'follower';
    this.leader = leader;
    this.resetRoleState();
  }

  /** A message from the current term's leader: follow it (and reset the election timer). */
  private becomeFollowerOf(leader: NodeId): void {
    if (this.role !== 'follower' || this.leader !== leader) this.becomeFollower(this.term, leader);
    this.electionElapsed = 0;
  }

  private resetRoleState(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes = new Map();
    this.leadTransferee = null;
    this.progress.clear();
    this.readQueue.clear();
    this.deferredReads = [];
    this.nextRoundReads = [];
    this.pendingBroadcast = false;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.config.electionTicks + this.random.int(this.config.electionTicks);
  }

  private startElection(role: 'preCandidate' | 'candidate', transfer: boolean): void {
    const electionTerm = this.term + 1;
    if (role === 'candidate') {
      this.becomeFollower(electionTerm, null); // bumps the term and clears the vote
      this.vote = this.id;
    } else {
      this.resetRoleState();
      this.leader = null;
    }
    this.role = role;
    this.votes.set(this.id, true);
    if (tallyVotes(this.conf.voters, this.votes) === 'won') {
      this.winElection(role);
      return;
    }
    const type = role === 'preCandidate' ? 'preVote' : 'vote';
    for (const voter of this.conf.voters) {
      if (voter === this.id) continue;
      this.send({
        type,
        from: this.id,
        to: voter,
        term: electionTerm,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        transfer,
      });
    }
  }

  private winElection(role: 'preCandidate' | 'candidate'): void {
    if (role === 'preCandidate') this.startElection('candidate', false);
    else this.becomeLeader();
  }

  private becomeLeader(): void {
    invariant(this.role === 'candidate', 'only a candidate becomes leader');
    this.resetRoleState();
    this.role = 'leader';
    this.leader = this.id;
    const next = this.log.lastIndex() + 1;
    for (const id of this.members()) {
      const pr = this.newProgress(id, next);
      if (id === this.id) {
        pr.match = this.log.stabled;
        pr.becomeReplicate();
      }
      pr.recentActive = true;
    }
    // Everything up to here may hold an unapplied membership change: no new one until applied.
    this.pendingConfIndex = this.log.lastIndex();
    // §5.4.2: commit a no-op of our own term; older entries commit with it, never by counting.
    this.appendProposal(EntryType.Normal, EMPTY);
  }

  private newProgress(id: NodeId, next: number): Progress {
    const pr = new Progress(
      next,
      this.conf.learners.includes(id),
      this.config.maxInflightMessages,
      this.config.maxInflightBytes,
    );
    this.progress.set(id, pr);
    return pr;
  }

  private members(): NodeId[] {
    return [...this.conf.voters, ...this.conf.learners];
  }

  /** A voter that holds no unrestored snapshot can stand for election. */
  private promotable(): boolean {
    return this.conf.voters.includes(this.id) && this.receivedSnapshot === null;
  }

  // ---------------------------------------------------------------------------------------
  // Elections

  private handleVoteRequest(m: VoteRequest): void {
    const isPreVote = m.type === 'preVote';
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (isPreVote && m.term > this.term);
    const responseType = isPreVote ? 'preVoteResp' : 'voteResp';
    if (canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) {
      // The grant carries the candidate's term; a real vote is recorded (and persisted before
      // the response leaves, by the Ready contract).
      this.send({ type: responseType, from: this.id, to: m.from, term: m.term, reject: false });
      if (!isPreVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: responseType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private handleVoteResponse(from: NodeId, type: 'voteResp' | 'preVoteResp', reject: boolean): void {
    const expected =
      this.role === 'preCandidate' ? 'preVoteResp' : this.role === 'candidate' ? 'voteResp' : null;
    if (type !== expected) return;
    this.votes.set(from, !reject);
    const result = tallyVotes(this.conf.voters, this.votes);
    if (result === 'won') this.winElection(this.role as 'preCandidate' | 'candidate');
    else if (result === 'lost') this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------------------------------
  // Replication: follower side

  private appendResponse(
    to: NodeId,
    reject: boolean,
    index: number,
    hint = { index: 0, term: 0 },
  ): AppendResponse {
    return {
      type: 'appendResp',
      from: this.id,
      to,
      term: this.term,
      reject,
      index,
      rejectHintIndex: hint.index,
      rejectHintTerm: hint.term,
    };
  }

  private handleAppend(m: AppendRequest): void {
    if (m.prevLogIndex < this.log.committed) {
      // Everything up to our commit already matches; tell the leader where we are.
      this.send(this.appendResponse(m.from, false, this.log.committed));
      return;
    }
    if (this.log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
      const lastNew = this.log.appendFromLeader(m.prevLogIndex, m.entries);
      this.log.commitTo(Math.min(m.commit, lastNew));
      if (m.commitOnly === true && m.entries.length === 0) return; // see AppendRequest.commitOnly
      this.send(this.appendResponse(m.from, false, lastNew));
      return;
    }
    // Fast backtracking: point the leader at the last entry that could possibly match, skipping
    // whole terms of our log that cannot.
    const hint = this.log.findConflictByTerm(Math.min(m.prevLogIndex, this.log.lastIndex()), m.prevLogTerm);
    this.send(this.appendResponse(m.from, true, m.prevLogIndex, hint));
  }

  private handleHeartbeat(m: HeartbeatRequest): void {
    // The leader sends min(commit, our match), so this never points past our log.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({
      type: 'heartbeatResp',
      from: this.id,
      to: m.from,
      term: this.term,
      readContext: m.readContext,
    });
  }

  private handleSnapshot(m: SnapshotRequest): void {
    const { meta } = m.snapshot;
    if (meta.index <= this.log.committed) {
      this.send(this.appendResponse(m.from, false, this.log.committed));
      return;
    }
    if (this.log.matchTerm(meta.index, meta.term)) {
      // Our log already holds the snapshot's last entry: just move the commit point.
      this.log.commitTo(meta.index);
      this.send(this.appendResponse(m.from, false, meta.index));
      return;
    }
    this.log.restore(m.snapshot);
    this.snapshot = m.snapshot;
    this.receivedSnapshot = m.snapshot;
    this.conf = meta.conf;
    this.confHistory = [];
    if (this.inProgress) {
      // The outstanding Ready's entries below the snapshot are superseded by it.
      this.inProgress = { ...this.inProgress, appliedTo: Math.min(this.inProgress.appliedTo, meta.index) };
    }
    this.send(this.appendResponse(m.from, false, meta.index));
  }

  // ---------------------------------------------------------------------------------------
  // Replication: leader side

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      let matchHint = m.rejectHintIndex;
      if (m.rejectHintTerm > 0) {
        // Skip every entry of ours whose term is above the follower's term at the hint.
        matchHint = this.log.findConflictByTerm(m.rejectHintIndex, m.rejectHintTerm).index;
      }
      if (pr.maybeDecreaseTo(m.index, matchHint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, false);
      }
      return;
    }
    const updated = pr.maybeUpdate(m.index);
    // A probe answered at exactly our match also means the follower is ready for the pipeline.
    if (!updated && !(pr.state === 'probe' && pr.match === m.index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
    else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) {
      this.broadcastAppend();
    } else {
      // Keep the pipeline full.
      while (this.sendAppend(m.from, false)) {
        /* send until paused or caught up */
      }
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(from: NodeId, readContext: number): void {
    const pr = this.progress.get(from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.match < this.log.lastIndex()) {
      if (pr.state === 'replicate' && (pr.inflights.full() || pr.next > this.log.lastIndex())) {
        // Appends in flight may all have been lost. An empty append at `next` makes the
        // follower either confirm or reject, which resets the pipeline either way.
        this.sendEmptyAppend(from, pr);
      } else {
        this.sendAppend(from, true);
      }
    }
    if (readContext > 0 && !pr.isLearner) this.confirmReads(readContext, from);
  }

  /** Advance the commit index to what a quorum matched, but only through a current-term entry. */
  private maybeCommit(): boolean {
    const index = committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0);
    // §5.4.2 (Figure 8): never commit an older term's entry by counting replicas.
    if (index > this.log.committed && this.log.term(index) === this.term) {
      const hadOwnCommit = this.committedInCurrentTerm();
      this.log.commitTo(index);
      if (!hadOwnCommit) this.releaseDeferredReads();
      return true;
    }
    return false;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) {
      if (id !== this.id) this.sendAppend(id, true);
    }
  }

  /**
   * Send the next append to `to` if its progress allows. Returns true when a message with
   * entries went out. Falls back to a snapshot when the needed entries were compacted away.
   */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevLogIndex = pr.next - 1;
    const prevLogTerm = this.log.term(prevLogIndex);
    if (prevLogTerm === undefined) return this.sendSnapshot(to, pr);
    const entries = this.log.slice(pr.next, this.log.lastIndex(), this.config.maxAppendBytes);
    if (entries.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of entries) bytes += entrySize(e);
    this.send({
      type: 'append',
      from: this.id,
      to,
      term: this.term,
      prevLogIndex,
      prevLogTerm,
      entries,
      commit: this.log.committed,
      // A probe's empty append must be answered; in the pipeline it only moves the commit index.
      commitOnly: entries.length === 0 && pr.state === 'replicate',
    });
    const last = entries.length > 0 ? entries[entries.length - 1]!.index : prevLogIndex;
    pr.sentEntries(entries.length, last, bytes);
    return entries.length > 0;
  }

  private sendEmptyAppend(to: NodeId, pr: Progress): void {
    const prevLogIndex = pr.next - 1;
    const prevLogTerm = this.log.term(prevLogIndex);
    if (prevLogTerm === undefined) {
      // What the follower needs next was compacted away: probing falls back to a snapshot.
      pr.becomeProbe();
      this.sendAppend(to, true);
      return;
    }
    this.send({
      type: 'append',
      from: this.id,
      to,
      term: this.term,
      prevLogIndex,
      prevLogTerm,
      entries: [],
      commit: this.log.committed,
    });
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    invariant(this.snapshot !== null, 'entries were compacted but no snapshot exists');
    this.send({ type: 'snapshot', from: this.id, to, term: this.term, snapshot: this.snapshot });
    pr.becomeSnapshot(this.snapshot.meta.index);
    return false;
  }

  private broadcastHeartbeat(readContext: number): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send({
        type: 'heartbeat',
        from: this.id,
        to: id,
        term: this.term,
        commit: Math.min(pr.match, this.log.committed),
        readContext,
      });
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeoutNow', from: this.id, to, term: this.term });
  }

  private quorumRecentlyActive(): boolean {
    let active = 0;
    for (const id of this.conf.voters) {
      const pr = this.progress.get(id);
      if (id === this.id || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return active >= Math.floor(this.conf.voters.length / 2) + 1;
  }

  // ---------------------------------------------------------------------------------------
  // Linearizable reads

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private handleForwardedRead(m: ReadIndexRequest): void {
    if (this.role !== 'leader') {
      this.send({
        type: 'readIndexResp',
        from: this.id,
        to: m.from,
        term: this.term,
        requestIds: m.requestIds,
        index: 0,
        reject: true,
      });
      return;
    }
    this.handleReadRequest(m.from, m.requestIds);
  }

  private handleForwardedProposals(m: ProposalRequest): void {
    // Forwarded at most once: a node that does not lead (any more) refuses, and the follower
    // learns the new leader from its heartbeats and may retry, as nothing was appended.
    const accepted = this.role === 'leader' && this.leadTransferee === null && m.commands.length > 0;
    const first = accepted ? this.proposeBatch(m.commands)[0]!.index : 0;
    this.send({
      type: 'proposeResp',
      from: this.id,
      to: m.from,
      term: this.term,
      proposalId: m.proposalId,
      index: first,
      reject: !accepted,
    });
  }

  private handleReadRequest(origin: NodeId, ids: readonly string[]): void {
    // Until an entry of this term commits, our commit index may lag the true one (§6.4).
    if (!this.committedInCurrentTerm()) {
      this.deferredReads.push({ origin, ids });
      return;
    }
    if (this.isSoleVoter()) {
      this.answerRead(origin, ids, this.log.committed);
      return;
    }
    this.nextRoundReads.push({ origin, ids });
    this.maybeStartReadRound();
  }

  private isSoleVoter(): boolean {
    return this.conf.voters.length === 1 && this.conf.voters[0] === this.id;
  }

  /**
   * Starts one heartbeat round for every read waiting, unless a round is in flight: reads
   * arriving meanwhile wait for it to be confirmed and then share the next one (they may not
   * join the one in flight, whose commit index was recorded before they arrived). Under load
   * that is one round per round trip instead of one per batch of arrivals.
   */
  private maybeStartReadRound(): void {
    if (this.readQueue.size > 0 || this.nextRoundReads.length === 0) return;
    const requests = this.nextRoundReads;
    this.nextRoundReads = [];
    this.broadcastHeartbeat(this.readQueue.add(requests, this.log.committed));
  }

  /** All in one round: the first must not take a round of its own ahead of the others. */
  private releaseDeferredReads(): void {
    const deferred = this.deferredReads;
    this.deferredReads = [];
    if (this.isSoleVoter()) {
      for (const { origin, ids } of deferred) this.answerRead(origin, ids, this.log.committed);
      return;
    }
    this.nextRoundReads.push(...deferred);
    this.maybeStartReadRound();
  }

  private confirmReads(context: number, from: NodeId): void {
    for (const round of this.readQueue.ack(context, from, this.conf.voters, this.id)) {
      for (const request of round.requests) this.answerRead(request.origin, request.ids, round.index);
    }
    this.maybeStartReadRound();
  }

  private answerRead(origin: NodeId, ids: readonly string[], index: number): void {
    if (origin === this.id) {
      for (const requestId of ids) this.readStates.push({ requestId, index });
    } else {
      this.send({
        type: 'readIndexResp',
        from: this.id,
        to: origin,
        term: this.term,
        requestIds: ids,
        index,
        reject: false,
      });
    }
  }

  // ---------------------------------------------------------------------------------------
  // Ready / advance

  private send(m: Message): void {
    this.messages.push(m);
  }

  private softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private hardStateChanged(): boolean {
    const p = this.persistedHardState;
    return p.term !== this.term || p.vote !== this.vote || p.commit !== this.log.committed;
  }

  /** Index of the last entry that may be handed to the state machine. */
  private applyLimit(): number {
    return this.log.committed;
  }

  hasReady(): boolean {
    if (this.inProgress) return false;
    const s = this.lastSoftState;
    return (
      this.pendingBroadcast ||
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.proposalAcks.length > 0 ||
      this.receivedSnapshot !== null ||
      this.log.stabled < this.log.lastIndex() ||
      this.applyLimit() > this.log.applied ||
      this.hardStateChanged() ||
      s.role !== this.role ||
      s.leader !== this.leader ||
      s.term !== this.term
    );
  }

  /** Collect the next batch of work. Call advance() after carrying it out, before the next ready(). */
  ready(): Ready {
    invariant(this.inProgress === null, 'ready() called again before advance()');
    if (this.pendingBroadcast) {
      this.pendingBroadcast = false;
      if (this.role === 'leader') this.broadcastAppend();
    }
    const soft = this.softState();
    const s = this.lastSoftState;
    const softChanged = s.role !== soft.role || s.leader !== soft.leader || s.term !== soft.term;
    this.lastSoftState = soft;

    const hardState = this.hardStateChanged() ? this.hardState() : null;
    const entries = this.log.takeUnstable();
    const snapshot = this.receivedSnapshot;
    const applyFrom = Math.max(this.log.applied, snapshot?.meta.index ?? 0) + 1;
    const committedEntries = this.log.slice(applyFrom, this.applyLimit());
    const durable = this.persistedHardState;
    const mustSync =
      entries.length > 0 ||
      snapshot !== null ||
      (hardState !== null && (hardState.term !== durable.term || hardState.vote !== durable.vote));
    const ready: Ready = {
      mustSync,
      softState: softChanged ? soft : null,
      hardState,
      entries,
      snapshot,
      messages: this.messages,
      committedEntries,
      readStates: this.readStates,
      proposalAcks: this.proposalAcks,
    };
    this.messages = [];
    this.readStates = [];
    this.proposalAcks = [];
    this.inProgress = {
      appliedTo:
        committedEntries.length > 0 ? committedEntries[committedEntries.length - 1]!.index : applyFrom - 1,
      hardState,
      snapshot,
    };
    return ready;
  }

  /** The host persisted, sent and applied the last Ready. */
  advance(): void {
    const done = this.inProgress;
    invariant(done !== null, 'advance() without a Ready');
    this.inProgress = null;
    if (done.hardState) this.persistedHardState = done.hardState;
    if (done.snapshot !== null) {
      this.log.applied = Math.max(this.log.applied, done.snapshot.meta.index);
      // A newer snapshot may have arrived meanwhile; it goes out in the next Ready.
      if (this.receivedSnapshot === done.snapshot) this.receivedSnapshot = null;
    }
    this.log.stableTo();
    this.applyCommitted(done.appliedTo);
    if (this.role === 'leader') {
      // The leader counts itself only for what is durable on its own disk.
      const self = this.progress.get(this.id);
      if (self && self.maybeUpdate(this.log.stabled) && this.maybeCommit()) this.broadcastAppend();
    }
  }

  private applyCommitted(appliedTo: number): void {
    for (let index = this.log.applied + 1; index <= appliedTo; index++) {
      const entry = this.log.entry(index);
      if (entry?.type === EntryType.ConfChange) this.applyConfChangeEntry(entry);
    }
    if (appliedTo > this.log.applied) this.log.applied = appliedTo;
  }

  private applyConfChangeEntry(entry: Entry): void {
    const change = decodeConfChange(entry.data);
    this.conf = applyConfChange(this.conf, change);
    this.confHistory.push({ index: entry.index, conf: this.conf });
    if (this.role !== 'leader') return;
    const members = new Set(this.members());
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const pr = this.progress.get(id);
      if (!pr) this.newProgress(id, this.log.lastIndex() + 1).recentActive = true;
      else pr.isLearner = this.conf.learners.includes(id);
    }
    if (!this.conf.voters.includes(this.id)) {
      // §4.2.2: a leader removed from the configuration steps down once the change commits.
      this.becomeFollower(this.term, null);
      return;
    }
    if (this.leadTransferee !== null && !this.conf.voters.includes(this.leadTransferee))
      this.leadTransferee = null;
    // Fewer voters may mean a smaller quorum: entries may now be committed.
    if (this.maybeCommit()) this.broadcastAppend();
    this.pendingBroadcast = true;
  }

  // ---------------------------------------------------------------------------------------
  // Introspection

  /** Cheap accessors for hot checkers (status() builds a full view). */
  get currentRole(): Role {
    return this.role;
  }

  get currentTerm(): number {
    return this.term;
  }

  get currentLeader(): NodeId | null {
    return this.leader;
  }

  get commitIndex(): number {
    return this.log.committed;
  }

  get appliedIndex(): number {
    return this.log.applied;
  }

  get snapshotIndex(): number {
    return this.log.snapshotIndex;
  }

  get lastIndex(): number {
    return this.log.lastIndex();
  }

  get configuration(): ConfState {
    return this.conf;
  }

  status(): RaftStatus {
    const progress = new Map<NodeId, ProgressView>();
    if (this.role === 'leader') {
      for (const [id, pr] of this.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
        });
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commitIndex: this.log.committed,
      appliedIndex: this.log.applied,
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshotIndex,
      conf: this.conf,
      leadTransferee: this.leadTransferee,
      progress,
    };
  }

  /** Read-only access to the in-memory log, for checkers and tests. */
  logTerm(index: number): number | undefined {
    return this.log.term(index);
  }

  logEntry(index: number): Entry | undefined {
    return this.log.entry(index);
  }
}
