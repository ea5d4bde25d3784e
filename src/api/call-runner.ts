/**
 * Runs every client call the same way: decode check, context (deadline, cancellation,
 * forwarding), exactly one answer, one report to the node (metrics hang off it), and no
 * exception or rejection ever escaping to grpc-js or the process.
 */
import * as grpc from '@grpc/grpc-js';
import type { RaftreeNode } from '../node/raftree-node.js';
import {
  CallAbort,
  effectiveDeadline,
  forwardedByOf,
  remainingMs,
  type CallContext,
} from './call-context.js';
import { ApiError, invalidArgument, toApiError, type RequestKind } from './errors.js';
import { RejectedRequest } from './proto.js';

/** How early a cancellation may come and still count as the deadline passing (timer jitter). */
const DEADLINE_SLACK_MS = 20;

export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

/** An error as a call answers it: a status code and the status object grpc-js sends. */
export interface StatusError {
  readonly code: grpc.status;
  readonly message: string;
  toStatus(memberId: string): Partial<grpc.StatusObject> & { code: grpc.status; details: string };
}

/** Turns whatever a handler threw into the error the client sees (the native API's by default). */
export type ErrorMapper = (error: unknown, kind: RequestKind) => StatusError;

/** A call or stream in progress that stop() aborts (an AbortController is one). */
export interface Abortable {
  abort(reason: unknown): void;
}

export class CallRunner {
  private readonly active = new Set<Abortable>();
  private stopped = false;

  constructor(
    private readonly node: RaftreeNode,
    private readonly defaultTimeoutMs: number,
    /** The etcd-compatible API answers with etcd's codes and messages instead. */
    readonly mapError: ErrorMapper = toApiError,
  ) {}

  get shuttingDown(): ApiError {
    return new ApiError(
      grpc.status.UNAVAILABLE,
      `node ${this.node.config.id} is shutting down; retry on another member`,
    );
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Adapts a promise-returning handler to grpc-js's unary callback style. */
  unary<Req extends object, Res>(
    method: string,
    kind: RequestKind,
    handler: UnaryHandler<Req, Res>,
  ): grpc.handleUnaryCall<Req | RejectedRequest, Res> {
    return (call, callback) => {
      const startedAt = performance.now();
      const controller = new CallAbort();
      let deadline = Infinity;
      let answered = false;
      const onCancelled = (): void => {
        // grpc-js cancels the call itself when its deadline passes: report that as what it is.
        controller.abort(
          Date.now() >= deadline - DEADLINE_SLACK_MS
            ? new ApiError(grpc.status.DEADLINE_EXCEEDED, 'the deadline passed')
            : new ApiError(grpc.status.CANCELLED, 'the client cancelled the call'),
        );
      };
      const finish = (error: StatusError | null, response?: Res): void => {
        if (answered) return;
        answered = true;
        this.active.delete(controller);
        call.off('cancelled', onCancelled);
        this.report(method, error?.code ?? grpc.status.OK, startedAt);
        if (error !== null && error.code === grpc.status.INTERNAL) {
          this.node.logger.error({ method, err: error }, 'client call failed');
        }
        try {
          if (error === null) callback(null, response);
          else callback(error.toStatus(this.node.config.id));
        } catch (callbackError) {
          // Answering a call that already ended must not become an unhandled rejection.
          this.node.logger.warn({ method, err: callbackError }, 'could not answer a client call');
        }
      };
      try {
        if (this.stopped) throw this.shuttingDown;
        this.active.add(controller);
        call.on('cancelled', onCancelled);
        const request: unknown = call.request;
        if (request instanceof RejectedRequest) throw new ApiError(request.code, request.message);
        if (request === null || typeof request !== 'object') throw invalidArgument('the request is missing');
        deadline = effectiveDeadline(call.getDeadline(), this.defaultTimeoutMs);
        const context: CallContext = {
          deadline,
          signal: controller,
          forwardedBy: forwardedByOf(call.metadata),
        };
        if (remainingMs(context) <= 0) {
          throw new ApiError(
            grpc.status.DEADLINE_EXCEEDED,
            'the deadline passed before the request was started',
          );
        }
        handler(request as Req, context).then(
          (response) => finish(null, response),
          (error: unknown) => finish(this.mapError(error, kind)),
        );
      } catch (error) {
        finish(this.mapError(error, kind));
      }
    };
  }

  /** A call (or stream) the runner should abort on stop; returns the function that forgets it. */
  track(controller: Abortable): () => void {
    this.active.add(controller);
    return () => this.active.delete(controller);
  }

  report(method: string, code: grpc.status, startedAt: number): void {
    try {
      this.node.reportRequest({
        method,
        code: grpc.status[code] ?? String(code),
        seconds: (performance.now() - startedAt) / 1000,
      });
    } catch (error) {
      // A failing metrics listener must not turn a served request into a failed one.
      this.node.logger.warn({ err: error, method }, 'request listener threw');
    }
  }

  /** Aborts every call in progress with UNAVAILABLE and refuses new ones. */
  stop(): void {
    this.stopped = true;
    const reason = this.shuttingDown;
    for (const controller of this.active) controller.abort(reason);
    this.active.clear();
  }
}
