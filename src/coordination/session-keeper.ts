import type { Logger } from '../common/logger.js';
import type { Replica } from '../replica/replica.js';
import { ReplicaError } from '../replica/errors.js';
import { encodeCommand, StateMachineError, StateMachineErrorCode } from '../state-machine/index.js';

export interface SessionKeeperOptions {
  readonly replica: Replica;
  readonly logger: Logger;
  /** Monotonic milliseconds (injected so tests can drive time). */
  readonly now?: () => number;
  /** How often deadlines are checked. */
  readonly checkIntervalMs?: number;
  /** How often remaining TTLs are written to the log for a future leader. */
  readonly checkpointIntervalMs?: number;
  /**
   * Extra time a new leader grants every session on top of its checkpointed remaining TTL:
   * clients need time to find the new leader. At least one election timeout.
   */
  readonly failoverGraceMs?: number;
}

export interface KeepAliveResult {
  readonly sessionId: number;
  readonly ttlMs: number;
}

/**
 * The leader's side of sessions (etcd's lessor, ZooKeeper's SessionTracker). Only the leader
 * tracks deadlines, in wall-clock time; expiry is decided here and proposed through the log
 * as closeSession(expired), so every replica deletes the same keys at the same revision.
 *
 * - A keep-alive (leader only, after confirming leadership with a quorum) resets the deadline
 *   to now + TTL.
 * - Every checkpoint interval the leader writes each session's remaining TTL to the log.
 * - A new leader, once it has applied an entry of its own term (so it sees every checkpoint
 *   committed before its election), resumes each session at its checkpointed remaining TTL
 *   plus a grace of at least one election timeout: a failover never expires a live session,
 *   and a dead client's session gains only the grace, not a whole TTL, per failover.
 */
export class SessionKeeper {
  private readonly replica: Replica;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly checkpointIntervalMs: number;
  private readonly failoverGraceMs: number;
  /** sessionId -> deadline (ms on the `now` clock). Only meaningful while leading. */
  private readonly deadlines = new Map<number, number>();
  /** Expiry proposals in flight, so a session is not expired twice. */
  private readonly expiring = new Set<number>();
  /** Deadlines are armed once this leader has caught up; null while following. */
  private armedInTerm: number | null = null;
  private lastCheckpointAt = 0;
  private checkpointInFlight = false;
  private timer: NodeJS.Timeout | null = null;
  expiredCount = 0;

  constructor(options: SessionKeeperOptions) {
    this.replica = options.replica;
    this.log = options.logger;
    this.now = options.now ?? (() => performance.now());
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? 5_000;
    this.failoverGraceMs = Math.max(options.failoverGraceMs ?? 0, this.replica.electionTimeoutMs * 2);
    const interval = options.checkIntervalMs ?? 100;
    this.timer = setInterval(() => this.check(), interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reset a session's deadline. Rejects NOT_LEADER/NO_LEADER on a follower (the API forwards). */
  async keepAlive(sessionId: number): Promise<KeepAliveResult> {
    this.requireLeader();
    // A deposed leader must not keep sessions alive that the real leader is about to expire.
    await this.replica.readBarrier();
    this.requireLeader();
    const session = this.replica.stateMachine.sessionTiming(sessionId);
    // Its expiry is already proposed: confirming it now would tell the client it has a TTL left.
    if (!session || this.expiring.has(sessionId)) throw unknownSession(sessionId);
    // Arming on the first renewal of a term matters: setting the deadline before the term's
    // resume would let arm() overwrite it with the (older) checkpoint.
    this.armForTerm();
    this.deadlines.set(sessionId, this.now() + session.ttlMs);
    return { sessionId, ttlMs: session.ttlMs };
  }

  /** Milliseconds left before the session expires, as the leader sees it. */
  remainingMs(sessionId: number): number {
    this.requireLeader();
    const session = this.replica.stateMachine.sessionTiming(sessionId);
    if (!session) throw unknownSession(sessionId);
    this.armForTerm();
    const deadline = this.deadlines.get(sessionId);
    return deadline === undefined ? session.ttlMs : Math.max(0, Math.round(deadline - this.now()));
  }

  /** Called on every check: reconcile with the state machine, expire, checkpoint. */
  check(): void {
    if (!this.replica.isLeader) {
      if (this.armedInTerm !== null) {
        this.deadlines.clear();
        this.armedInTerm = null;
      }
      return;
    }
    if (!this.arm()) return;
    const now = this.now();
    for (const [sessionId, deadline] of this.deadlines) {
      if (deadline <= now && !this.expiring.has(sessionId)) this.expire(sessionId);
    }
    if (now - this.lastCheckpointAt >= this.checkpointIntervalMs) this.checkpoint(now);
  }

  /**
   * Make deadlines match the state machine: new sessions get a full TTL, closed ones are
   * forgotten. Returns false until the leader has caught up. O(sessions), so only check() calls
   * it; between two checks a new session simply has no deadline yet (it cannot expire early).
   */
  private arm(): boolean {
    if (!this.armForTerm()) return false;
    const now = this.now();
    const machine = this.replica.stateMachine;
    for (const s of machine.sessionTimings()) {
      if (!this.deadlines.has(s.sessionId)) this.deadlines.set(s.sessionId, now + s.ttlMs);
    }
    for (const id of this.deadlines.keys()) if (!machine.hasSession(id)) this.deadlines.delete(id);
    return true;
  }

  /**
   * On the first call of a leadership term, resume every session from its checkpoint plus the
   * failover grace. Cheap once armed. Returns false until the leader has caught up.
   */
  private armForTerm(): boolean {
    if (!this.replica.isLeaderCaughtUp) return false;
    const term = this.replica.term;
    if (this.armedInTerm === term) return true;
    const now = this.now();
    this.deadlines.clear();
    for (const s of this.replica.stateMachine.sessionTimings()) {
      this.deadlines.set(s.sessionId, now + (s.checkpointRemainingMs ?? s.ttlMs) + this.failoverGraceMs);
    }
    this.armedInTerm = term;
    this.lastCheckpointAt = now;
    if (this.deadlines.size > 0)
      this.log.info({ sessions: this.deadlines.size, term }, 'resumed session deadlines as leader');
    return true;
  }

  private expire(sessionId: number): void {
    this.expiring.add(sessionId);
    this.log.info({ sessionId }, 'session expired; proposing its removal');
    this.replica
      .propose(encodeCommand({ type: 'closeSession', sessionId, reason: 'expired' }))
      .then((outcome) => {
        if (outcome.ok) this.expiredCount++;
        this.deadlines.delete(sessionId);
      })
      .catch((error: unknown) => {
        // Leadership moved or the proposal was lost: the next leader decides again.
        this.log.debug({ sessionId, err: error }, 'session expiry proposal did not complete');
      })
      .finally(() => this.expiring.delete(sessionId));
  }

  private checkpoint(now: number): void {
    if (this.checkpointInFlight || this.deadlines.size === 0) {
      this.lastCheckpointAt = now;
      return;
    }
    this.checkpointInFlight = true;
    this.lastCheckpointAt = now;
    const sessions = [...this.deadlines].map(([sessionId, deadline]) => ({
      sessionId,
      remainingMs: Math.max(0, Math.round(deadline - now)),
    }));
    this.replica
      .propose(encodeCommand({ type: 'checkpointSessions', sessions }))
      .catch((error: unknown) => this.log.debug({ err: error }, 'session checkpoint did not complete'))
      .finally(() => {
        this.checkpointInFlight = false;
      });
  }

  private requireLeader(): void {
    if (this.replica.isLeader) return;
    const leader = this.replica.leaderId;
    throw leader === null
      ? new ReplicaError(
          'NO_LEADER',
          'no leader is known yet (election in progress or no quorum); retry shortly',
        )
      : new ReplicaError('NOT_LEADER', `node ${this.replica.id} is not the leader; ${leader} is`, leader);
  }
}

function unknownSession(sessionId: number): StateMachineError {
  return new StateMachineError(
    StateMachineErrorCode.SessionNotFound,
    `session ${sessionId} does not exist (it expired or was closed); open a new one`,
  );
}
