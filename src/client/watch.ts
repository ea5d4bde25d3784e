/**
 * A watch that survives node failures. It runs one Watch stream at a time; when the stream
 * breaks (node killed, restarted, too slow, stopping) it re-creates the watch on another
 * endpoint from the revision after the last one it delivered, so the consumer sees every event
 * once, in revision order (watch-cursor.ts). Compaction of the needed history ends the watch
 * with a WatchCompactedError; so does anything the server refuses for good (bad key...), and
 * so does a run of failed attempts without progress, so it never loops forever.
 *
 * Consume it as an async iterable (`for await (const event of watcher)`) or as an
 * EventEmitter ('event', 'created', 'reconnecting', 'error', 'close').
 */
import { EventEmitter } from 'node:events';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { fullJitterDelayMs, type RetryPolicy } from './backoff.js';
import { NotConnectedError, type ConnectionPool } from './connection.js';
import type { EndpointSelector } from './endpoint-selector.js';
import {
  codeName,
  isStatusLike,
  RaftreeError,
  SERVER_TRAILERS,
  serverTrailers,
  WatchCompactedError,
} from './errors.js';
import type { RaftreeMethods } from './proto.js';
import { rangeModeOf } from './txn.js';
import { KeyValue } from './types.js';
import { WatchCursor } from './watch-cursor.js';
import type { EventWire, WatchRequestWire, WatchResponseWire } from './wire.js';
import { eventIterator } from './event-iterator.js';

export interface WatchOptions {
  /** Every key starting with `key`. */
  readonly prefix?: boolean;
  /** The direct children of the path `key`. */
  readonly children?: boolean;
  /** Deliver history from this revision first; absent or 0 = only changes from now on. */
  readonly startRevision?: number;
  /** Attach each key's previous value to its events. */
  readonly prevKv?: boolean;
  /** Give up after this many consecutive attempts that did not get the watch created (default 30). */
  readonly maxResumeAttempts?: number;
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** The revision of the write (kv.modRevision). */
  readonly revision: number;
  /** For a delete: the key and revision, empty value, version 0. */
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

export interface WatchCreatedInfo {
  readonly endpoint: string;
  /** The revision the (re)created watch starts from. */
  readonly startRevision: number;
  /** The store's revision on that node when it accepted the watch. */
  readonly headerRevision: number;
}

export interface WatchReconnectInfo {
  readonly failedEndpoint: string;
  readonly error: Error;
  /** Consecutive attempts without a created watch. */
  readonly attempt: number;
  readonly delayMs: number;
}

export interface WatchDependencies {
  readonly pool: ConnectionPool;
  readonly selector: EndpointSelector;
  readonly methods: RaftreeMethods;
  readonly retry: RetryPolicy;
  readonly connectTimeoutMs: number;
  readonly onEnd: (watcher: Watcher) => void;
}

type SessionEnd =
  | { readonly kind: 'closed' }
  | { readonly kind: 'fatal'; readonly error: RaftreeError }
  | { readonly kind: 'broken'; readonly error: Error; readonly created: boolean };

/** Codes after which a re-created watch has a chance. */
const RESUMABLE = new Set([
  'UNAVAILABLE',
  'CANCELLED',
  'DEADLINE_EXCEEDED',
  'ABORTED',
  'UNKNOWN',
  'INTERNAL',
]);

/** What a Watcher emits. */
export interface WatcherEvents {
  event: [event: WatchEvent];
  created: [info: WatchCreatedInfo];
  reconnecting: [info: WatchReconnectInfo];
  /** Emitted only when someone listens: an unobserved watch that fails must not crash the process. */
  error: [error: RaftreeError];
  close: [];
}

export class Watcher extends EventEmitter<WatcherEvents> implements AsyncIterable<WatchEvent> {
  readonly key: string;
  private readonly cursor: WatchCursor;
  private closed = false;
  private ended = false;
  private stream: ClientDuplexStream<WatchRequestWire, WatchResponseWire> | null = null;
  private wakeSleeper: (() => void) | null = null;
  private readonly readyPromise: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  /** Why the watch ended, if it ended with an error. */
  error: RaftreeError | null = null;

  constructor(
    key: string,
    private readonly options: WatchOptions,
    private readonly deps: WatchDependencies,
  ) {
    super();
    this.key = key;
    this.cursor = new WatchCursor(options.startRevision ?? 0);
    this.readyPromise = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // A watcher nobody awaits must not cause an unhandled rejection.
    this.readyPromise.catch(() => undefined);
    rangeModeOf(options, `watch ${key}`);
    // Start on a later turn, so listeners and iterators attached right after watch() see everything.
    setImmediate(() => {
      this.run().catch((error: unknown) =>
        this.finish(
          new RaftreeError({ code: 'INTERNAL', details: toError(error).message, operation: `watch ${key}` }),
        ),
      );
    });
  }

  /** Resolves once the watch is first created on a node (events after this point will be seen). */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  /** The revision of the last event delivered (0 = none yet). */
  get lastRevision(): number {
    return this.cursor.lastRevision;
  }

  /** Whether the watch has ended (closed or failed). */
  get isDone(): boolean {
    return this.ended;
  }

  /** Ends the watch now: no event is delivered after this returns. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wakeSleeper?.();
    this.finish(null);
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return eventIterator<WatchEvent>({
      emitter: this,
      valueEvent: 'event',
      ended: this.ended,
      error: this.error,
      close: () => this.close(),
    });
  }

  private async run(): Promise<void> {
    const maxAttempts = this.options.maxResumeAttempts ?? 30;
    let failures = 0;
    let failedEndpoint: string | undefined;
    while (!this.closed) {
      const endpoint = this.pickEndpoint(failedEndpoint);
      const end = await this.session(endpoint);
      if (end.kind === 'closed' || this.closed) break;
      if (end.kind === 'fatal') return this.finish(end.error);
      failures = end.created ? 1 : failures + 1;
      failedEndpoint = endpoint;
      this.deps.selector.reportFailure(endpoint);
      if (failures >= maxAttempts) {
        return this.finish(
          new RaftreeError({
            code: 'UNAVAILABLE',
            details: `gave up after ${failures} attempts to re-create the watch (last error: ${end.error.message})`,
            operation: `watch ${this.key}`,
            endpoint,
          }),
        );
      }
      // The first retry after a healthy session goes straight to another node.
      const delayMs = end.created ? 0 : fullJitterDelayMs(failures - 1, this.deps.retry);
      this.emit('reconnecting', { failedEndpoint: endpoint, error: end.error, attempt: failures, delayMs });
      await this.pause(delayMs);
    }
    this.finish(null);
  }

  private pickEndpoint(avoid: string | undefined): string {
    const plan = this.deps.selector.plan('read');
    return plan.find((e) => e !== avoid) ?? plan[0]!;
  }

  private pause(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeSleeper = null;
        resolve();
      }, ms);
      this.wakeSleeper = () => {
        clearTimeout(timer);
        this.wakeSleeper = null;
        resolve();
      };
    });
  }

  private async session(endpoint: string): Promise<SessionEnd> {
    const operation = `watch ${this.key}`;
    let connection;
    try {
      connection = this.deps.pool.get(endpoint);
      await connection.ready(Date.now() + this.deps.connectTimeoutMs);
    } catch (error) {
      if (this.closed) return { kind: 'closed' };
      if (!(error instanceof NotConnectedError)) throw error;
      return { kind: 'broken', error, created: false };
    }
    if (this.closed) return { kind: 'closed' };

    const stream = connection.bidi(this.deps.methods.watch);
    this.stream = stream;
    const startRevision = this.cursor.startRevision;
    return new Promise<SessionEnd>((resolve) => {
      let created = false;
      let settled = false;
      const end = (result: SessionEnd) => {
        if (settled) return;
        settled = true;
        this.stream = null;
        stream.removeAllListeners('data');
        // Keep an error listener: a late error on a stream we abandoned must not crash the process.
        stream.on('error', () => undefined);
        stream.cancel();
        resolve(this.closed ? { kind: 'closed' } : result);
      };

      stream.on('data', (response: WatchResponseWire) => {
        if (settled) return;
        if (response.canceled) {
          if (response.compactRevision > 0) {
            end({
              kind: 'fatal',
              error: this.compacted(response.compactRevision, endpoint, response.cancelReason),
            });
          } else if (!created) {
            // Refused at creation (bad key, bad revision...): another node would say the same.
            end({
              kind: 'fatal',
              error: new RaftreeError({
                code: 'INVALID_ARGUMENT',
                details: response.cancelReason || 'the server refused the watch',
                operation,
                endpoint,
              }),
            });
          } else {
            end({
              kind: 'broken',
              error: new Error(
                `watch canceled by ${endpoint}: ${response.cancelReason || 'no reason given'}`,
              ),
              created,
            });
          }
          return;
        }
        if (response.created && !created) {
          created = true;
          const headerRevision = response.header?.revision ?? 0;
          this.cursor.onCreated(headerRevision);
          if (response.header !== null) this.deps.selector.reportSuccess(endpoint, response.header);
          this.emit('created', { endpoint, startRevision, headerRevision });
          this.resolveReady();
        }
        if (response.events.length > 0) this.deliver(response.events);
        if (response.progress && response.header !== null) this.cursor.onProgress(response.header.revision);
      });
      stream.on('error', (error: unknown) => {
        if (this.closed) return end({ kind: 'closed' });
        if (!isStatusLike(error)) return end({ kind: 'broken', error: toError(error), created });
        const code = codeName(error.code);
        const trailers = serverTrailers(error);
        if (code === 'OUT_OF_RANGE' && trailers[SERVER_TRAILERS.compactRevision] !== undefined) {
          return end({
            kind: 'fatal',
            error: this.compacted(Number(trailers[SERVER_TRAILERS.compactRevision]), endpoint, error.details),
          });
        }
        const raftreeError = new RaftreeError({
          code,
          details: error.details,
          operation,
          endpoint,
          trailers,
        });
        end(
          RESUMABLE.has(code)
            ? { kind: 'broken', error: raftreeError, created }
            : { kind: 'fatal', error: raftreeError },
        );
      });
      stream.on('end', () =>
        end({ kind: 'broken', error: new Error(`watch stream from ${endpoint} ended`), created }),
      );
      stream.write({
        create: {
          key: this.key,
          mode: rangeModeOf(this.options, operation),
          startRevision,
          prevKv: this.options.prevKv ?? false,
          progressNotify: true,
        },
      });
    });
  }

  private deliver(wireEvents: readonly EventWire[]): void {
    const events: WatchEvent[] = [];
    for (const wire of wireEvents) {
      if (wire.kv === null) continue;
      const kv = KeyValue.fromWire(wire.kv);
      events.push({
        type: wire.type === 'DELETE' ? 'delete' : 'put',
        key: kv.key,
        revision: kv.modRevision,
        kv,
        ...(wire.prevKv !== null ? { prevKv: KeyValue.fromWire(wire.prevKv) } : {}),
      });
    }
    const fresh = this.cursor.accept(
      events.map((event) => ({
        event,
        type: event.type,
        key: event.key,
        modRevision: event.revision,
        version: event.kv.version,
      })),
    );
    for (const { event } of fresh) {
      if (this.closed) return;
      this.emit('event', event);
    }
  }

  private compacted(compactRevision: number, endpoint: string, reason: string): WatchCompactedError {
    const requested = this.cursor.startRevision;
    return new WatchCompactedError(compactRevision, requested, {
      details:
        `revision ${requested} is compacted (the oldest available is ${compactRevision}); ` +
        `re-read the current state and watch again from there${reason ? ` [${reason}]` : ''}`,
      operation: `watch ${this.key}`,
      endpoint,
    });
  }

  private finish(error: RaftreeError | null): void {
    if (this.ended) return;
    this.ended = true;
    this.closed = true;
    this.stream?.cancel();
    this.deps.onEnd(this);
    if (error !== null) {
      this.error = error;
      this.rejectReady(error);
      // Node would throw an 'error' nobody listens for; a finished watch should not crash the process.
      if (this.listenerCount('error') > 0) this.emit('error', error);
    } else {
      this.rejectReady(
        new RaftreeError({
          code: 'CANCELLED',
          details: 'the watch was closed',
          operation: `watch ${this.key}`,
        }),
      );
    }
    this.emit('close');
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
