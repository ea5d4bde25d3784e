/** Proposing a validated command on the leader and waiting, within the deadline, for its result. */
import * as grpc from '@grpc/grpc-js';
import type { Replica } from '../replica/replica.js';
import { encodeCommand, type Command, type CommandResult } from '../state-machine/index.js';
import { within, type CallContext } from './call-context.js';
import { ApiError, outcomeUnknown } from './errors.js';

type ResultOf<T extends CommandResult['type']> = Extract<CommandResult, { type: T }>;

/** Proposes `command` (which must already be validated) and returns its result once applied here. */
export async function proposeCommand<T extends CommandResult['type']>(
  replica: Replica,
  command: Command,
  context: CallContext,
  expected: readonly T[],
): Promise<ResultOf<T>> {
  const outcome = await within(context, replica.propose(encodeCommand(command)), () =>
    outcomeUnknown(grpc.status.DEADLINE_EXCEEDED, 'the deadline passed before the write was applied'),
  );
  // Thrown as it is: each API's error mapper words it (the native one and etcd's differ).
  if (!outcome.ok) throw outcome.error;
  const result = outcome.result;
  if (!(expected as readonly string[]).includes(result.type)) {
    throw new ApiError(
      grpc.status.INTERNAL,
      `internal error: a ${command.type} produced a ${result.type} result`,
    );
  }
  return result as ResultOf<T>;
}
