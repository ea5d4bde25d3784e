/**
 * Where a watch stands, so it can be re-created on another node without missing or repeating
 * anything. The server delivers events in revision order and never splits one revision's
 * events, so after delivering revision R the watch resumes from R + 1. Anything older than
 * what was already delivered is dropped anyway, as a safety net; within the last delivered
 * revision, events are told apart by (type, key, version) so a revision that arrives in two
 * pieces still shows each event once.
 */

export interface CursorEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly modRevision: number;
  readonly version: number;
}

export class WatchCursor {
  /** The revision to ask for when (re)creating the watch; 0 = "from now" (before the first creation only). */
  private next: number;
  /** The revision of the last event delivered (0 = none yet). */
  private last = 0;
  private seenAtLast = new Set<string>();

  constructor(startRevision: number) {
    this.next = Math.max(0, startRevision);
  }

  /** The start_revision for the next create request. */
  get startRevision(): number {
    return this.next;
  }

  /** The revision of the last event delivered (0 = none yet). */
  get lastRevision(): number {
    return this.last;
  }

  /** A "from now" watch was created when the store was at `revision`: later events are > it. */
  onCreated(headerRevision: number): void {
    if (this.next === 0) this.next = headerRevision + 1;
  }

  /** A progress notification: every event up to `headerRevision` was delivered. */
  onProgress(headerRevision: number): void {
    this.next = Math.max(this.next, headerRevision + 1);
  }

  /** Filters one response's events down to those not delivered before, and records them. */
  accept<E extends CursorEvent>(events: readonly E[]): E[] {
    const fresh: E[] = [];
    for (const event of events) {
      const identity = `${event.type}\u0000${event.version}\u0000${event.key}`;
      // Older than what we delivered: a replay.
      if (event.modRevision < this.last) continue;
      // The revision we delivered last: only events of it we have not seen.
      if (event.modRevision === this.last && this.seenAtLast.has(identity)) continue;
      // Before where this watch (re)started, and not the rest of the last revision.
      if (event.modRevision < this.next && event.modRevision !== this.last) continue;
      if (event.modRevision > this.last) {
        this.last = event.modRevision;
        this.seenAtLast = new Set();
      }
      this.seenAtLast.add(identity);
      fresh.push(event);
    }
    if (this.last >= this.next) this.next = this.last + 1;
    return fresh;
  }
}
