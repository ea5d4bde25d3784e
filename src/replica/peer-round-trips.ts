import type { Message, NodeId } from '../raft/types.js';

/** An append with entries, sent to a follower and not yet acknowledged. */
interface SentAppend {
  readonly term: number;
  readonly lastIndex: number;
  readonly sentAtMs: number;
}

/** A heartbeat sent to a follower and not yet answered. */
interface SentHeartbeat {
  readonly term: number;
  /** Echoed in the answer: 0 on plain heartbeats, a round id on ReadIndex ones. */
  readonly readContext: number;
  readonly sentAtMs: number;
}

export interface RoundTripListener {
  /** A follower acknowledged an append that carried entries: sent → acknowledged, in ms. */
  onAppend(peer: NodeId, ms: number): void;
  /** A follower answered a heartbeat: sent → answered, in ms. */
  onHeartbeat(peer: NodeId, ms: number): void;
}

/**
 * Most appends one follower can have unanswered here; beyond it the oldest is forgotten. The
 * core's pipeline holds at most maxInflightMessages (256 by default), so this only bounds memory
 * if answers stop coming while the core keeps sending.
 */
const MAX_PENDING_APPENDS = 1024;

/**
 * Times a leader's round trips to each follower, as the runtime sees them (handed to the
 * transport → the answer stepped into the core):
 *
 * - an append carrying entries → the follower's acknowledgement of its last entry, which waits
 *   for the follower's synced write: the leg a write's commit waits for;
 * - a heartbeat → its answer: the two hops and the follower's event loop, with no disk.
 *
 * Appends are pipelined, so each follower has a queue of them, oldest first. An acknowledgement
 * of index i settles every append whose last entry is at or below i; a rejection, or a change of
 * term or role, starts the follower's queue over (the core resends from a new point).
 */
export class PeerRoundTrips {
  private readonly appends = new Map<NodeId, SentAppend[]>();
  /**
   * The latest heartbeat per follower. An answer must echo its read context, so the answer to an
   * earlier ReadIndex round is not timed against a later heartbeat.
   */
  private readonly heartbeats = new Map<NodeId, SentHeartbeat>();

  constructor(
    private readonly nowMs: () => number,
    private readonly listener: RoundTripListener,
  ) {}

  /** Messages handed to the transport. */
  sent(messages: readonly Message[]): void {
    let now = -1;
    for (const message of messages) {
      if (message.type === 'append') {
        const count = message.entries.length;
        if (count === 0) continue; // commit-only or probe: nothing to wait for on disk
        if (now < 0) now = this.nowMs();
        let queue = this.appends.get(message.to);
        if (queue === undefined) this.appends.set(message.to, (queue = []));
        if (queue.length >= MAX_PENDING_APPENDS) queue.shift();
        queue.push({ term: message.term, lastIndex: message.entries[count - 1]!.index, sentAtMs: now });
      } else if (message.type === 'heartbeat') {
        if (now < 0) now = this.nowMs();
        const { term, readContext } = message;
        this.heartbeats.set(message.to, { term, readContext, sentAtMs: now });
      }
    }
  }

  /** A message from a peer, before the core steps it. */
  received(message: Message): void {
    if (message.type === 'appendResp') {
      const queue = this.appends.get(message.from);
      if (queue === undefined || queue.length === 0 || message.term !== queue[0]!.term) return;
      if (message.reject) {
        queue.length = 0;
        return;
      }
      let settled = 0;
      while (settled < queue.length && queue[settled]!.lastIndex <= message.index) settled++;
      if (settled === 0) return;
      const now = this.nowMs();
      for (let i = 0; i < settled; i++) this.listener.onAppend(message.from, now - queue[i]!.sentAtMs);
      queue.splice(0, settled);
    } else if (message.type === 'heartbeatResp') {
      const sent = this.heartbeats.get(message.from);
      if (sent === undefined || sent.term !== message.term || sent.readContext !== message.readContext)
        return;
      this.heartbeats.delete(message.from);
      this.listener.onHeartbeat(message.from, this.nowMs() - sent.sentAtMs);
    }
  }

  /** Role or term changed: what was in flight belongs to the old term. */
  reset(): void {
    this.appends.clear();
    this.heartbeats.clear();
  }
}
