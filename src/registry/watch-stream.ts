/**
 * WatchService: a server stream of one service's instances (or every service's). With
 * start_revision 0 the first message is a snapshot read at revision R (after confirming with
 * the leader that this member is current), and the watch starts right after R in the same
 * turn, so nothing is missed or repeated. With start_revision > 0 it replays the changes from
 * that revision (a client resuming after its last seen revision + 1).
 *
 * Each put or delete of an instance key becomes one event: REGISTERED (new key),
 * HEALTH_CHANGED (the status moved), UPDATED (anything else), DEREGISTERED (deleted).
 */
import * as grpc from '@grpc/grpc-js';
import type { CallContext } from '../api/call-context.js';
import type { CallRunner } from '../api/call-runner.js';
import { ApiError, fromStateMachineError, invalidArgument, toApiError } from '../api/errors.js';
import type { HeaderFactory } from '../api/header.js';
import { RejectedRequest } from '../api/proto.js';
import type { RaftreeNode } from '../node/raftree-node.js';
import {
  StateMachineError,
  StateMachineErrorCode,
  type WatchEvent,
  type Watcher,
} from '../state-machine/index.js';
import { classifyChange, servicePrefix, type ServiceChange } from './model.js';
import { recordOf, type RegistryOperations } from './registry-service.js';
import { optionalName } from './validation.js';
import {
  changeToWire,
  recordToWire,
  ServiceEventTypeWire,
  type ServiceEventWire,
  type WatchServiceRequestWire,
  type WatchServiceResponseWire,
} from './wire.js';

/** Events taken per turn of the event loop. */
const MAX_EVENTS_PER_TAKE = 1000;
/** A watch may have this many events waiting on a slow client before it is ended. */
const MAX_BUFFERED_EVENTS = 10_000;
/** How long the snapshot waits for the leader's confirmation. */
const BARRIER_TIMEOUT_MS = 10_000;

type WatchServiceCall = grpc.ServerWritableStream<
  WatchServiceRequestWire | RejectedRequest,
  WatchServiceResponseWire
>;

export interface WatchStreamDependencies {
  readonly node: RaftreeNode;
  readonly runner: CallRunner;
  readonly headers: HeaderFactory;
  readonly operations: RegistryOperations;
}

/** Maps a watch event of an instance key to a service change (undefined for other keys). */
export function changeOfEvent(event: WatchEvent): ServiceChange | undefined {
  const current = event.type === 'put' ? recordOf(event.kv) : undefined;
  const previous = event.prevKv === undefined ? undefined : recordOf(event.prevKv);
  // A put of something unreadable under the prefix is, for discovery, the instance going away.
  if (event.type === 'put' && current === undefined) {
    return previous === undefined
      ? undefined
      : classifyChange(event.kv.modRevision, event.kv.key, undefined, previous);
  }
  return classifyChange(event.kv.modRevision, event.kv.key, current, previous);
}

export class ServiceWatchStream {
  private watcher: Watcher | null = null;
  private closed = false;
  private paused = false;
  private drainScheduled = false;
  private readonly abort = new AbortController();
  private untrack: () => void = () => {};
  private readonly startedAt = performance.now();

  constructor(
    private readonly deps: WatchStreamDependencies,
    private readonly call: WatchServiceCall,
  ) {}

  start(): void {
    if (this.deps.runner.isStopped) {
      this.fail(this.deps.runner.shuttingDown);
      return;
    }
    this.untrack = this.deps.runner.track(this.abort);
    this.abort.signal.addEventListener('abort', () => {
      const reason: unknown = this.abort.signal.reason;
      this.fail(reason instanceof ApiError ? reason : this.deps.runner.shuttingDown);
    });
    this.call.on('cancelled', () => this.close(grpc.status.CANCELLED));
    this.call.on('error', () => this.close(grpc.status.UNKNOWN));
    this.call.on('close', () => this.close(grpc.status.OK));
    this.call.on('drain', () => {
      this.paused = false;
      this.scheduleDrain();
    });
    this.begin().catch((error: unknown) => this.fail(toApiError(error, 'read')));
  }

  private async begin(): Promise<void> {
    const request = this.call.request;
    if (request instanceof RejectedRequest) throw new ApiError(request.code, request.message);
    if (request === null || typeof request !== 'object') throw invalidArgument('the request is missing');
    const name = optionalName(request.name);
    const startRevision = typeof request.startRevision === 'number' ? request.startRevision : 0;
    if (!Number.isSafeInteger(startRevision) || startRevision < 0) {
      throw invalidArgument(
        `start_revision must be a non-negative integer, got ${String(request.startRevision)}`,
      );
    }
    const prefix = servicePrefix(name);
    if (startRevision === 0) {
      const context: CallContext = {
        deadline: Date.now() + BARRIER_TIMEOUT_MS,
        signal: this.abort.signal,
        forwardedBy: null,
      };
      await this.deps.operations.barrier(context);
      if (this.closed) return;
      // Read and watch in the same turn: the watch starts right after the snapshot's revision.
      const { records, revision } = this.deps.operations.readInstances(name);
      this.watcher = this.createWatcher(prefix, 0);
      const snapshot: ServiceEventWire = {
        type: ServiceEventTypeWire.SNAPSHOT,
        revision,
        instance: null,
        previous: null,
        instances: records.map(recordToWire),
      };
      this.send({ header: this.deps.headers.make(revision), events: [snapshot] });
    } else {
      try {
        this.watcher = this.createWatcher(prefix, startRevision);
      } catch (error) {
        if (error instanceof StateMachineError) throw fromStateMachineError(error);
        throw error;
      }
    }
    this.scheduleDrain();
  }

  private createWatcher(prefix: string, startRevision: number): Watcher {
    const watcher = this.deps.node.replica.stateMachine.watch({
      key: prefix,
      range: 'prefix',
      prevKv: true,
      maxBufferedEvents: MAX_BUFFERED_EVENTS,
      ...(startRevision > 0 ? { startRevision } : {}),
    });
    watcher.setListener({
      onReadable: () => this.scheduleDrain(),
      onCancel: (_watcher, reason) => setImmediate(() => this.onWatcherEnded(reason)),
    });
    return watcher;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.paused || this.closed || this.watcher === null) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const watcher = this.watcher;
    if (watcher === null || this.closed || this.paused) return;
    try {
      const events = watcher.take(MAX_EVENTS_PER_TAKE);
      const changes = events.map(changeOfEvent).filter((c): c is ServiceChange => c !== undefined);
      if (changes.length > 0) {
        const revision = changes[changes.length - 1]!.revision;
        const accepted = this.send({
          header: this.deps.headers.make(Math.max(revision, watcher.progressRevision)),
          events: changes.map(changeToWire),
        });
        if (!accepted) this.paused = true;
      }
      if (watcher.readable) this.scheduleDrain();
    } catch (error) {
      this.fail(toApiError(error, 'read'));
    }
  }

  private onWatcherEnded(reason: StateMachineError): void {
    if (this.closed) return;
    switch (reason.code) {
      case StateMachineErrorCode.WatchCancelled:
        return;
      case StateMachineErrorCode.WatcherTooSlow:
        this.fail(
          new ApiError(
            grpc.status.ABORTED,
            `the service watch fell more than ${MAX_BUFFERED_EVENTS} events behind; watch again from the last revision seen + 1`,
          ),
        );
        return;
      case StateMachineErrorCode.Compacted:
        this.fail(fromStateMachineError(reason));
        return;
      default:
        this.fail(
          new ApiError(grpc.status.UNAVAILABLE, `the service watch ended: ${reason.message}; watch again`),
        );
    }
  }

  private send(response: WatchServiceResponseWire): boolean {
    if (this.closed || this.call.writableEnded || this.call.destroyed) return true;
    return this.call.write(response);
  }

  private fail(error: ApiError): void {
    if (this.closed) return;
    this.close(error.code);
    this.call.emit('error', error.toStatus(this.deps.node.config.id));
  }

  private close(code: grpc.status): void {
    if (this.closed) return;
    this.closed = true;
    this.untrack();
    this.watcher?.cancel();
    this.watcher = null;
    this.deps.runner.report('Registry/WatchService', code, this.startedAt);
  }
}
