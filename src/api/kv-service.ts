/**
 * The KV service. Reads are served by the member that receives them: linearizable by default
 * (a ReadIndex round with the leader, no log write), or straight from local state when
 * `serializable`. Writes are validated here, then proposed on the leader (forwarded there by a
 * follower).
 */
import * as grpc from '@grpc/grpc-js';
import { compactedError, futureRevisionError } from '../state-machine/errors.js';
import type { ApiContext } from './api-context.js';
import { within, type CallContext } from './call-context.js';
import { deleteToWire, putToWire, rangeToWire, txnToWire } from './convert.js';
import { ApiError, fromStateMachineError } from './errors.js';
import { proposeCommand } from './propose.js';
import {
  toCompactRevision,
  toDeleteCommand,
  toPutCommand,
  toRangeRequest,
  toTxnCommand,
} from './validation.js';
import type {
  CompactRequestWire,
  CompactResponseWire,
  DeleteRequestWire,
  DeleteResponseWire,
  PutRequestWire,
  PutResponseWire,
  RangeRequestWire,
  RangeResponseWire,
  TxnRequestWire,
  TxnResponseWire,
} from './wire-types.js';

export function kvServiceImplementation(api: ApiContext): grpc.UntypedServiceImplementation {
  const { node, runner, headers, router, services } = api;
  const replica = node.replica;
  const limits = node.config.limits;

  const range = async (wire: RangeRequestWire, context: CallContext): Promise<RangeResponseWire> => {
    const { request, serializable } = toRangeRequest(wire, limits);
    if (!serializable) {
      await within(
        context,
        replica.readBarrier(),
        () =>
          new ApiError(
            grpc.status.DEADLINE_EXCEEDED,
            'the deadline passed while confirming the read with the leader; retry, or ask for a ' +
              'serializable (local, possibly stale) read',
          ),
      );
    }
    const result = replica.stateMachine.range(request);
    return rangeToWire(result, headers.make(result.revision));
  };

  const put = async (wire: PutRequestWire, context: CallContext): Promise<PutResponseWire> => {
    const command = toPutCommand(wire, limits);
    const result = await proposeCommand(replica, command, context, ['put']);
    return putToWire(result, headers.make(result.revision));
  };

  const remove = async (wire: DeleteRequestWire, context: CallContext): Promise<DeleteResponseWire> => {
    const command = toDeleteCommand(wire, limits);
    const result = await proposeCommand(replica, command, context, [
      'delete',
      'deleteRange',
      'deleteInterval',
    ]);
    return deleteToWire(result, headers.make(result.revision));
  };

  const txn = async (wire: TxnRequestWire, context: CallContext): Promise<TxnResponseWire> => {
    const command = toTxnCommand(wire, limits);
    const result = await proposeCommand(replica, command, context, ['txn']);
    return txnToWire(result, headers.make(result.revision));
  };

  const compact = async (wire: CompactRequestWire, context: CallContext): Promise<CompactResponseWire> => {
    const revision = toCompactRevision(wire.revision);
    return router.route(services.kv['Compact']!, wire, context, 'write', async () => {
      // The leader has applied every acknowledged write, so its state decides without a log entry.
      const store = replica.stateMachine;
      if (revision > store.revision)
        throw fromStateMachineError(futureRevisionError(revision, store.revision));
      if (revision <= store.compactRevision) {
        throw fromStateMachineError(compactedError(revision, store.compactRevision));
      }
      const result = await proposeCommand(replica, { type: 'compact', revision }, context, ['compact']);
      return { header: headers.make(result.revision) };
    });
  };

  return {
    Range: runner.unary('KV/Range', 'read', range),
    Put: runner.unary('KV/Put', 'write', put),
    Delete: runner.unary('KV/Delete', 'write', remove),
    Txn: runner.unary('KV/Txn', 'write', txn),
    Compact: runner.unary('KV/Compact', 'write', compact),
  };
}
