/**
 * etcdserverpb.KV on raftree's state machine: the same keyspace and revisions the native API
 * serves. Reads are linearizable through a ReadIndex round unless `serializable`; writes are
 * validated here and proposed on the leader (a follower forwards them there).
 */
import * as grpc from '@grpc/grpc-js';
import { within, type CallContext } from '../api/call-context.js';
import { proposeCommand } from '../api/propose.js';
import { compactedError, futureRevisionError } from '../state-machine/errors.js';
import { validateCommand, type Command } from '../state-machine/index.js';
import { etcdHeader, type EtcdContext } from './context.js';
import { EtcdErrors } from './errors.js';
import { toCompactRevision, toDelete, toPut, toRange, toTxn } from './kv-requests.js';
import { deleteToWire, putToWire, rangeToWire, shapeRange, txnToWire } from './kv-responses.js';
import type {
  CompactionRequestWire,
  CompactionResponseWire,
  DeleteRangeRequestWire,
  DeleteRangeResponseWire,
  PutRequestWire,
  PutResponseWire,
  RangeRequestWire,
  RangeResponseWire,
  TxnRequestWire,
  TxnResponseWire,
} from './wire-types.js';

/** Waits for a ReadIndex round, so a read sees every write acknowledged before it started. */
export function linearizableBarrier(context: EtcdContext, call: CallContext): Promise<void> {
  return within(call, context.node.replica.readBarrier(), () => EtcdErrors.timeout);
}

export function kvServiceImplementation(context: EtcdContext): grpc.UntypedServiceImplementation {
  const { node, runner, router, services } = context;
  const replica = node.replica;
  const limits = node.config.limits;
  const kv = services.kv;

  /** Checks a command as apply would, so a bad one fails now instead of occupying the log. */
  const checked = <T extends Command>(command: T): T => {
    validateCommand(command);
    return command;
  };

  const range = async (wire: RangeRequestWire, call: CallContext): Promise<RangeResponseWire> => {
    const { request, serializable, shaping } = toRange(wire);
    if (!serializable) await linearizableBarrier(context, call);
    const result = replica.stateMachine.range(request);
    return rangeToWire(shapeRange(result, shaping), etcdHeader(context, result.revision));
  };

  const put = async (wire: PutRequestWire, call: CallContext): Promise<PutResponseWire> => {
    const command = checked(toPut(wire, limits));
    const result = await proposeCommand(replica, command, call, ['put']);
    return putToWire(result, etcdHeader(context, result.revision));
  };

  const deleteRange = async (
    wire: DeleteRangeRequestWire,
    call: CallContext,
  ): Promise<DeleteRangeResponseWire> => {
    const command = checked(toDelete(wire));
    const result = await proposeCommand(replica, command, call, ['delete', 'deleteRange', 'deleteInterval']);
    return deleteToWire(result, etcdHeader(context, result.revision));
  };

  const txn = async (wire: TxnRequestWire, call: CallContext): Promise<TxnResponseWire> => {
    const plan = toTxn(wire, limits);
    checked(plan.command);
    const result = await proposeCommand(replica, plan.command, call, ['txn']);
    return txnToWire(result, plan, etcdHeader(context, result.revision));
  };

  const compact = async (wire: CompactionRequestWire, call: CallContext): Promise<CompactionResponseWire> => {
    const revision = toCompactRevision(wire.revision);
    return router.route(kv['Compact']!, wire, call, 'write', async () => {
      // The leader has applied every acknowledged write, so its state decides without a log entry.
      const store = replica.stateMachine;
      if (revision > store.revision) throw futureRevisionError(revision, store.revision);
      if (revision <= store.compactRevision) throw compactedError(revision, store.compactRevision);
      const result = await proposeCommand(replica, { type: 'compact', revision }, call, ['compact']);
      return { header: etcdHeader(context, result.revision) };
    });
  };

  return {
    Range: runner.unary('etcd.KV/Range', 'read', range),
    Put: runner.unary('etcd.KV/Put', 'write', put),
    DeleteRange: runner.unary('etcd.KV/DeleteRange', 'write', deleteRange),
    Txn: runner.unary('etcd.KV/Txn', 'write', txn),
    Compact: runner.unary('etcd.KV/Compact', 'write', compact),
  };
}
