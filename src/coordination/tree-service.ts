/**
 * The Tree service: ZooKeeper's create / stat / children / delete on the one keyspace. Writes
 * are proposed on the leader (forwarded there by a follower); reads are linearizable unless the
 * request asks for a serializable (local) read.
 */
import type * as grpc from '@grpc/grpc-js';
import type { CallContext } from '../api/call-context.js';
import { type CoordinationContext, propose, readBarrier, unary } from './context.js';
import { toCreateCommand, toDeleteNodeCommand, toReadPath, toSerializable } from './validation.js';
import type {
  ChildrenResponseWire,
  CreateRequestWire,
  CreateResponseWire,
  DeleteNodeRequestWire,
  HeaderOnlyResponseWire,
  PathReadRequestWire,
  StatResponseWire,
} from './wire-types.js';

export function treeServiceImplementation(ctx: CoordinationContext): grpc.UntypedServiceImplementation {
  const { node, runner, headers, limits } = ctx;
  const replica = node.replica;

  const create = async (wire: CreateRequestWire, context: CallContext): Promise<CreateResponseWire> => {
    const command = toCreateCommand(wire, limits);
    const result = await propose(node, command, context, ['create']);
    return {
      header: headers.make(result.revision),
      path: result.path,
      createRevision: result.createRevision,
    };
  };

  const stat = async (wire: PathReadRequestWire, context: CallContext): Promise<StatResponseWire> => {
    const path = toReadPath(wire.path, 'stat path', limits);
    if (!toSerializable(wire.serializable)) await readBarrier(node, context);
    const machine = replica.stateMachine;
    const found = machine.range({ key: path }).kvs[0];
    const header = headers.make();
    if (found === undefined) return { header, exists: false, stat: null, value: new Uint8Array(0) };
    const children = machine.range({ key: path, range: 'children', countOnly: true }).count;
    return {
      header,
      exists: true,
      stat: {
        path,
        createRevision: found.createRevision,
        modRevision: found.modRevision,
        version: found.version,
        sessionId: found.session,
        numChildren: children,
        dataLength: found.value.length,
      },
      value: found.value,
    };
  };

  const children = async (wire: PathReadRequestWire, context: CallContext): Promise<ChildrenResponseWire> => {
    const path = toReadPath(wire.path, 'children path', limits);
    if (!toSerializable(wire.serializable)) await readBarrier(node, context);
    const result = replica.stateMachine.range({ key: path, range: 'children' });
    return { header: headers.make(), names: (result.children ?? []).map((child) => child.name) };
  };

  const remove = async (
    wire: DeleteNodeRequestWire,
    context: CallContext,
  ): Promise<HeaderOnlyResponseWire> => {
    const command = toDeleteNodeCommand(wire, limits);
    const result = await propose(node, command, context, ['deleteNode']);
    return { header: headers.make(result.revision) };
  };

  return {
    Create: unary(runner, 'Tree/Create', 'write', create),
    Stat: unary(runner, 'Tree/Stat', 'read', stat),
    Children: unary(runner, 'Tree/Children', 'read', children),
    Delete: unary(runner, 'Tree/Delete', 'write', remove),
  };
}
