/** What the coordination services share, and the small helpers they all use. */
import * as grpc from '@grpc/grpc-js';
import type { CallRunner, UnaryHandler } from '../api/call-runner.js';
import { within, type CallContext } from '../api/call-context.js';
import { ApiError, outcomeUnknown, type RequestKind } from '../api/errors.js';
import type { HeaderFactory } from '../api/header.js';
import type { RejectedRequest } from '../api/proto.js';
import type { LeaderRouter } from '../api/leader-router.js';
import type { RaftreeNode } from '../node/raftree-node.js';
import type { RequestLimits } from '../node/node-config.js';
import { encodeCommand, type Command, type CommandResult } from '../state-machine/index.js';
import { coordinationError, mapped } from './errors.js';
import type { CoordinationServiceDefinitions } from './proto.js';
import type { SessionKeeper } from './session-keeper.js';

export interface CoordinationContext {
  readonly node: RaftreeNode;
  /** Unary calls with the ordinary default deadline. */
  readonly runner: CallRunner;
  /** Campaign and Lock: they may wait much longer for their turn. */
  readonly waitRunner: CallRunner;
  readonly headers: HeaderFactory;
  readonly router: LeaderRouter;
  readonly keeper: SessionKeeper;
  /** The unguarded definitions: forwarding serializes with them. */
  readonly services: CoordinationServiceDefinitions;
  readonly limits: RequestLimits;
  /** Aborted when the extension stops: background work (cleanups) ends with it. */
  readonly stopping: AbortSignal;
}

type ResultOf<T extends CommandResult['type']> = Extract<CommandResult, { type: T }>;

/** runner.unary with the coordination error codes mapped. */
export function unary<Req extends object, Res>(
  runner: CallRunner,
  method: string,
  kind: RequestKind,
  handler: UnaryHandler<Req, Res>,
): grpc.handleUnaryCall<Req | RejectedRequest, Res> {
  return runner.unary<Req, Res>(method, kind, (request, context) => mapped(() => handler(request, context)));
}

/** Proposes a validated command on the leader and returns its result once applied here. */
export async function propose<T extends CommandResult['type']>(
  node: RaftreeNode,
  command: Command,
  context: CallContext,
  expected: readonly T[],
): Promise<ResultOf<T>> {
  const outcome = await within(context, node.replica.propose(encodeCommand(command)), () =>
    outcomeUnknown(grpc.status.DEADLINE_EXCEEDED, 'the deadline passed before the write was applied'),
  );
  if (!outcome.ok) throw coordinationError(outcome.error);
  const result = outcome.result;
  if (!(expected as readonly string[]).includes(result.type)) {
    throw new ApiError(
      grpc.status.INTERNAL,
      `internal error: a ${command.type} produced a ${result.type} result`,
    );
  }
  return result as ResultOf<T>;
}

/** A linearizable read point: this node has applied everything committed before now. */
export function readBarrier(node: RaftreeNode, context: CallContext): Promise<void> {
  return within(
    context,
    node.replica.readBarrier(),
    () =>
      new ApiError(
        grpc.status.DEADLINE_EXCEEDED,
        'the deadline passed while confirming the read with the leader; retry, or ask for a serializable read',
      ),
  );
}

/** A context for work that must outlive the call that started it (cleanup after a cancel). */
export function detachedContext(stopping: AbortSignal, timeoutMs: number): CallContext {
  return { deadline: Date.now() + timeoutMs, signal: stopping, forwardedBy: null };
}
