/**
 * Watches on a key, a prefix or a path's direct children, from a past revision or from now.
 *
 * Delivery never blocks apply: a watcher that is caught up ("synced") gets each revision's
 * matching events pushed into its bounded queue synchronously during apply; its consumer pulls
 * them with take(). A watcher that starts in the past ("catching up") is not pushed to at all:
 * take() reads the store's retained history from its position until it reaches the current
 * revision, then the watcher joins the synced set. Since everything is synchronous there is no
 * gap between the two, so events arrive in revision order, none missed, none duplicated.
 *
 * A synced watcher whose queue would outgrow its bound is cancelled with WATCHER_TOO_SLOW (the
 * client resumes from its last revision + 1). One revision is never split, and a single revision
 * larger than the bound is still delivered to an empty queue.
 */
import {
  compactedError,
  invalidArgument,
  StateMachineError,
  StateMachineErrorCode,
  toStateMachineError,
} from './errors.js';
import { childPrefixOf, compareKeys, parentPrefixOf } from './paths.js';
import { beforeEnd } from './range-read.js';
import type { KeyChange, KeyValue, RangeMode } from './types.js';

/** What the hub needs from the store: its revisions and its retained change log. */
export interface WatchSource {
  readonly revision: number;
  readonly compactRevision: number;
  /** Changes at `revision` to keys `matches` accepts; throws COMPACTED for a compacted revision. */
  changesAt(revision: number, matches?: (key: string) => boolean): readonly KeyChange[];
}

export interface WatchOptions {
  readonly key: string;
  /**
   * Default 'exact'. 'children' matches keys directly under the path `key` (`key/name`, no
   * deeper); 'interval' matches keys in [key, rangeEnd).
   */
  readonly range?: RangeMode;
  /** Only with 'interval': the exclusive end (absent: every key from `key` on). */
  readonly rangeEnd?: string;
  /** First revision to report; absent or 0 means changes after the current revision only. */
  readonly startRevision?: number;
  /** Attach each key's previous value to its events. */
  readonly prevKv?: boolean;
  /** Events a synced watcher may hold untaken before it is cancelled as too slow. */
  readonly maxBufferedEvents?: number;
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  /** For a delete: the key and the deleting revision (modRevision), other fields 0 / empty. */
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

/** Callbacks run synchronously inside apply: keep them cheap (schedule the draining elsewhere). */
export interface WatchListener {
  /** The watcher went from nothing to take to something to take. */
  onReadable?(watcher: Watcher): void;
  /** The watcher ended (for any reason, including its own cancel()). Called once. */
  onCancel?(watcher: Watcher, reason: StateMachineError): void;
}

export const DEFAULT_MAX_BUFFERED_EVENTS = 10_000;
/** Revisions one take() reads from history at most, so catching up never stalls the caller for long. */
export const CATCH_UP_REVISIONS_PER_TAKE = 10_000;

type WatcherState = 'catchingUp' | 'synced' | 'cancelled';

interface QueuedRevision {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
}

/** The hub's side of a watcher, kept off Watcher's public surface. */
interface HubLink {
  source(): WatchSource;
  joinSynced(watcher: Watcher): void;
  leave(watcher: Watcher): void;
}

function toWatchEvent(change: KeyChange, withPrevKv: boolean): WatchEvent {
  const type = change.kv.version === 0 ? 'delete' : 'put';
  return withPrevKv && change.prevKv !== undefined
    ? { type, kv: change.kv, prevKv: change.prevKv }
    : { type, kv: change.kv };
}

export class Watcher {
  readonly id: number;
  readonly key: string;
  readonly range: RangeMode;
  readonly rangeEnd: string | undefined;
  readonly prevKv: boolean;
  readonly maxBufferedEvents: number;
  private readonly childPrefix: string;
  private state: WatcherState;
  /** Catching up: the next revision to read from history. Synced: the first revision it accepts. */
  private position: number;
  private readonly queue: QueuedRevision[] = [];
  private queuedEvents = 0;
  private listener: WatchListener | undefined;
  private reason: StateMachineError | undefined;
  private progressAtCancel = 0;

  /** @internal Created by WatchHub.watch(). */
  constructor(
    private readonly hub: HubLink,
    id: number,
    options: Required<Omit<WatchOptions, 'startRevision' | 'rangeEnd'>> & { rangeEnd: string | undefined },
    catchingUp: boolean,
    position: number,
  ) {
    this.id = id;
    this.key = options.key;
    this.range = options.range;
    this.rangeEnd = options.rangeEnd;
    this.prevKv = options.prevKv;
    this.maxBufferedEvents = options.maxBufferedEvents;
    this.childPrefix = childPrefixOf(options.key);
    this.state = catchingUp ? 'catchingUp' : 'synced';
    this.position = position;
  }

  /** Whether a change to `key` concerns this watcher. */
  readonly matches = (key: string): boolean => {
    switch (this.range) {
      case 'exact':
        return key === this.key;
      case 'prefix':
        return key.startsWith(this.key);
      case 'children':
        return parentPrefixOf(key) === this.childPrefix;
      case 'interval':
        return compareKeys(key, this.key) >= 0 && beforeEnd(key, this.rangeEnd);
    }
  };

  get cancelled(): boolean {
    return this.state === 'cancelled';
  }

  /** Why the watcher ended, once cancelled. */
  get cancelReason(): StateMachineError | undefined {
    return this.reason;
  }

  /** Whether take() has something to return (or history left to read). */
  get readable(): boolean {
    return this.state === 'catchingUp' || (this.state === 'synced' && this.queuedEvents > 0);
  }

  /** Untaken events in the queue (history not yet read while catching up is not counted). */
  get bufferedEvents(): number {
    return this.queuedEvents;
  }

  /**
   * A progress notification: every event of this watcher with a revision <= this one has been
   * returned by take(). Resume a broken watch from progressRevision + 1.
   */
  get progressRevision(): number {
    if (this.state === 'cancelled') return this.progressAtCancel;
    if (this.queue.length > 0) return this.queue[0]!.revision - 1;
    if (this.state === 'catchingUp') return this.position - 1;
    return this.hub.source().revision;
  }

  /**
   * Takes the next events in revision order: whole revisions, stopping before `maxEvents` would
   * be exceeded (a single bigger revision is returned whole). While catching up this may return
   * an empty array with `readable` still true: call again.
   */
  take(maxEvents: number = this.maxBufferedEvents): WatchEvent[] {
    const taken: WatchEvent[] = [];
    if (this.state === 'cancelled') return taken;
    while (this.queue.length > 0 && fits(taken.length, this.queue[0]!.events.length, maxEvents)) {
      const next = this.queue.shift()!;
      this.queuedEvents -= next.events.length;
      // A loop, not push(...events): one revision may hold more events than a call has arguments.
      for (const event of next.events) taken.push(event);
    }
    if (this.state === 'catchingUp' && this.queue.length === 0) this.catchUp(taken, maxEvents);
    return taken;
  }

  /** Sets (or clears) the listener; if the watcher is already readable, onReadable runs at once. */
  setListener(listener: WatchListener | undefined): void {
    this.listener = listener;
    if (this.readable) this.notifyReadable();
  }

  /** Stops the watcher; its onCancel gets WATCH_CANCELLED. Idempotent. */
  cancel(): void {
    this.end(new StateMachineError(StateMachineErrorCode.WatchCancelled, `watch ${this.id} was cancelled`));
  }

  // --- used by WatchHub -------------------------------------------------------------------------

  /** @internal The first revision a synced watcher accepts; the next one a catching-up one reads. */
  get nextRevision(): number {
    return this.position;
  }

  /** @internal */
  get isSynced(): boolean {
    return this.state === 'synced';
  }

  /** @internal Queues one revision's events (synced watchers only). */
  deliver(revision: number, events: readonly WatchEvent[]): void {
    if (this.state !== 'synced') return;
    if (this.queuedEvents > 0 && this.queuedEvents + events.length > this.maxBufferedEvents) {
      this.end(
        new StateMachineError(
          StateMachineErrorCode.WatcherTooSlow,
          `watch ${this.id} on "${this.key}" was cancelled: its consumer fell more than ` +
            `${this.maxBufferedEvents} events behind at revision ${revision}; resume from revision ` +
            `${this.progressRevision + 1}`,
          { requestedRevision: this.progressRevision + 1 },
        ),
      );
      return;
    }
    const wasReadable = this.readable;
    this.queue.push({ revision, events });
    this.queuedEvents += events.length;
    if (!wasReadable) this.notifyReadable();
  }

  /** @internal Switches a synced watcher to reading history from `revision` (the store jumped ahead). */
  rewind(revision: number): void {
    if (this.state !== 'synced') return;
    const wasReadable = this.readable;
    this.state = 'catchingUp';
    this.position = revision;
    if (!wasReadable) this.notifyReadable();
  }

  /** @internal Ends the watcher with `reason`: it leaves the hub, drops its queue, tells its listener. */
  end(reason: StateMachineError): void {
    if (this.state === 'cancelled') return;
    this.progressAtCancel = this.progressRevision;
    this.state = 'cancelled';
    this.reason = reason;
    this.queue.length = 0;
    this.queuedEvents = 0;
    this.hub.leave(this);
    try {
      this.listener?.onCancel?.(this, reason);
    } catch {
      // The watcher is already gone; a failing cancel callback has nothing left to break.
    }
  }

  private catchUp(taken: WatchEvent[], maxEvents: number): void {
    const source = this.hub.source();
    if (this.position < source.compactRevision) {
      this.end(compactedError(this.position, source.compactRevision));
      return;
    }
    for (let read = 0; read < CATCH_UP_REVISIONS_PER_TAKE && this.position <= source.revision; read++) {
      const changes = source.changesAt(this.position, this.matches);
      if (!fits(taken.length, changes.length, maxEvents)) return;
      for (const change of changes) taken.push(toWatchEvent(change, this.prevKv));
      this.position++;
    }
    if (this.position > source.revision) {
      this.state = 'synced';
      this.hub.joinSynced(this);
    }
  }

  private notifyReadable(): void {
    try {
      this.listener?.onReadable?.(this);
    } catch (error) {
      const cause = toStateMachineError(error).message;
      this.end(
        new StateMachineError(
          StateMachineErrorCode.ListenerFailed,
          `watch ${this.id} was cancelled because its onReadable listener threw: ${cause}`,
        ),
      );
    }
  }
}

/** Whether a revision of `incoming` events may join `already` taken ones without passing `max`. */
function fits(already: number, incoming: number, max: number): boolean {
  return already === 0 || already + incoming <= max;
}

export class WatchHub {
  private nextWatcherId = 1;
  /** Synced exact-key watchers by key, and children watchers by child prefix: O(1) per event. */
  private readonly exactWatchers = new Map<string, Set<Watcher>>();
  private readonly childrenWatchers = new Map<string, Set<Watcher>>();
  /** Synced prefix watchers: checked one by one per event. */
  /** Prefix and interval watchers: checked one by one against every changed key. */
  private readonly scannedWatchers = new Set<Watcher>();
  private readonly watchers = new Set<Watcher>();
  private currentSource: WatchSource;
  /** The last revision published (or the source's revision when the hub was created / resynced). */
  private seenRevision: number;
  private readonly link: HubLink = {
    source: () => this.currentSource,
    joinSynced: (watcher) => this.index(watcher),
    leave: (watcher) => this.remove(watcher),
  };

  constructor(source: WatchSource) {
    this.currentSource = source;
    this.seenRevision = source.revision;
  }

  /** The store's current revision (a hub-wide progress notification). */
  get revision(): number {
    return this.currentSource.revision;
  }

  /** Active (not cancelled) watchers. */
  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Starts a watch. Throws INVALID_ARGUMENT for bad options, COMPACTED if startRevision was compacted. */
  watch(options: WatchOptions): Watcher {
    const range = options.range ?? 'exact';
    if (range !== 'exact' && range !== 'prefix' && range !== 'children' && range !== 'interval') {
      throw invalidArgument(
        `watch range must be 'exact', 'prefix', 'children' or 'interval', got '${String(range)}'`,
      );
    }
    const mayBeEmpty = range === 'prefix' || range === 'interval';
    if (typeof options.key !== 'string' || (!mayBeEmpty && options.key.length === 0)) {
      throw invalidArgument(
        `watch key must be a non-empty string (only prefix and interval watches may use '')`,
      );
    }
    if (options.rangeEnd !== undefined && (range !== 'interval' || typeof options.rangeEnd !== 'string')) {
      throw invalidArgument(`watch rangeEnd must be a string, and is allowed only with the 'interval' range`);
    }
    const startRevision = options.startRevision ?? 0;
    if (!Number.isSafeInteger(startRevision) || startRevision < 0) {
      throw invalidArgument(`watch startRevision must be a non-negative integer, got ${startRevision}`);
    }
    const maxBufferedEvents = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    if (!Number.isSafeInteger(maxBufferedEvents) || maxBufferedEvents < 1) {
      throw invalidArgument(`watch maxBufferedEvents must be a positive integer, got ${maxBufferedEvents}`);
    }
    const source = this.currentSource;
    if (startRevision > 0 && startRevision < source.compactRevision) {
      throw compactedError(startRevision, source.compactRevision);
    }
    const catchingUp = startRevision > 0 && startRevision <= source.revision;
    const position =
      startRevision > source.revision ? startRevision : catchingUp ? startRevision : source.revision + 1;
    const watcher = new Watcher(
      this.link,
      this.nextWatcherId++,
      {
        key: options.key,
        range,
        rangeEnd: options.rangeEnd,
        prevKv: options.prevKv === true,
        maxBufferedEvents,
      },
      catchingUp,
      position,
    );
    this.watchers.add(watcher);
    if (!catchingUp) this.index(watcher);
    return watcher;
  }

  /** Called by the state machine after each committed write revision, with that revision's changes. */
  publish(revision: number, changes: readonly KeyChange[]): void {
    if (revision !== this.seenRevision + 1) {
      // Revisions were skipped (cannot happen in normal apply): let everyone read them from history.
      this.resync(this.currentSource);
      return;
    }
    this.seenRevision = revision;
    // No synced watcher to push to (a node nobody watches): nothing to allocate per revision.
    if (this.exactWatchers.size === 0 && this.childrenWatchers.size === 0 && this.scannedWatchers.size === 0)
      return;
    // Built on the first match: most revisions match no watcher at all.
    let deliveries: Map<Watcher, WatchEvent[]> | undefined;
    for (const change of changes) {
      const key = change.kv.key;
      const exact = this.exactWatchers.get(key);
      const parent = this.childrenWatchers.size === 0 ? undefined : parentPrefixOf(key);
      const children = parent === undefined ? undefined : this.childrenWatchers.get(parent);
      if (exact === undefined && children === undefined && this.scannedWatchers.size === 0) continue;
      let plain: WatchEvent | undefined;
      let withPrev: WatchEvent | undefined;
      const add = (watcher: Watcher): void => {
        if (watcher.nextRevision > revision) return;
        let event: WatchEvent;
        if (watcher.prevKv) event = withPrev ??= toWatchEvent(change, true);
        else event = plain ??= toWatchEvent(change, false);
        deliveries ??= new Map();
        const events = deliveries.get(watcher);
        if (events === undefined) deliveries.set(watcher, [event]);
        else events.push(event);
      };
      exact?.forEach(add);
      children?.forEach(add);
      for (const watcher of this.scannedWatchers) if (watcher.matches(key)) add(watcher);
    }
    if (deliveries !== undefined)
      for (const [watcher, events] of deliveries) watcher.deliver(revision, events);
  }

  /** Called after compaction: catching-up watchers whose next revision is gone end with COMPACTED. */
  compacted(): void {
    const compactRevision = this.currentSource.compactRevision;
    for (const watcher of this.watchers) {
      if (!watcher.isSynced && watcher.nextRevision < compactRevision) {
        watcher.end(compactedError(watcher.nextRevision, compactRevision));
      }
    }
  }

  /**
   * Called after the state was replaced (snapshot restore). Synced watchers now behind the store
   * catch up from history (or end with COMPACTED if it is gone); if the state went backwards,
   * every watcher ends with STATE_RESTORED since the revisions it saw no longer exist.
   */
  resync(source: WatchSource): void {
    this.currentSource = source;
    const previous = this.seenRevision;
    this.seenRevision = source.revision;
    for (const watcher of [...this.watchers]) {
      if (source.revision < previous) {
        watcher.end(
          new StateMachineError(
            StateMachineErrorCode.StateRestored,
            `watch ${watcher.id} ended: the state was restored to revision ${source.revision}, ` +
              `before revision ${previous} it had already seen`,
            { currentRevision: source.revision },
          ),
        );
        continue;
      }
      const resumeAt = Math.max(watcher.nextRevision, previous + 1);
      if (watcher.isSynced && resumeAt <= source.revision) {
        this.unindex(watcher);
        watcher.rewind(resumeAt);
      }
    }
    this.compacted();
  }

  /** Ends every watcher with `reason` (e.g. when the node stops serving). */
  cancelAll(reason: StateMachineError): void {
    for (const watcher of [...this.watchers]) watcher.end(reason);
  }

  private index(watcher: Watcher): void {
    if (watcher.range === 'prefix' || watcher.range === 'interval') {
      this.scannedWatchers.add(watcher);
      return;
    }
    const byKey = watcher.range === 'exact' ? this.exactWatchers : this.childrenWatchers;
    const indexKey = watcher.range === 'exact' ? watcher.key : childPrefixOf(watcher.key);
    let set = byKey.get(indexKey);
    if (set === undefined) {
      set = new Set();
      byKey.set(indexKey, set);
    }
    set.add(watcher);
  }

  private unindex(watcher: Watcher): void {
    if (watcher.range === 'prefix' || watcher.range === 'interval') {
      this.scannedWatchers.delete(watcher);
      return;
    }
    const byKey = watcher.range === 'exact' ? this.exactWatchers : this.childrenWatchers;
    const indexKey = watcher.range === 'exact' ? watcher.key : childPrefixOf(watcher.key);
    const set = byKey.get(indexKey);
    if (set?.delete(watcher) === true && set.size === 0) byKey.delete(indexKey);
  }

  private remove(watcher: Watcher): void {
    this.unindex(watcher);
    this.watchers.delete(watcher);
  }
}
