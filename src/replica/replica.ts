import { EventEmitter } from 'node:events';
import type { Logger } from '../common/logger.js';
import { decodeConfChange } from '../raft/conf-change.js';
import type { Random, RaftConfig } from '../raft/config.js';
import { RaftError } from '../raft/errors.js';
import { RaftNode, type RaftStatus } from '../raft/raft-node.js';
import {
  EntryType,
  mayPrecedePersistence,
  SNAPSHOT_DATA_IN_STORAGE,
  type ConfChange,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ProposalAck,
  type ProposalRequest,
  type Ready,
  type Snapshot,
  type SnapshotRequest,
  type SoftState,
} from '../raft/types.js';
import { KvStateMachine } from '../state-machine/index.js';
import type { ApplyOutcome } from '../state-machine/types.js';
import type { RaftStorage } from '../storage/raft-storage.js';
import { ReplicaError } from './errors.js';
import { PeerRoundTrips } from './peer-round-trips.js';

/** What the replica needs from the peer transport. */
export interface MessageSender {
  /** `now`: write before returning instead of on the next turn of the event loop. */
  send(messages: readonly Message[], options?: { readonly now?: boolean }): void;
  /** Whether messages to `peer` would leave now (false: they would be dropped). Default: yes. */
  isReachable?(peer: NodeId): boolean;
}

export interface ReplicaOptions {
  readonly id: NodeId;
  /** The founding voters; used only when the data directory is empty. */
  readonly founders: readonly NodeId[];
  readonly raftConfig: RaftConfig;
  readonly tickMs: number;
  /**
   * Take a snapshot and compact the log after at most this many applied entries; sooner while
   * the state is small (see snapshotThreshold).
   */
  readonly snapshotEveryEntries: number;
  readonly storage: RaftStorage;
  readonly transport: MessageSender;
  readonly random: Random;
  readonly logger: Logger;
}

/** Observations for metrics; every field is cumulative. */
export interface ReplicaCounters {
  readyBatches: number;
  persistBatches: number;
  entriesPersisted: number;
  proposalsCommitted: number;
  proposalsFailed: number;
  leaderChanges: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  readsServed: number;
}

interface PendingProposal {
  readonly term: number;
  readonly resolve: (outcome: ApplyOutcome) => void;
  readonly reject: (error: Error) => void;
}

/** A command waiting to be forwarded to the leader, or forwarded and waiting for its place in the log. */
interface ForwardedCommand {
  readonly command: Uint8Array;
  /** The tick it was proposed at: it waits for a reachable leader a bounded time (see expireHeldCommands). */
  readonly heldSinceTick: number;
  readonly resolve: (outcome: ApplyOutcome) => void;
  readonly reject: (error: Error) => void;
}

/** Requests sent to `leader` in `term`, waiting for its answer since tick `sentAtTick`. */
interface InFlight<W extends { reject(error: Error): void }> {
  readonly waiters: W[];
  readonly sentAtTick: number;
  readonly leader: NodeId | null;
  readonly term: number;
}

interface ReadWaiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const EMPTY = new Uint8Array(0);

/**
 * How long a follower holds a write while no leader is reachable, in election timeouts: long
 * enough for an election (randomized up to two of them) to finish.
 */
const HOLD_ELECTION_TIMEOUTS = 4;

/** Where each replica records the gRPC address of members added at run time. */
export const MEMBER_ADDRESS_PREFIX = '/_cluster/members/';

export interface ReplicaEvents {
  /** Role, leader or term changed. */
  softState: [SoftState];
  /** A membership change was applied. */
  confChange: [ConfChange];
  /** Storage failed: the node cannot continue safely and must stop. */
  fatal: [Error];
  /** Proposal persisted: duration of the synced write in ms and how many entries it carried. */
  persisted: [number, number];
  /** Leader: a follower acknowledged an append with entries, this many ms after it was sent. */
  appendRoundTrip: [NodeId, number];
  /** Leader: a follower answered a heartbeat, this many ms after it was sent. */
  heartbeatRoundTrip: [NodeId, number];
}

/**
 * Keys (or change-log revisions) a snapshot encodes per turn of the event loop: a few
 * milliseconds of work, so heartbeats and appends are never held up for long.
 */
const SNAPSHOT_KEYS_PER_TURN = 2048;
/**
 * ...and at most about this many bytes of image per turn: 2,048 keys with long histories or
 * large values took 15-37 ms under load, which showed in the writes' p99.9.
 */
const SNAPSHOT_BYTES_PER_TURN = 256 * 1024;
/** The fewest entries between two snapshots when the state is smaller than that (etcd 3.6's default). */
const MIN_SNAPSHOT_ENTRIES = 10_000;

/**
 * The runtime around the pure Raft core: it feeds the core ticks, peer messages, proposals
 * and read requests, and carries out each Ready in the order Raft requires — persist (one
 * synced batch), then send, then apply, then advance. (A Ready with nothing to make durable,
 * e.g. one that only moves the commit index, is applied and sent at once: see handleReady.)
 * Proposals and reads that arrive while a batch is being persisted join the next batch, so
 * many share one fsync (group commit).
 */
export class Replica extends EventEmitter<ReplicaEvents> {
  readonly id: NodeId;
  readonly stateMachine: KvStateMachine;
  readonly counters: ReplicaCounters = {
    readyBatches: 0,
    persistBatches: 0,
    entriesPersisted: 0,
    proposalsCommitted: 0,
    proposalsFailed: 0,
    leaderChanges: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    readsServed: 0,
  };

  private readonly raft: RaftNode;
  private readonly options: ReplicaOptions;
  private readonly log: Logger;
  private ticker: NodeJS.Timeout | null = null;
  private driving = false;
  private driveScheduled = false;
  private stopped = false;
  private failed: Error | null = null;
  private softState: SoftState;

  private readonly proposals = new Map<number, PendingProposal>();
  /**
   * Commands proposed on a follower, to be forwarded to the leader in one message; on a leader,
   * its own clients' commands held back for the next round (see holdsCommands).
   */
  private forwardBatch: ForwardedCommand[] = [];
  /** Commands followers forwarded to this leader, held back for the next round (see holdsCommands). */
  private heldForwards: ProposalRequest[] = [];
  /** Bytes of the commands in forwardBatch and heldForwards. */
  private heldBytes = 0;
  /** The last log index a Ready handed out to be persisted (and, on a leader, sent). */
  private handedOutIndex = 0;
  private forwardSequence = 0;
  /** Forwarded batches the leader has not answered yet (see onProposalAck). */
  private readonly forwardsInFlight = new Map<number, InFlight<ForwardedCommand>>();
  /** A hard state that only moved the commit index and was not written yet (see handleReady). */
  private unwrittenHardState: HardState | null = null;
  /** Messages waiting for the answers of the Ready that produced them to leave first. */
  private heldMessages: Message[] = [];
  /** A snapshot is being stored (see maybeCompact). */
  private compacting = false;
  /** Versions the state held when the latest snapshot was taken or installed (snapshotThreshold). */
  private snapshotVersions: number;
  /** Followers whose snapshot is being read from storage to be sent. */
  private readonly snapshotLoads = new Set<NodeId>();
  private releaseScheduled = false;
  /** Reads waiting to be batched into one ReadIndex request. */
  private readBatch: ReadWaiter[] = [];
  private readSequence = 0;
  /** ReadIndex requests sent, waiting for their read state. */
  private readonly readsInFlight = new Map<string, InFlight<ReadWaiter>>();
  /** Read states received, waiting for the state machine to reach their index. */
  private readsAwaitingApply: { index: number; waiters: ReadWaiter[] }[] = [];
  private readonly roundTrips = new PeerRoundTrips(() => performance.now(), {
    onAppend: (peer, ms) => this.emit('appendRoundTrip', peer, ms),
    onHeartbeat: (peer, ms) => this.emit('heartbeatRoundTrip', peer, ms),
  });
  private ticks = 0;
  /** The last tick at which this node knew a leader (updated by tick; see leaderlessTooLong). */
  private leaderSeenAtTick = 0;

  private constructor(options: ReplicaOptions, raft: RaftNode, stateMachine: KvStateMachine) {
    super();
    this.options = options;
    this.id = options.id;
    this.raft = raft;
    this.stateMachine = stateMachine;
    // Before any replay: the state of the stored snapshot, if any.
    this.snapshotVersions = stateMachine.storedVersions;
    this.log = options.logger;
    const status = raft.status();
    this.softState = { role: status.role, leader: status.leader, term: status.term };
  }

  /** Restart from storage (hard state, snapshot, log) or bootstrap a fresh node. */
  static async start(options: ReplicaOptions): Promise<Replica> {
    const persisted = await options.storage.load();
    const stateMachine = persisted.snapshot
      ? KvStateMachine.fromSnapshot(persisted.snapshot.data)
      : new KvStateMachine();
    const raft = new RaftNode({
      id: options.id,
      config: options.raftConfig,
      random: options.random,
      persisted,
      bootstrapVoters: options.founders,
    });
    // The image is in storage; keeping a second copy in memory would double the node's footprint.
    if (persisted.snapshot) raft.forgetSnapshotData(persisted.snapshot.meta.index);
    const replica = new Replica(options, raft, stateMachine);
    options.logger.info(
      {
        term: persisted.hardState.term,
        commit: persisted.hardState.commit,
        snapshotIndex: persisted.snapshot?.meta.index ?? 0,
        logEntries: persisted.entries.length,
        keys: stateMachine.keyCount,
      },
      'replica restored from disk',
    );
    replica.ticker = setInterval(() => replica.tick(), options.tickMs);
    replica.schedule();
    return replica;
  }

  // ---------------------------------------------------------------------------------------
  // Inputs

  /** A message from a peer. */
  step(message: Message): void {
    if (this.stopped) return;
    this.roundTrips.received(message);
    if (message.type === 'propose' && this.raft.currentRole === 'leader') {
      if (message.term === this.raft.currentTerm && this.holdsCommands()) {
        this.heldForwards.push(message);
        this.heldBytes += commandBytes(message.commands);
        this.schedule(); // released by flushForwardBatch once the round in flight is applied
        return;
      }
      this.releaseHeldCommands(); // first, so commands enter the log in the order they came
    }
    this.raft.step(message);
    this.schedule();
  }

  private tick(): void {
    if (this.stopped) return;
    this.ticks++;
    if (this.raft.currentLeader !== null) this.leaderSeenAtTick = this.ticks;
    this.raft.tick();
    this.expireUnanswered();
    this.schedule();
  }

  /**
   * Propose an encoded command; resolves with its outcome once applied on this node. A
   * follower forwards it to the leader inside Raft (batched with its other clients' commands)
   * and answers once it applied the entry itself, so the caller reads its own write here.
   * Rejects NO_LEADER when there is no leader; LEADERSHIP_LOST, TIMEOUT (outcome unknown),
   * PROPOSAL_DROPPED or NOT_LEADER (certainly not applied) when it did not make it.
   */
  propose(command: Uint8Array): Promise<ApplyOutcome> {
    this.checkRunning();
    const leading = this.raft.currentRole === 'leader';
    if (leading ? this.holdsCommands() : !this.leaderlessTooLong()) {
      return new Promise<ApplyOutcome>((resolve, reject) => {
        this.forwardBatch.push({ command, heldSinceTick: this.ticks, resolve, reject });
        this.heldBytes += command.byteLength;
        this.schedule();
      });
    }
    if (leading) this.releaseHeldCommands(); // first, so commands enter the log in the order they came
    return this.proposeNow(command);
  }

  /** A leader no longer holding back (see holdsCommands) appends what it held, in order. */
  private releaseHeldCommands(): void {
    if (this.forwardBatch.length > 0 || this.heldForwards.length > 0) this.flushForwardBatch();
  }

  /**
   * Whether this leader holds new commands back for its next round instead of appending them
   * at once: while the entries it already handed out are not all committed and applied. The
   * log then grows in rounds, each one synced write per member and one append per follower,
   * instead of a round per wave of arrivals. With the etcd3 client's round robin, two thirds
   * of the writes reach a follower, whose clients' next writes arrive a hop after the
   * leader's own; at 16 in flight the leader wrote 3.5 entries per fsync that way, against 16
   * with every client on the leader. At most maxAppendBytes of commands wait (then all of them
   * go into the log at once, in the order they came), and nothing waits when no round is in
   * flight, so a lone write is not delayed.
   */
  private holdsCommands(): boolean {
    const raft = this.raft;
    const inFlight =
      raft.commitIndex < Math.min(this.handedOutIndex, raft.lastIndex) ||
      raft.appliedIndex < raft.commitIndex;
    return inFlight && this.heldBytes < this.options.raftConfig.maxAppendBytes;
  }

  /** Appends a command to the leader's log now (see propose). */
  private proposeNow(command: Uint8Array): Promise<ApplyOutcome> {
    let accepted: { index: number; term: number };
    try {
      accepted = this.raft.propose(command);
    } catch (error) {
      throw this.translate(error);
    }
    this.schedule();
    return new Promise<ApplyOutcome>((resolve, reject) => {
      this.proposals.set(accepted.index, { term: accepted.term, resolve, reject });
    });
  }

  /** Propose a membership change (leader only); resolves once it is applied here. */
  proposeConfChange(change: ConfChange): Promise<void> {
    this.checkRunning();
    let accepted: { index: number; term: number };
    try {
      accepted = this.raft.proposeConfChange(change);
    } catch (error) {
      throw this.translate(error);
    }
    this.schedule();
    return new Promise<void>((resolve, reject) => {
      this.proposals.set(accepted.index, { term: accepted.term, resolve: () => resolve(), reject });
    });
  }

  /**
   * Resolves when a linearizable read may be served from the local state machine: the
   * leader confirmed its leadership with a quorum after the read arrived (ReadIndex), and
   * this node has applied up to that point. Reads arriving together share one round.
   */
  readBarrier(): Promise<void> {
    this.checkRunning();
    return new Promise<void>((resolve, reject) => {
      this.readBatch.push({ resolve, reject });
      this.schedule();
    });
  }

  transferLeadership(target: NodeId): void {
    this.checkRunning();
    try {
      this.raft.transferLeadership(target);
    } catch (error) {
      throw this.translate(error);
    }
    this.schedule();
  }

  status(): RaftStatus {
    return this.raft.status();
  }

  get leaderId(): NodeId | null {
    return this.softState.leader;
  }

  /** The current term, without building a status() view. */
  get term(): number {
    return this.raft.currentTerm;
  }

  get isLeader(): boolean {
    return this.softState.role === 'leader';
  }

  /**
   * The leader has applied an entry of its own term, so its state machine reflects everything
   * committed before its election (decisions such as session expiry may rely on it).
   */
  get isLeaderCaughtUp(): boolean {
    return this.isLeader && this.raft.logTerm(this.raft.appliedIndex) === this.raft.currentTerm;
  }

  /** Election timeout lower bound in ms: the silence after which followers may elect anew. */
  get electionTimeoutMs(): number {
    return this.options.raftConfig.electionTicks * this.options.tickMs;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.failAll(new ReplicaError('STOPPED', `node ${this.id} is shutting down`));
    // Let an in-flight Ready finish so storage is not closed under it.
    while (this.driving) await new Promise((resolve) => setImmediate(resolve));
    await this.writeUnwrittenHardState();
  }

  private checkRunning(): void {
    if (this.failed)
      throw new ReplicaError(
        'STOPPED',
        `node ${this.id} stopped after a storage failure: ${this.failed.message}`,
      );
    if (this.stopped) throw new ReplicaError('STOPPED', `node ${this.id} is shutting down`);
  }

  private translate(error: unknown): Error {
    if (error instanceof RaftError) {
      if (error.code === 'NOT_LEADER') {
        return error.leaderHint === null
          ? new ReplicaError(
              'NO_LEADER',
              'no leader is known yet (election in progress or no quorum); retry shortly',
            )
          : new ReplicaError(
              'NOT_LEADER',
              `node ${this.id} is not the leader; ${error.leaderHint} is`,
              error.leaderHint,
            );
      }
      if (error.code === 'TRANSFER_IN_PROGRESS') {
        return new ReplicaError('TRANSFER_IN_PROGRESS', error.message, error.leaderHint);
      }
      return new ReplicaError('REJECTED', error.message, this.softState.leader);
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  // ---------------------------------------------------------------------------------------
  // The Ready loop

  /** Run the loop soon; inputs arriving in the same turn of the event loop share one Ready. */
  private schedule(): void {
    if (this.driveScheduled || this.driving || this.stopped) return;
    this.driveScheduled = true;
    setImmediate(this.driveNow);
  }

  /** schedule's callback, made once: it runs for nearly every message and request. */
  private readonly driveNow = (): void => {
    this.driveScheduled = false;
    void this.drive();
  };

  private async drive(): Promise<void> {
    if (this.driving || this.stopped) return;
    this.driving = true;
    try {
      this.flushBatches();
      while (!this.stopped && this.raft.hasReady()) {
        await this.handleReady(this.raft.ready());
        this.flushBatches();
      }
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.driving = false;
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    this.counters.readyBatches++;
    if (ready.entries.length > 0) this.handedOutIndex = ready.entries[ready.entries.length - 1]!.index;
    if (ready.softState) this.onSoftState(ready.softState);

    if (ready.mustSync) {
      // A leader's replication traffic may leave before its own fsync (see mayPrecedePersistence).
      // It leaves now, before the batch is built: the followers' fsyncs, not the leader's, are
      // on the commit path.
      const { early, late } = splitByDurabilityNeed(ready.messages);
      this.send(early, true);
      // Committed entries that earlier Readies wrote need not wait for this one's write: a
      // follower's commit index usually arrives with the next round's entries, and its clients
      // would otherwise be answered an fsync later.
      const appliedEarly = this.applyDurable(ready);
      // 1. Persist: one synced batch. Nothing below may happen before it is durable.
      await this.persist(ready);
      // 2. Send what depended on the persisted state (a follower's acknowledgement), at once.
      this.send(late, true);
      // 3. Apply the rest.
      this.apply(ready, appliedEarly);
      if (ready.snapshot) this.raft.forgetSnapshotData(ready.snapshot.meta.index);
    } else {
      // Nothing to make durable: no entries, snapshot, term or vote, at most a higher commit
      // index, which Raft does not need durable (a restarted node learns it again from the
      // leader). So this Ready writes nothing (its hard state rides along with the next write,
      // see persist), its committed entries (durable on a majority, whatever this node's disk
      // holds) are applied and their proposals answered at once, and its messages, which rest
      // only on state earlier Readies made durable, need not wait for anything: no storage
      // round trip on the commit path of the leader or of a follower.
      if (ready.hardState !== null) this.unwrittenHardState = ready.hardState;
      if (this.answersProposals(ready)) {
        // A leader committing its proposals: its messages are mostly the new commit index for
        // the followers. Sending them on the next turn of the event loop lets the answers
        // (written by the proposals' callbacks, which run as microtasks) reach the clients
        // first, instead of competing with the followers' work for the CPU.
        this.apply(ready);
        this.sendAfterAnswers(ready.messages);
      } else {
        this.send(ready.messages);
        this.apply(ready);
      }
    }
    // 4. Advance.
    this.raft.advance();
    this.serveReads();
    this.maybeCompact();
  }

  /**
   * Step 3: restore a received snapshot, apply committed entries, note read states. The first
   * `appliedEarly` committed entries (and the proposal answers) were applied already by
   * applyDurable.
   */
  private apply(ready: Ready, appliedEarly = 0): void {
    if (ready.snapshot) this.installSnapshot(ready.snapshot.data, ready.snapshot.meta.index);
    // Before the entries: an answer arrives no later than the commit index that covers its entries.
    if (appliedEarly === 0) for (const ack of ready.proposalAcks) this.onProposalAck(ack);
    const committed = ready.committedEntries;
    for (let i = appliedEarly; i < committed.length; i++) this.applyEntry(committed[i]!);
    for (const rs of ready.readStates) this.onReadState(rs.requestId, rs.index);
  }

  /**
   * Before a Ready's write: applies its committed entries that precede the entries it writes
   * (so earlier Readies made them durable here too, besides on a majority), with the proposal
   * answers. None with a snapshot, which must be restored first. Returns how many it applied.
   */
  private applyDurable(ready: Ready): number {
    if (ready.snapshot !== null) return 0;
    const committed = ready.committedEntries;
    const firstWritten = ready.entries.length > 0 ? ready.entries[0]!.index : Infinity;
    let count = 0;
    while (count < committed.length && committed[count]!.index < firstWritten) count++;
    if (count === 0) return 0;
    for (const ack of ready.proposalAcks) this.onProposalAck(ack);
    for (let i = 0; i < count; i++) this.applyEntry(committed[i]!);
    return count;
  }

  /** Whether applying this Ready settles proposals made on this node (their callers wait). */
  private answersProposals(ready: Ready): boolean {
    if (this.proposals.size === 0) return false;
    for (const entry of ready.committedEntries) if (this.proposals.has(entry.index)) return true;
    return false;
  }

  /** Hands messages to the transport, after any still held back (so each peer gets them in order). */
  private send(messages: readonly Message[], now = false): void {
    this.releaseHeldMessages();
    if (messages.length > 0) this.deliver(messages, now);
  }

  private deliver(messages: readonly Message[], now = false): void {
    this.roundTrips.sent(messages);
    if (!messages.some(needsStoredSnapshot)) {
      this.options.transport.send(messages, now ? SEND_NOW : undefined);
      return;
    }
    const direct: Message[] = [];
    for (const message of messages) {
      if (needsStoredSnapshot(message)) this.sendStoredSnapshot(message);
      else direct.push(message);
    }
    if (direct.length > 0) this.options.transport.send(direct, now ? SEND_NOW : undefined);
  }

  /**
   * Sends the stored snapshot in place of `message`, whose image the core no longer holds. The
   * stored one is the same or newer (a follower acknowledging a newer index is fine). A failed
   * read is logged; the core resends after its snapshot retry timeout.
   */
  private sendStoredSnapshot(message: SnapshotRequest): void {
    if (this.snapshotLoads.has(message.to)) return; // one read per follower at a time
    this.snapshotLoads.add(message.to);
    this.options.storage
      .loadSnapshot()
      .then((stored) => {
        if (this.stopped) return;
        if (stored === null || stored.meta.index < message.snapshot.meta.index) {
          this.log.warn(
            { to: message.to, wanted: message.snapshot.meta.index, stored: stored?.meta.index ?? 0 },
            'the snapshot to send is not in storage; will retry',
          );
          return;
        }
        this.options.transport.send([{ ...message, snapshot: stored }]);
      })
      .catch((error: unknown) => {
        this.log.warn({ err: error, to: message.to }, 'could not read the snapshot to send; will retry');
      })
      .finally(() => this.snapshotLoads.delete(message.to));
  }

  /** Holds messages back until the next turn of the event loop (see handleReady). */
  private sendAfterAnswers(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    this.heldMessages.push(...messages);
    if (this.releaseScheduled) return;
    this.releaseScheduled = true;
    setImmediate(() => {
      this.releaseScheduled = false;
      this.releaseHeldMessages();
    });
  }

  private releaseHeldMessages(): void {
    if (this.heldMessages.length === 0) return;
    const held = this.heldMessages;
    this.heldMessages = [];
    this.deliver(held);
  }

  /**
   * Step 1 of a Ready that must be durable: one synced batch. A commit index that moved without
   * being written (see handleReady) is written with it: the Ready's own hard state when it has
   * one (it is newer), else the unwritten one.
   */
  private async persist(ready: Ready): Promise<void> {
    const started = performance.now();
    await this.options.storage.persist({
      hardState: ready.hardState ?? this.unwrittenHardState,
      entries: ready.entries,
      snapshot: ready.snapshot,
    });
    this.unwrittenHardState = null;
    this.counters.persistBatches++;
    this.counters.entriesPersisted += ready.entries.length;
    this.emit('persisted', performance.now() - started, ready.entries.length);
  }

  /** On a clean stop, the commit index is not left behind (a restart then replays up to it at once). */
  private async writeUnwrittenHardState(): Promise<void> {
    const hardState = this.unwrittenHardState;
    if (hardState === null || this.failed !== null) return;
    this.unwrittenHardState = null;
    try {
      await this.options.storage.persist({ hardState, entries: [], snapshot: null, sync: false });
    } catch (error) {
      this.log.warn(
        { err: error },
        'could not write the commit index at shutdown (harmless: it is learned again)',
      );
    }
  }

  private onSoftState(next: SoftState): void {
    const previous = this.softState;
    this.softState = next;
    if (previous.leader !== next.leader) this.counters.leaderChanges++;
    if (previous.role !== next.role || previous.term !== next.term) this.roundTrips.reset();
    this.log.info(
      { role: next.role, term: next.term, leader: next.leader },
      `role ${next.role}, term ${next.term}`,
    );
    if (previous.role === 'leader' && next.role !== 'leader') {
      this.failProposals(
        new ReplicaError(
          'LEADERSHIP_LOST',
          `node ${this.id} lost leadership before the request was applied; it may or may not have taken effect`,
          next.leader,
        ),
      );
    }
    // Requests sent to a former leader will never be answered (the leader these were forwarded
    // to may have appended them or not: nobody will say). Those already sent to the new one,
    // which the core knew of before this Ready reported it, stay.
    rejectWhere(
      this.forwardsInFlight,
      (sent) => sent.leader !== next.leader || sent.term !== next.term,
      () =>
        new ReplicaError(
          'LEADERSHIP_LOST',
          `the leader changed before it confirmed the request forwarded by ${this.id}; it may or may not have taken effect`,
          next.leader,
        ),
    );
    rejectWhere(
      this.readsInFlight,
      (sent) => next.leader === null || sent.term !== next.term,
      () => new ReplicaError('NO_LEADER', 'leadership changed while confirming a read; retry'),
    );
    this.emit('softState', next);
  }

  private applyEntry(entry: Entry): void {
    let outcome: ApplyOutcome;
    if (entry.type === EntryType.ConfChange) {
      const change = decodeConfChange(entry.data);
      outcome = this.applyMemberAddress(entry.index, change);
      this.log.info({ change, index: entry.index }, 'membership change applied');
      this.emit('confChange', change);
    } else {
      outcome = this.stateMachine.apply(entry.index, entry.data);
    }
    const proposal = this.proposals.get(entry.index);
    if (!proposal) return;
    this.proposals.delete(entry.index);
    if (proposal.term === entry.term) {
      this.counters.proposalsCommitted++;
      proposal.resolve(outcome);
    } else {
      this.counters.proposalsFailed++;
      proposal.reject(
        new ReplicaError(
          'PROPOSAL_DROPPED',
          'the request was overwritten by a new leader and not applied; retry',
        ),
      );
    }
  }

  /**
   * Every replica records a member's address (carried in the change's context) in the
   * replicated keyspace at the change's index: deterministic, and kept in snapshots.
   */
  private applyMemberAddress(index: number, change: ConfChange): ApplyOutcome {
    const key = `${MEMBER_ADDRESS_PREFIX}${change.nodeId}`;
    if (change.type === 'removeNode') return this.stateMachine.applyCommand(index, { type: 'delete', key });
    if (change.context) {
      return this.stateMachine.applyCommand(index, {
        type: 'put',
        key,
        value: new TextEncoder().encode(change.context),
      });
    }
    return this.stateMachine.apply(index, EMPTY);
  }

  private installSnapshot(image: Uint8Array, index: number): void {
    this.stateMachine.restore(image);
    this.snapshotVersions = this.stateMachine.storedVersions;
    this.counters.snapshotsInstalled++;
    this.log.info({ index, keys: this.stateMachine.keyCount }, 'installed snapshot from leader');
    // Proposals at or below the snapshot can no longer be matched to their entries.
    for (const [proposalIndex, proposal] of this.proposals) {
      if (proposalIndex > index) continue;
      this.proposals.delete(proposalIndex);
      proposal.reject(
        new ReplicaError('LEADERSHIP_LOST', 'the outcome of the request is unknown (replaced by a snapshot)'),
      );
    }
  }

  /**
   * Entries to apply between snapshots: as many as the latest snapshot holds versions, within
   * [MIN_SNAPSHOT_ENTRIES, snapshotEveryEntries]. A restart decodes the snapshot (cost about its
   * versions) and replays the log behind it (about its entries); keeping the log no longer than
   * the snapshot bounds a restart by twice the snapshot's work, while encoding stays amortized:
   * a store growing from empty is snapshotted at 10k, 20k, 40k, 80k entries, so a node restarted
   * after loading 100,000 keys replays about 20,000 entries instead of 100,000.
   */
  private snapshotThreshold(): number {
    const most = this.options.snapshotEveryEntries;
    return Math.min(most, Math.max(MIN_SNAPSHOT_ENTRIES, this.snapshotVersions));
  }

  /**
   * Takes a snapshot once enough entries were applied, without stalling the node: the image is
   * encoded a slice per turn of the event loop (the state machine keeps applying meanwhile, see
   * KvStateMachine.startSnapshot), and storage writes it in pieces between the log's own writes
   * (see LevelRaftStorage.compact). Only then does the core forget the image.
   */
  private maybeCompact(): void {
    const applied = this.stateMachine.appliedIndex;
    if (
      this.compacting ||
      applied - this.raft.snapshotIndex < this.snapshotThreshold() ||
      applied > this.raft.appliedIndex
    )
      return;
    this.compacting = true;
    const started = performance.now();
    const encoder = this.stateMachine.startSnapshot();
    const versions = this.stateMachine.storedVersions;
    const encodeSlice = (): void => {
      if (this.stopped) {
        encoder.release();
        this.compacting = false;
        return;
      }
      if (!encoder.step(SNAPSHOT_KEYS_PER_TURN, SNAPSHOT_BYTES_PER_TURN)) {
        setImmediate(encodeSlice);
        return;
      }
      const encodeMs = Math.round(performance.now() - started);
      // A snapshot from the leader may have overtaken this one while it was being encoded.
      if (encoder.appliedIndex <= this.raft.snapshotIndex) {
        this.compacting = false;
        return;
      }
      this.snapshotVersions = versions;
      this.storeSnapshot(this.raft.compact(encoder.appliedIndex, encoder.image()), started, encodeMs);
    };
    setImmediate(encodeSlice);
  }

  private storeSnapshot(snapshot: Snapshot, started: number, encodeMs: number): void {
    this.options.storage
      .compact(snapshot)
      .then(
        () => {
          this.raft.forgetSnapshotData(snapshot.meta.index);
          this.counters.snapshotsTaken++;
          this.log.info(
            {
              index: snapshot.meta.index,
              bytes: snapshot.data.length,
              encodeMs,
              ms: Math.round(performance.now() - started),
            },
            'snapshot taken, log compacted',
          );
        },
        (error: unknown) => {
          if (this.stopped) return; // storage closed under it at shutdown: the next start redoes it
          this.fail(error instanceof Error ? error : new Error(String(error)));
        },
      )
      .finally(() => {
        this.compacting = false;
      });
  }

  // ---------------------------------------------------------------------------------------
  // Proposals made on a follower

  private flushBatches(): void {
    this.flushForwardBatch();
    this.flushReadBatch();
  }

  /**
   * Hands the commands proposed since the last Ready to the leader, in messages of at most
   * maxAppendBytes (the leader replicates them in appends of that size anyway). Should this
   * node have become the leader meanwhile, it proposes them itself.
   *
   * While there is no leader, or the link to it is down (a killed leader's connection closes at
   * once, long before an election timeout tells the followers), they wait here instead, nothing
   * sent, so nothing is lost in flight: they go to the next leader, or fail as certainly not
   * applied (NO_LEADER) after HOLD_ELECTION_TIMEOUTS. Clients see an election as a pause, as with etcd
   * and ZooKeeper, rather than a burst of errors.
   */
  private flushForwardBatch(): void {
    if (this.heldForwards.length > 0 && !(this.raft.currentRole === 'leader' && this.holdsCommands())) {
      // The core appends them, or refuses them should this node no longer lead.
      const held = this.heldForwards;
      this.heldForwards = [];
      for (const message of held) {
        this.heldBytes -= commandBytes(message.commands);
        this.raft.step(message);
      }
    }
    if (this.forwardBatch.length === 0) return;
    if (this.raft.currentRole === 'leader') {
      if (this.holdsCommands()) return;
      const batch = this.takeForwardBatch();
      for (const forwarded of batch) {
        try {
          this.proposeNow(forwarded.command).then(forwarded.resolve, forwarded.reject);
        } catch (error) {
          forwarded.reject(this.translate(error));
        }
      }
      return;
    }
    const leader = this.raft.currentLeader;
    if (leader === null || this.options.transport.isReachable?.(leader) === false) {
      this.expireHeldCommands();
      return;
    }
    const batch = this.takeForwardBatch();
    const limit = this.options.raftConfig.maxAppendBytes;
    let start = 0;
    while (start < batch.length) {
      let end = start + 1;
      let bytes = batch[start]!.command.byteLength;
      while (end < batch.length && bytes + batch[end]!.command.byteLength <= limit) {
        bytes += batch[end]!.command.byteLength;
        end++;
      }
      this.forward(batch.slice(start, end));
      start = end;
    }
  }

  /**
   * No leader for longer than a write may be held: the node is cut off (or the cluster lost its
   * quorum), not in a passing election, so writes fail at once instead of waiting.
   */
  private leaderlessTooLong(): boolean {
    return this.raft.currentLeader === null && this.ticks - this.leaderSeenAtTick > this.holdTicks;
  }

  private get holdTicks(): number {
    return this.options.raftConfig.electionTicks * HOLD_ELECTION_TIMEOUTS;
  }

  private takeForwardBatch(): ForwardedCommand[] {
    const batch = this.forwardBatch;
    this.forwardBatch = [];
    for (const c of batch) this.heldBytes -= c.command.byteLength;
    return batch;
  }

  /** Commands that waited too long for a reachable leader fail; nothing of them was sent. */
  private expireHeldCommands(): void {
    const cutoff = this.ticks - this.holdTicks;
    if (this.forwardBatch[0]!.heldSinceTick > cutoff) return; // the oldest is first
    const error = new ReplicaError(
      'NO_LEADER',
      'no leader could be reached in time (election in progress or no quorum); nothing was applied; retry',
    );
    const kept: ForwardedCommand[] = [];
    for (const c of this.forwardBatch) {
      if (c.heldSinceTick > cutoff) {
        kept.push(c);
      } else {
        this.heldBytes -= c.command.byteLength;
        c.reject(error);
      }
    }
    this.forwardBatch = kept;
  }

  private forward(commands: ForwardedCommand[]): void {
    const proposalId = ++this.forwardSequence;
    try {
      this.raft.forwardProposals(
        proposalId,
        commands.map((c) => c.command),
      );
    } catch (error) {
      const failure = this.translate(error);
      for (const c of commands) c.reject(failure);
      return;
    }
    this.forwardsInFlight.set(proposalId, this.sentNow(commands));
  }

  /** The leader placed a forwarded batch in its log (or refused it): wait for those entries. */
  private onProposalAck(ack: ProposalAck): void {
    const inFlight = this.forwardsInFlight.get(ack.proposalId);
    if (inFlight === undefined) return; // given up on already
    this.forwardsInFlight.delete(ack.proposalId);
    if (ack.rejected) {
      const error = new ReplicaError(
        'NOT_LEADER',
        `the leader refused the request forwarded by ${this.id} (it no longer leads, or is handing over leadership); it was not applied`,
        this.softState.leader,
      );
      for (const c of inFlight.waiters) c.reject(error);
      return;
    }
    const applied = this.stateMachine.appliedIndex;
    inFlight.waiters.forEach((c, i) => {
      const index = ack.index + i;
      if (index <= applied) {
        // Applied here before the answer came (a snapshot jumped past it): which entry it was is lost.
        c.reject(
          new ReplicaError(
            'LEADERSHIP_LOST',
            'the outcome of the request is unknown (replaced by a snapshot)',
          ),
        );
        return;
      }
      this.proposals
        .get(index)
        ?.reject(
          new ReplicaError(
            'PROPOSAL_DROPPED',
            'the request was overwritten by a new leader and not applied; retry',
          ),
        );
      this.proposals.set(index, { term: ack.term, resolve: c.resolve, reject: c.reject });
    });
  }

  /** A request just handed to the core, which sends it to the leader it knows now. */
  private sentNow<W extends { reject(error: Error): void }>(waiters: W[]): InFlight<W> {
    return { waiters, sentAtTick: this.ticks, leader: this.raft.currentLeader, term: this.raft.currentTerm };
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  private flushReadBatch(): void {
    if (this.readBatch.length === 0) return;
    const waiters = this.readBatch;
    this.readBatch = [];
    const requestId = `${this.id}:${++this.readSequence}`;
    try {
      this.raft.readIndex([requestId]);
    } catch (error) {
      const failure = this.translate(error);
      for (const w of waiters) w.reject(failure);
      return;
    }
    this.readsInFlight.set(requestId, this.sentNow(waiters));
  }

  private onReadState(requestId: string, index: number): void {
    const inFlight = this.readsInFlight.get(requestId);
    if (!inFlight) return;
    this.readsInFlight.delete(requestId);
    this.readsAwaitingApply.push({ index, waiters: inFlight.waiters });
  }

  private serveReads(): void {
    if (this.readsAwaitingApply.length === 0) return;
    const applied = this.stateMachine.appliedIndex;
    const stillWaiting: typeof this.readsAwaitingApply = [];
    for (const read of this.readsAwaitingApply) {
      if (read.index <= applied) {
        this.counters.readsServed += read.waiters.length;
        for (const w of read.waiters) w.resolve();
      } else {
        stillWaiting.push(read);
      }
    }
    this.readsAwaitingApply = stillWaiting;
  }

  /**
   * Reads and forwarded proposals whose answer was lost (a dropped message) fail after two
   * election timeouts; a forwarded write's outcome is then unknown.
   */
  private expireUnanswered(): void {
    const cutoff = this.ticks - this.options.raftConfig.electionTicks * 2;
    const unanswered = (sent: { sentAtTick: number }): boolean => sent.sentAtTick <= cutoff;
    rejectWhere(
      this.readsInFlight,
      unanswered,
      () => new ReplicaError('TIMEOUT', 'the leader did not confirm the read in time (no quorum?); retry'),
    );
    rejectWhere(
      this.forwardsInFlight,
      unanswered,
      () =>
        new ReplicaError(
          'TIMEOUT',
          'the leader did not confirm the forwarded request in time; it may or may not have taken effect',
        ),
    );
  }

  // ---------------------------------------------------------------------------------------
  // Failure

  private failProposals(error: Error): void {
    for (const proposal of this.proposals.values()) {
      this.counters.proposalsFailed++;
      proposal.reject(error);
    }
    this.proposals.clear();
  }

  private failAll(error: Error): void {
    this.failProposals(error);
    rejectWhere(
      this.forwardsInFlight,
      () => true,
      () => error,
    );
    for (const c of this.forwardBatch) c.reject(error);
    this.forwardBatch = [];
    this.heldForwards = []; // their followers give up on them (leader change or timeout)
    this.heldBytes = 0;
    rejectWhere(
      this.readsInFlight,
      () => true,
      () => error,
    );
    for (const w of this.readBatch) w.reject(error);
    this.readBatch = [];
    for (const read of this.readsAwaitingApply) for (const w of read.waiters) w.reject(error);
    this.readsAwaitingApply = [];
  }

  /** Storage failed: continuing could violate durability promises, so stop (etcd: lg.Fatal). */
  private fail(error: Error): void {
    this.failed = error;
    this.log.fatal({ err: error }, 'storage failure: the node stops');
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.failAll(
      new ReplicaError('STOPPED', `node ${this.id} stopped after a storage failure: ${error.message}`),
    );
    this.emit('fatal', error);
  }
}

function commandBytes(commands: readonly Uint8Array[]): number {
  let bytes = 0;
  for (const command of commands) bytes += command.byteLength;
  return bytes;
}

/** Send options for messages a Ready batched already, on the commit path (see handleReady). */
const SEND_NOW = { now: true } as const;

function splitByDurabilityNeed(messages: readonly Message[]): { early: Message[]; late: Message[] } {
  const early: Message[] = [];
  const late: Message[] = [];
  for (const m of messages) (mayPrecedePersistence(m) ? early : late).push(m);
  return { early, late };
}

/** Rejects (and forgets) the requests `isStale` picks, all with one error made when first needed. */
function rejectWhere<W extends { reject(error: Error): void }>(
  inFlight: Map<unknown, InFlight<W>>,
  isStale: (request: InFlight<W>) => boolean,
  makeError: () => Error,
): void {
  let error: Error | null = null;
  for (const [id, request] of inFlight) {
    if (!isStale(request)) continue;
    inFlight.delete(id);
    error ??= makeError();
    for (const w of request.waiters) w.reject(error);
  }
}

/** A snapshot message whose image the core left in storage (see RaftNode.forgetSnapshotData). */
function needsStoredSnapshot(message: Message): message is SnapshotRequest {
  return message.type === 'snapshot' && message.snapshot.data === SNAPSHOT_DATA_IN_STORAGE;
}
