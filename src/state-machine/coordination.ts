/**
 * The coordination state beside the key space: open sessions (with the TTL checkpoints a new
 * leader resumes from), which live keys each session owns, and the per-parent counters of
 * sequential nodes.
 *
 * Ownership is stored in the keys themselves (`KeyValue.session` of a key's live version); the
 * per-session key sets here are an index over it, kept in step by track() after every committed
 * write batch and rebuilt from the store on restore. Invariant: every live key's session is open.
 */
import { LATEST, type MvccStore } from './mvcc-store.js';
import { compareKeys } from './paths.js';
import type { KeyChange, SessionInfo } from './types.js';

/** Shortest session TTL openSession accepts (ms). */
export const MIN_SESSION_TTL_MS = 1_000;
/** Longest session TTL openSession accepts (ms): one hour. */
export const MAX_SESSION_TTL_MS = 3_600_000;

interface SessionRecord {
  readonly sessionId: number;
  readonly ttlMs: number;
  checkpointRemainingMs: number | null;
  readonly keys: Set<string>;
}

/** A session as the snapshot codec writes it (its keys are derived from the store). */
export interface SessionImage {
  readonly sessionId: number;
  readonly ttlMs: number;
  readonly checkpointRemainingMs: number | null;
}

/** Everything of CoordinationState a snapshot holds. */
export interface CoordinationImage {
  /** Ascending sessionId. */
  readonly sessions: readonly SessionImage[];
  /** [parent path, next sequence number], ascending parent (key order). */
  readonly sequences: readonly (readonly [string, number])[];
}

export class CoordinationState {
  private readonly open = new Map<number, SessionRecord>();
  private readonly sequences = new Map<string, number>();

  /**
   * The state an image describes, with ownership read from `store`'s live keys. Throws a plain
   * Error (the snapshot codec reports it as CORRUPT_SNAPSHOT) if a live key names no open session.
   */
  static fromImage(image: CoordinationImage, store: MvccStore): CoordinationState {
    const state = new CoordinationState();
    for (const session of image.sessions) {
      state.open.set(session.sessionId, {
        sessionId: session.sessionId,
        ttlMs: session.ttlMs,
        checkpointRemainingMs: session.checkpointRemainingMs,
        keys: new Set(),
      });
    }
    for (const [parent, next] of image.sequences) state.sequences.set(parent, next);
    for (const cursor = store.seek(''); cursor.valid; cursor.next()) {
      const kv = store.visibleAt(cursor.key, LATEST);
      if (kv === undefined || kv.session === 0) continue;
      const owner = state.open.get(kv.session);
      if (owner === undefined) throw new Error(`key "${kv.key}" is owned by unknown session ${kv.session}`);
      owner.keys.add(kv.key);
    }
    return state;
  }

  get sessionCount(): number {
    return this.open.size;
  }

  has(sessionId: number): boolean {
    return this.open.has(sessionId);
  }

  ttlOf(sessionId: number): number | undefined {
    return this.open.get(sessionId)?.ttlMs;
  }

  /** A session's TTL and checkpoint without copying its keys (hot: every keep-alive). */
  timing(sessionId: number): SessionImage | undefined {
    return this.open.get(sessionId);
  }

  /** Every open session's TTL and checkpoint, in opening order, without copies. */
  timings(): IterableIterator<SessionImage> {
    return this.open.values();
  }

  /**
   * The id for a session opened by the entry at `index` without a chosen id: the index itself,
   * or (when a client chose it earlier) the next id above it that no open session has.
   */
  freeSessionId(index: number): number {
    let id = index;
    while (this.open.has(id)) id++;
    return id;
  }

  /** Registers a new session under an id no open session has (see freeSessionId). */
  openSession(sessionId: number, ttlMs: number): void {
    if (this.open.has(sessionId)) throw new Error(`session ${sessionId} is already open`);
    this.open.set(sessionId, { sessionId, ttlMs, checkpointRemainingMs: null, keys: new Set() });
  }

  /** Forgets a session. Its keys must have been deleted (and tracked) first. */
  forget(sessionId: number): void {
    this.open.delete(sessionId);
  }

  /** Records a leader's view of the remaining TTL, clamped to the TTL; unknown ids are ignored. */
  checkpoint(sessionId: number, remainingMs: number): void {
    const session = this.open.get(sessionId);
    if (session !== undefined) session.checkpointRemainingMs = Math.min(remainingMs, session.ttlMs);
  }

  /** The keys `sessionId` owns, in key order (empty for an unknown session). */
  ownedKeys(sessionId: number): string[] {
    const session = this.open.get(sessionId);
    return session === undefined ? [] : [...session.keys].sort(compareKeys);
  }

  info(sessionId: number): SessionInfo | undefined {
    const session = this.open.get(sessionId);
    if (session === undefined) return undefined;
    return {
      sessionId: session.sessionId,
      ttlMs: session.ttlMs,
      checkpointRemainingMs: session.checkpointRemainingMs,
      keys: [...session.keys].sort(compareKeys),
    };
  }

  /** Every open session, ascending id. */
  infos(): SessionInfo[] {
    return [...this.open.keys()].sort((a, b) => a - b).map((id) => this.info(id)!);
  }

  /**
   * Moves ownership along a committed batch's changes: a key leaves the session of the version it
   * replaced and joins the session of its new version (a deletion marker has session 0).
   */
  track(changes: readonly KeyChange[]): void {
    for (const { kv, prevKv } of changes) {
      if (prevKv !== undefined && prevKv.session !== 0) this.open.get(prevKv.session)?.keys.delete(kv.key);
      if (kv.version > 0 && kv.session !== 0) this.open.get(kv.session)?.keys.add(kv.key);
    }
  }

  /** The number the next sequential child of `parent` would get (0 for a parent never used). */
  nextSequence(parent: string): number {
    return this.sequences.get(parent) ?? 0;
  }

  /** Records that `sequence` was used under `parent`: the counter moves past it, never back. */
  useSequence(parent: string, sequence: number): void {
    if (sequence >= this.nextSequence(parent)) this.sequences.set(parent, sequence + 1);
  }

  image(): CoordinationImage {
    const sessions = [...this.open.keys()]
      .sort((a, b) => a - b)
      .map((id) => {
        const session = this.open.get(id)!;
        return {
          sessionId: session.sessionId,
          ttlMs: session.ttlMs,
          checkpointRemainingMs: session.checkpointRemainingMs,
        };
      });
    const sequences = [...this.sequences.entries()].sort((a, b) => compareKeys(a[0], b[0]));
    return { sessions, sequences };
  }
}
