/**
 * The Watch service: one bidirectional stream carries any number of watches, each served from
 * this member's applied state (history from start_revision first, then live changes).
 *
 * Flow: the state machine's Watcher buffers events during apply and tells us it is readable; we
 * take events on a later turn of the event loop, only while gRPC accepts writes (write() ===
 * false pauses taking until 'drain'). A watch whose buffer outgrows its bound while we are
 * paused is cancelled by the Watcher (WATCHER_TOO_SLOW) and the client is told where to resume.
 */
import * as grpc from '@grpc/grpc-js';
import {
  StateMachineError,
  StateMachineErrorCode,
  type WatchEvent,
  type Watcher,
} from '../state-machine/index.js';
import type { ApiContext } from './api-context.js';
import { eventSize, eventToWire } from './convert.js';
import { ApiError, fromStateMachineError, invalidArgument, toApiError } from './errors.js';
import { RejectedRequest } from './proto.js';
import { toWatchOptions } from './validation.js';
import type {
  EventWire,
  WatchCancelRequestWire,
  WatchCreateRequestWire,
  WatchRequestWire,
  WatchResponseWire,
} from './wire-types.js';

export interface WatchServiceOptions {
  /** How often a watch that asked for progress_notify hears "nothing changed up to revision R". */
  readonly progressIntervalMs: number;
  /** Events one watch may have waiting for a slow stream before it is cancelled as too slow. */
  readonly maxBufferedEvents?: number;
}

/** Events taken from one watcher at a time: keeps a turn of the event loop short. */
const MAX_EVENTS_PER_TAKE = 1000;
/** A response grows past this only to keep one revision's events together. */
const RESPONSE_BYTES = 1024 * 1024;
/** Bytes of written but not yet flushed responses at which we stop taking events. */
const MAX_UNFLUSHED_BYTES = 2 * 1024 * 1024;
/** What a response without events is counted as. */
const CONTROL_RESPONSE_BYTES = 128;
/** Rounds over the readable watches per turn before yielding to other work. */
const DRAIN_ROUNDS_PER_TURN = 16;
/** The watch_id of answers that concern the whole stream (a progress request) or no watch. */
const STREAM_WIDE = -1;

type WatchStreamCall = grpc.ServerDuplexStream<WatchRequestWire | RejectedRequest, WatchResponseWire>;

interface ActiveWatch {
  readonly id: number;
  readonly watcher: Watcher;
  readonly progressNotify: boolean;
  /** Something was sent for this watch since the last periodic progress notification. */
  sentSinceProgress: boolean;
}

export function watchServiceImplementation(
  api: ApiContext,
  options: WatchServiceOptions,
): grpc.UntypedServiceImplementation {
  const watch = (call: WatchStreamCall): void => {
    const stream = new WatchStream(api, call, options);
    stream.start();
  };
  return { Watch: watch };
}

/** A cancel reason that makes sense to the client (the hub's own messages name its internal ids). */
function cancelReasonOf(reason: StateMachineError, maxBuffered: number): string {
  switch (reason.code) {
    case StateMachineErrorCode.WatcherTooSlow:
      return (
        `the watch fell more than ${maxBuffered} events behind (the client or network is too slow); ` +
        `resume from revision ${reason.requestedRevision ?? 'after the last one received'}`
      );
    case StateMachineErrorCode.Compacted:
      return `compacted: ${reason.message}; restart the watch from revision ${reason.compactRevision ?? 0} or later`;
    case StateMachineErrorCode.StateRestored:
      return `this member's state was replaced by an older snapshot (now at revision ${reason.currentRevision ?? 0}); restart the watch`;
    default:
      return reason.message;
  }
}

class WatchStream {
  private readonly watches = new Map<number, ActiveWatch>();
  /** Watches whose watcher has something to take (or history to read). */
  private readonly readable = new Set<ActiveWatch>();
  private nextWatchId = 1;
  /** Not taking events: the stream's buffers are full (see send). */
  private paused = false;
  private unflushedBytes = 0;
  private drainScheduled = false;
  private closed = false;
  private progressTimer: NodeJS.Timeout | null = null;
  private readonly startedAt = performance.now();
  private readonly abort = new AbortController();
  private untrack: () => void = () => {};
  private readonly maxBufferedEvents: number | undefined;

  constructor(
    private readonly api: ApiContext,
    private readonly call: WatchStreamCall,
    private readonly options: WatchServiceOptions,
  ) {
    this.maxBufferedEvents = options.maxBufferedEvents;
  }

  start(): void {
    if (this.api.runner.isStopped) {
      this.fail(this.api.runner.shuttingDown);
      return;
    }
    this.untrack = this.api.runner.track(this.abort);
    this.abort.signal.addEventListener('abort', () => {
      const reason: unknown = this.abort.signal.reason;
      this.fail(reason instanceof ApiError ? reason : this.api.runner.shuttingDown);
    });
    this.call.on('data', (request: WatchRequestWire | RejectedRequest) => this.onRequest(request));
    this.call.on('drain', () => this.maybeResume());
    this.call.on('end', () => {
      // The client half-closed: nothing more to serve.
      this.close(grpc.status.OK);
      this.call.end();
    });
    this.call.on('cancelled', () => this.close(grpc.status.CANCELLED));
    this.call.on('error', (error: Partial<grpc.StatusObject>) =>
      this.close(typeof error.code === 'number' ? error.code : grpc.status.UNKNOWN),
    );
    this.call.on('close', () => this.close(grpc.status.OK));
  }

  // --- Requests ---------------------------------------------------------------------------------

  private onRequest(request: WatchRequestWire | RejectedRequest): void {
    if (this.closed) return;
    try {
      if (request instanceof RejectedRequest) throw new ApiError(request.code, request.message);
      if (request === null || typeof request !== 'object') throw invalidArgument('empty WatchRequest');
      switch (request.request) {
        case 'create':
          this.create(request.create ?? null);
          return;
        case 'cancel':
          this.cancel(request.cancel ?? null);
          return;
        case 'progress':
          this.progress();
          return;
        default:
          throw invalidArgument('empty WatchRequest: set one of create, cancel or progress');
      }
    } catch (error) {
      // Bad input ends this stream (with a status saying why), never the node.
      this.fail(toApiError(error, 'read'));
    }
  }

  private create(wire: WatchCreateRequestWire | null): void {
    const requestedId =
      wire !== null &&
      typeof wire.watchId === 'number' &&
      Number.isSafeInteger(wire.watchId) &&
      wire.watchId > 0
        ? wire.watchId
        : STREAM_WIDE;
    const refuse = (reason: string, compactRevision?: number): void =>
      this.send({
        header: this.api.headers.make(),
        watchId: requestedId,
        created: true,
        canceled: true,
        cancelReason: reason,
        ...(compactRevision === undefined ? {} : { compactRevision }),
      });
    if (wire === null) {
      refuse('empty create request');
      return;
    }
    let validated;
    try {
      validated = toWatchOptions(wire, this.api.node.config.limits);
    } catch (error) {
      refuse(toApiError(error, 'read').message);
      return;
    }
    if (validated.watchId > 0 && this.watches.has(validated.watchId)) {
      refuse(
        `watch id ${validated.watchId} is already in use on this stream; choose another, or 0 to let the server choose`,
      );
      return;
    }
    let watcher: Watcher;
    try {
      watcher = this.api.node.replica.stateMachine.watch({
        ...validated.options,
        ...(this.maxBufferedEvents === undefined ? {} : { maxBufferedEvents: this.maxBufferedEvents }),
      });
    } catch (error) {
      if (error instanceof StateMachineError && error.code === StateMachineErrorCode.Compacted) {
        refuse(cancelReasonOf(error, 0), error.compactRevision);
      } else {
        refuse(
          error instanceof StateMachineError
            ? fromStateMachineError(error).message
            : toApiError(error, 'read').message,
        );
      }
      return;
    }
    const id = validated.watchId > 0 ? validated.watchId : this.allocateId();
    const active: ActiveWatch = {
      id,
      watcher,
      progressNotify: validated.progressNotify,
      sentSinceProgress: false,
    };
    this.watches.set(id, active);
    this.send({ header: this.api.headers.make(), watchId: id, created: true });
    if (active.progressNotify) this.startProgressTimer();
    watcher.setListener({
      // Both run inside apply: only note the fact, do the work on a later turn.
      onReadable: () => this.markReadable(active),
      onCancel: (_watcher, reason) => setImmediate(() => this.onWatcherEnded(active, reason)),
    });
  }

  private allocateId(): number {
    while (this.watches.has(this.nextWatchId)) this.nextWatchId++;
    return this.nextWatchId++;
  }

  private cancel(wire: WatchCancelRequestWire | null): void {
    const id = wire !== null && typeof wire.watchId === 'number' ? wire.watchId : 0;
    const active = this.watches.get(id);
    if (active === undefined) {
      this.send({
        header: this.api.headers.make(),
        watchId: id,
        canceled: true,
        cancelReason: `unknown watch id ${id}`,
      });
      return;
    }
    this.forget(active);
    active.watcher.cancel();
    // An empty reason: the client asked for it.
    this.send({ header: this.api.headers.make(), watchId: id, canceled: true });
  }

  /** Every event of every watch on this stream up to header.revision has been sent. */
  private progress(): void {
    let revision = this.api.node.replica.stateMachine.revision;
    for (const active of this.watches.values())
      revision = Math.min(revision, active.watcher.progressRevision);
    this.send({ header: this.api.headers.make(revision), watchId: STREAM_WIDE, progress: true });
  }

  // --- Events -----------------------------------------------------------------------------------

  private markReadable(active: ActiveWatch): void {
    if (this.watches.get(active.id) !== active) return;
    this.readable.add(active);
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.paused || this.closed) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    try {
      for (let round = 0; round < DRAIN_ROUNDS_PER_TURN && this.readable.size > 0; round++) {
        for (const active of [...this.readable]) {
          if (this.paused || this.closed) return;
          const events = active.watcher.take(MAX_EVENTS_PER_TAKE);
          if (events.length > 0) this.sendEvents(active, events);
          if (!active.watcher.readable) this.readable.delete(active);
        }
      }
      if (this.readable.size > 0) this.scheduleDrain();
    } catch (error) {
      this.fail(toApiError(error, 'read'));
    }
  }

  /** Sends taken events, splitting only between revisions, in responses of about RESPONSE_BYTES. */
  private sendEvents(active: ActiveWatch, events: readonly WatchEvent[]): void {
    let batch: EventWire[] = [];
    let bytes = 0;
    let batchRevision = 0;
    for (const event of events) {
      const revision = event.kv.modRevision;
      const size = eventSize(event);
      if (batch.length > 0 && revision !== batchRevision && bytes + size > RESPONSE_BYTES) {
        // Everything up to batchRevision has now been sent for this watch.
        this.send({ header: this.api.headers.make(batchRevision), watchId: active.id, events: batch }, bytes);
        batch = [];
        bytes = 0;
      }
      batch.push(eventToWire(event));
      bytes += size;
      batchRevision = revision;
    }
    const progressed = Math.max(batchRevision, active.watcher.progressRevision);
    this.send({ header: this.api.headers.make(progressed), watchId: active.id, events: batch }, bytes);
    active.sentSinceProgress = true;
  }

  private onWatcherEnded(active: ActiveWatch, reason: StateMachineError): void {
    // Cancelled on request, or the stream is closing: already answered.
    if (this.closed || this.watches.get(active.id) !== active) return;
    this.forget(active);
    const maxBuffered = active.watcher.maxBufferedEvents;
    this.send({
      header: this.api.headers.make(),
      watchId: active.id,
      canceled: true,
      cancelReason: cancelReasonOf(reason, maxBuffered),
      ...(reason.code === StateMachineErrorCode.Compacted && reason.compactRevision !== undefined
        ? { compactRevision: reason.compactRevision }
        : {}),
    });
  }

  private forget(active: ActiveWatch): void {
    this.watches.delete(active.id);
    this.readable.delete(active);
  }

  // --- Progress notifications -------------------------------------------------------------------

  private startProgressTimer(): void {
    if (this.progressTimer !== null) return;
    this.progressTimer = setInterval(() => this.notifyProgress(), this.options.progressIntervalMs);
    this.progressTimer.unref();
  }

  private notifyProgress(): void {
    if (this.closed || this.paused) return;
    for (const active of this.watches.values()) {
      if (!active.progressNotify) continue;
      if (!active.sentSinceProgress && !active.watcher.readable) {
        this.send({
          header: this.api.headers.make(active.watcher.progressRevision),
          watchId: active.id,
          progress: true,
        });
      }
      active.sentSinceProgress = false;
    }
  }

  // --- Output and the end of the stream ---------------------------------------------------------

  /**
   * Writes one response. We stop taking events while gRPC reports a full buffer (write() ===
   * false) or while more than MAX_UNFLUSHED_BYTES of our responses wait to be flushed: grpc-js
   * buffers 16 messages before write() says false, and ours may be large.
   */
  private send(response: WatchResponseWire, bytes = CONTROL_RESPONSE_BYTES): void {
    if (this.closed || this.call.writableEnded || this.call.destroyed) return;
    this.unflushedBytes += bytes;
    const accepted = this.call.write(response, () => {
      this.unflushedBytes -= bytes;
      this.maybeResume();
    });
    if (!accepted || this.unflushedBytes > MAX_UNFLUSHED_BYTES) this.paused = true;
  }

  private maybeResume(): void {
    if (!this.paused || this.call.writableNeedDrain || this.unflushedBytes > MAX_UNFLUSHED_BYTES / 2) return;
    this.paused = false;
    this.scheduleDrain();
  }

  /** Ends the stream with an error status. */
  private fail(error: ApiError): void {
    if (this.closed) return;
    this.close(error.code);
    if (error.code === grpc.status.INTERNAL)
      this.api.node.logger.error({ err: error }, 'watch stream failed');
    // grpc-js turns an 'error' on a server stream into the call's final status.
    this.call.emit('error', error.toStatus(this.api.node.config.id));
  }

  private close(code: grpc.status): void {
    if (this.closed) return;
    this.closed = true;
    this.untrack();
    if (this.progressTimer !== null) clearInterval(this.progressTimer);
    for (const active of [...this.watches.values()]) {
      this.forget(active);
      active.watcher.cancel();
    }
    this.readable.clear();
    this.api.runner.report('Watch/Watch', code, this.startedAt);
  }
}
