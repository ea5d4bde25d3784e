/**
 * The Watch service: one bidirectional stream carries any number of watches, each served from
 * this member's applied state (history from start_revision first, then live changes).
 *
 * Flow: the state machine's Watcher buffers events during apply and tells us it is readable; the
 * WatchPump (watch-pump.ts) takes them on a later turn of the event loop, only while gRPC
 * accepts writes. A watch whose buffer outgrows its bound while we are paused is cancelled by
 * the Watcher (WATCHER_TOO_SLOW) and the client is told where to resume.
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
import { WatchCallLifecycle, WatchPump } from './watch-pump.js';
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
  /** Serves the watches whose watcher has something to take (or history to read). */
  private readonly pump: WatchPump<ActiveWatch>;
  private readonly lifecycle: WatchCallLifecycle;
  private nextWatchId = 1;
  private progressTimer: NodeJS.Timeout | null = null;
  private readonly maxBufferedEvents: number | undefined;

  constructor(
    private readonly api: ApiContext,
    private readonly call: WatchStreamCall,
    private readonly options: WatchServiceOptions,
  ) {
    this.maxBufferedEvents = options.maxBufferedEvents;
    this.pump = new WatchPump<ActiveWatch>(call, {
      serve: (active) => this.serve(active),
      onError: (error) => this.fail(toApiError(error, 'read')),
    });
    this.lifecycle = new WatchCallLifecycle(api.node, api.runner, call, 'Watch/Watch', () => this.cleanUp());
  }

  private get closed(): boolean {
    return this.lifecycle.isEnded;
  }

  start(): void {
    if (this.api.runner.isStopped) {
      this.fail(this.api.runner.shuttingDown);
      return;
    }
    this.lifecycle.listen((reason) =>
      this.fail(reason instanceof ApiError ? reason : this.api.runner.shuttingDown),
    );
    this.call.on('data', (request: WatchRequestWire | RejectedRequest) => this.onRequest(request));
    this.call.on('end', () => {
      // The client half-closed: nothing more to serve.
      this.lifecycle.end(grpc.status.OK);
      this.call.end();
    });
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
    this.pump.markReadable(active);
  }

  /** Takes what the watch has ready and sends it; returns whether more is left. */
  private serve(active: ActiveWatch): boolean {
    const events = active.watcher.take(MAX_EVENTS_PER_TAKE);
    if (events.length > 0) this.sendEvents(active, events);
    return active.watcher.readable;
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
        this.pump.send(
          { header: this.api.headers.make(batchRevision), watchId: active.id, events: batch },
          bytes,
        );
        batch = [];
        bytes = 0;
      }
      batch.push(eventToWire(event));
      bytes += size;
      batchRevision = revision;
    }
    const progressed = Math.max(batchRevision, active.watcher.progressRevision);
    this.pump.send({ header: this.api.headers.make(progressed), watchId: active.id, events: batch }, bytes);
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
    this.pump.forget(active);
  }

  // --- Progress notifications -------------------------------------------------------------------

  private startProgressTimer(): void {
    if (this.progressTimer !== null) return;
    this.progressTimer = setInterval(() => this.notifyProgress(), this.options.progressIntervalMs);
    this.progressTimer.unref();
  }

  private notifyProgress(): void {
    if (this.closed || this.pump.paused) return;
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

  /** Writes one control response (events go through sendEvents). */
  private send(response: WatchResponseWire): void {
    if (this.closed) return;
    this.pump.send(response);
  }

  /** Ends the stream with an error status. */
  private fail(error: ApiError): void {
    this.lifecycle.fail(error);
  }

  /** The stream ended: stop every watch. */
  private cleanUp(): void {
    if (this.progressTimer !== null) clearInterval(this.progressTimer);
    for (const active of [...this.watches.values()]) {
      this.forget(active);
      active.watcher.cancel();
    }
    this.pump.close();
  }
}
