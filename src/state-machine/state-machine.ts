/**
 * The replicated state machine: what the node runtime applies committed Raft entries to.
 * Deterministic: apply's outcome depends only on the current state and the entry's bytes.
 */
import { decodeCommand } from './commands.js';
import { CoordinationState } from './coordination.js';
import { executeCommand, type Execution } from './execute.js';
import { StateMachineError, StateMachineErrorCode, toStateMachineError } from './errors.js';
import { MvccStore } from './mvcc-store.js';
import { readRange } from './range-read.js';
import { decodeSnapshot, encodeSnapshot, SnapshotEncoder } from './snapshot-codec.js';
import type {
  ApplyOutcome,
  Command,
  RangeRequest,
  RangeResult,
  SessionInfo,
  SessionTiming,
} from './types.js';
import { validateCommand, validateRangeRequest } from './validation.js';
import { WatchHub, type WatchOptions, type Watcher } from './watch-hub.js';

const NOOP: Command = { type: 'noop' };

export class KvStateMachine {
  private store: MvccStore;
  private coordination: CoordinationState;
  private applied = 0;
  /** The size of the last image encoded or restored: the next encoder's buffer size. */
  private lastImageBytes = 0;
  /** Watches on this replica's state; events are pushed during apply. */
  readonly watches: WatchHub;

  constructor() {
    this.store = new MvccStore();
    this.coordination = new CoordinationState();
    this.watches = new WatchHub(this.store);
  }

  /** A state machine restored from snapshot() bytes. Throws CORRUPT_SNAPSHOT. */
  static fromSnapshot(bytes: Uint8Array): KvStateMachine {
    const machine = new KvStateMachine();
    machine.restore(bytes);
    return machine;
  }

  /** The index of the last log entry applied (0 before any). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** The revision of the last committed write (0 for an empty store; the first write makes it 1). */
  get revision(): number {
    return this.store.revision;
  }

  get compactRevision(): number {
    return this.store.compactRevision;
  }

  /** Keys that currently exist. */
  get keyCount(): number {
    return this.store.keyCount;
  }

  /** Versions held, history and deleted keys included: about what a snapshot encodes. */
  get storedVersions(): number {
    return this.store.storedVersions;
  }

  /**
   * Applies the committed entry at `index`. Never throws: a command that cannot apply returns
   * `{ ok: false, error }` and leaves keys, revision and history untouched. appliedIndex still
   * advances (the entry is consumed, identically on every replica), except for an index at or
   * below appliedIndex, which is refused with ALREADY_APPLIED and changes nothing. Empty data
   * (the leader's no-op entry) only advances appliedIndex.
   */
  apply(index: number, data: Uint8Array): ApplyOutcome {
    const refused = this.refuseIndex(index);
    if (refused !== undefined) return { ok: false, index, error: refused };
    if (data.length === 0) return this.run(index, NOOP);
    let command: Command;
    try {
      command = decodeCommand(data);
    } catch (error) {
      this.applied = index;
      return { ok: false, index, error: toStateMachineError(error) };
    }
    return this.run(index, command);
  }

  /**
   * apply() for an already decoded command (same rules), for tests and in-process callers. The
   * store keeps the command's value arrays as they are: do not modify them afterwards.
   */
  applyCommand(index: number, command: Command): ApplyOutcome {
    const refused = this.refuseIndex(index);
    if (refused !== undefined) return { ok: false, index, error: refused };
    return this.run(index, command);
  }

  /** A local (serializable) read. Throws INVALID_ARGUMENT, COMPACTED or FUTURE_REVISION. */
  range(request: RangeRequest): RangeResult {
    validateRangeRequest(request);
    return readRange(this.store, request);
  }

  /** Every open session, ascending id, with its TTL, last checkpoint and owned keys. */
  sessions(): SessionInfo[] {
    return this.coordination.infos();
  }

  /** One open session, or undefined if it does not exist (never opened, closed or expired). */
  session(sessionId: number): SessionInfo | undefined {
    return this.coordination.info(sessionId);
  }

  /** Whether a session is open, without building its SessionInfo. */
  hasSession(sessionId: number): boolean {
    return this.coordination.has(sessionId);
  }

  /**
   * One open session's TTL and last checkpoint, without its keys: no copy, so cheap enough for
   * every keep-alive. A live view; do not keep it across applies.
   */
  sessionTiming(sessionId: number): SessionTiming | undefined {
    return this.coordination.timing(sessionId);
  }

  /** Every open session's TTL and last checkpoint (live views, in opening order). */
  sessionTimings(): IterableIterator<SessionTiming> {
    return this.coordination.timings();
  }

  /** Open sessions. */
  get sessionCount(): number {
    return this.coordination.sessionCount;
  }

  /** Starts a watch (see WatchHub.watch). */
  watch(options: WatchOptions): Watcher {
    return this.watches.watch(options);
  }

  /**
   * The whole state (keys, retained history, revisions, appliedIndex, sessions and their
   * checkpoints, key ownership, sequence counters) as snapshot bytes.
   */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.applied, this.store, this.coordination);
  }

  /**
   * snapshot() in steps: the encoder captures the state at the current applied index and
   * encodes it a bounded amount per step() while apply() goes on. Until it completes or is
   * released, compaction only moves the compact revision (its history is dropped afterwards).
   */
  startSnapshot(): SnapshotEncoder {
    return new SnapshotEncoder(this.applied, this.store, this.coordination, this.lastImageBytes, (bytes) => {
      this.lastImageBytes = bytes;
    });
  }

  /**
   * Replaces the state with a snapshot's. On CORRUPT_SNAPSHOT nothing changes. Live watchers
   * catch up from the restored history, or end if it no longer covers them.
   */
  restore(bytes: Uint8Array): void {
    const decoded = decodeSnapshot(bytes);
    this.store = decoded.store;
    this.coordination = decoded.coordination;
    this.applied = decoded.appliedIndex;
    this.lastImageBytes = bytes.length;
    this.watches.resync(this.store);
  }

  private refuseIndex(index: number): StateMachineError | undefined {
    if (!Number.isSafeInteger(index) || index < 1) {
      return new StateMachineError(
        StateMachineErrorCode.InvalidArgument,
        `log index must be a positive integer, got ${index}`,
      );
    }
    if (index <= this.applied) {
      return new StateMachineError(
        StateMachineErrorCode.AlreadyApplied,
        `log index ${index} was already applied (appliedIndex is ${this.applied}); entries must be applied once, in order`,
      );
    }
    return undefined;
  }

  private run(index: number, command: Command): ApplyOutcome {
    this.applied = index;
    let execution: Execution;
    try {
      validateCommand(command);
      execution = executeCommand({ store: this.store, coordination: this.coordination, index }, command);
    } catch (error) {
      return { ok: false, index, error: toStateMachineError(error) };
    }
    this.notifyWatches(command, execution);
    return { ok: true, index, result: execution.result };
  }

  private notifyWatches(command: Command, execution: Execution): void {
    try {
      if (execution.changes.length > 0) this.watches.publish(this.store.revision, execution.changes);
      if (command.type === 'compact') this.watches.compacted();
    } catch (error) {
      // Watches are local to this replica: ending them keeps apply (and replication) going.
      const cause = toStateMachineError(error).message;
      this.watches.cancelAll(
        new StateMachineError(StateMachineErrorCode.Internal, `watches ended by an internal error: ${cause}`),
      );
    }
  }
}
