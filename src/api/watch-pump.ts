/**
 * The plumbing shared by the native Watch service and the etcd-compatible one: WatchPump moves
 * events from many watches onto one gRPC server stream without outrunning it, and
 * WatchCallLifecycle ends a stream's work exactly once, however the stream ends.
 *
 * The state machine's watchers buffer events during apply and say they are readable; the pump
 * serves readable watches on a later turn of the event loop, and only while the stream accepts
 * writes. grpc-js buffers 16 messages before write() says false and ours may be large, so the
 * pump also stops serving while too many of its bytes wait to be flushed. Control responses
 * (created, canceled, progress) are written at once whatever the state: they are small and few.
 */
import type { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { RaftreeNode } from '../node/raftree-node.js';
import type { CallRunner, StatusError } from './call-runner.js';

/** Bytes of written but not yet flushed responses at which the pump stops serving watches. */
const MAX_UNFLUSHED_BYTES = 2 * 1024 * 1024;
/** What a response without events is counted as. */
export const CONTROL_RESPONSE_BYTES = 128;
/** Rounds over the readable watches per turn before yielding to other work. */
const ROUNDS_PER_TURN = 16;

/** The part of a grpc-js server stream the pump writes to. */
export type PumpStream = Pick<Writable, 'write' | 'writableNeedDrain' | 'writableEnded' | 'destroyed' | 'on'>;

export interface PumpHandlers<W> {
  /** Takes what `watch` has ready and sends it (through send()); returns whether more is left. */
  serve(watch: W): boolean;
  /** serve() threw: the stream should end. */
  onError(error: unknown): void;
  /** A turn ended with no watch left readable: everything taken so far has been written. */
  onIdle?(): void;
}

export class WatchPump<W> {
  private readonly readable = new Set<W>();
  /** Not serving watches: the stream's buffers are full (see send). */
  private pausedForFlush = false;
  private unflushedBytes = 0;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly stream: PumpStream,
    private readonly handlers: PumpHandlers<W>,
  ) {
    stream.on('drain', () => this.maybeResume());
  }

  /** Waiting for the client to read: periodic notifications should wait too. */
  get paused(): boolean {
    return this.pausedForFlush;
  }

  /** Whether some watch has events (or history) not yet taken. */
  get busy(): boolean {
    return this.readable.size > 0;
  }

  /** `watch` has something to take; it is served on a later turn. Safe to call inside apply. */
  markReadable(watch: W): void {
    if (this.closed) return;
    this.readable.add(watch);
    this.schedule();
  }

  /** `watch` is gone: never serve it again. */
  forget(watch: W): void {
    this.readable.delete(watch);
  }

  /** Writes one response now; `bytes` is what it counts towards the unflushed limit. */
  send(response: object, bytes = CONTROL_RESPONSE_BYTES): void {
    const stream = this.stream;
    if (this.closed || stream.writableEnded || stream.destroyed) return;
    this.unflushedBytes += bytes;
    const accepted = stream.write(response, () => {
      this.unflushedBytes -= bytes;
      this.maybeResume();
    });
    if (!accepted || this.unflushedBytes > MAX_UNFLUSHED_BYTES) this.pausedForFlush = true;
  }

  /** Stops serving for good (the stream is ending). */
  close(): void {
    this.closed = true;
    this.readable.clear();
  }

  private schedule(): void {
    if (this.scheduled || this.pausedForFlush || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private run(): void {
    try {
      for (let round = 0; round < ROUNDS_PER_TURN && this.readable.size > 0; round++) {
        for (const watch of [...this.readable]) {
          if (this.pausedForFlush || this.closed) return;
          // Forgotten by an earlier serve() of this round (a cancel, say): skip it.
          if (!this.readable.has(watch)) continue;
          if (!this.handlers.serve(watch)) this.readable.delete(watch);
        }
      }
      if (this.readable.size > 0) this.schedule();
      else if (!this.closed) this.handlers.onIdle?.();
    } catch (error) {
      this.handlers.onError(error);
    }
  }

  private maybeResume(): void {
    if (
      !this.pausedForFlush ||
      this.stream.writableNeedDrain ||
      this.unflushedBytes > MAX_UNFLUSHED_BYTES / 2
    ) {
      return;
    }
    this.pausedForFlush = false;
    this.schedule();
  }
}

/** The part of a grpc-js server stream the lifecycle listens to and ends. */
type LifecycleCall = Pick<grpc.ServerDuplexStream<unknown, unknown>, 'on' | 'emit'>;

/**
 * A watch stream's end: the client cancels or goes away, the node's runner stops (every open
 * stream is aborted), or the service fails it with a status. `onEnd` runs once, first thing.
 */
export class WatchCallLifecycle {
  private ended = false;
  private untrack: () => void = () => {};
  private readonly startedAt = performance.now();

  constructor(
    private readonly node: RaftreeNode,
    private readonly runner: CallRunner,
    private readonly call: LifecycleCall,
    /** The method name requests are reported under. */
    private readonly method: string,
    private readonly onEnd: () => void,
  ) {}

  get isEnded(): boolean {
    return this.ended;
  }

  /** Follows the call and the runner; `onAbort` gets the runner's reason when it stops. */
  listen(onAbort: (reason: unknown) => void): void {
    const abort = new AbortController();
    this.untrack = this.runner.track(abort);
    abort.signal.addEventListener('abort', () => onAbort(abort.signal.reason));
    this.call.on('cancelled', () => this.end(grpc.status.CANCELLED));
    this.call.on('error', (error: Partial<grpc.StatusObject>) =>
      this.end(typeof error.code === 'number' ? error.code : grpc.status.UNKNOWN),
    );
    this.call.on('close', () => this.end(grpc.status.OK));
  }

  /** Stops the stream's work (the call itself ends, or was ended, elsewhere). */
  end(code: grpc.status): void {
    if (this.ended) return;
    this.ended = true;
    this.untrack();
    this.onEnd();
    this.runner.report(this.method, code, this.startedAt);
  }

  /** Ends the stream with an error status. */
  fail(error: StatusError): void {
    if (this.ended) return;
    this.end(error.code);
    if (error.code === grpc.status.INTERNAL) {
      this.node.logger.error({ err: error, method: this.method }, 'watch stream failed');
    }
    // grpc-js turns an 'error' on a server stream into the call's final status.
    this.call.emit('error', error.toStatus(this.node.config.id));
  }
}
