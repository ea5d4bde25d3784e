/**
 * The Cluster service: status and membership are answered by any member from its own view;
 * membership changes and leadership transfer run on the leader (forwarded there like writes).
 */
import * as grpc from '@grpc/grpc-js';
import type { RaftreeNode } from '../node/raftree-node.js';
import type { ConfChange, ConfState, NodeId, SoftState } from '../raft/types.js';
import type { Replica } from '../replica/replica.js';
import type { ApiContext } from './api-context.js';
import { within, type CallContext } from './call-context.js';
import { ApiError, outcomeUnknown } from './errors.js';
import { toMemberAddress, toMemberId } from './validation.js';
import { raftreeVersion } from './version.js';
import type {
  EmptyRequestWire,
  MemberAddRequestWire,
  MemberRemoveRequestWire,
  MembersResponseWire,
  MembershipResponseWire,
  MemberWire,
  StatusResponseWire,
  TransferLeadershipRequestWire,
  TransferLeadershipResponseWire,
} from './wire-types.js';

export function clusterServiceImplementation(api: ApiContext): grpc.UntypedServiceImplementation {
  const { node, runner, headers, router, services } = api;
  const replica = node.replica;
  const selfId = node.config.id;

  const membersOf = (conf: ConfState): MemberWire[] => [
    ...conf.voters.map((id) => ({ id, address: node.addresses.get(id) ?? '', isLearner: false })),
    ...conf.learners.map((id) => ({ id, address: node.addresses.get(id) ?? '', isLearner: true })),
  ];
  const memberList = (conf: ConfState): string => [...conf.voters, ...conf.learners].join(', ');

  const status = async (): Promise<StatusResponseWire> => {
    const raft = replica.status();
    return {
      header: headers.make(),
      id: selfId,
      address: node.addresses.get(selfId) ?? node.config.listen,
      role: raft.role,
      term: raft.term,
      leader: raft.leader ?? '',
      commitIndex: raft.commitIndex,
      appliedIndex: raft.appliedIndex,
      snapshotIndex: raft.snapshotIndex,
      members: membersOf(raft.conf),
      progress: [...raft.progress].map(([id, p]) => ({
        id,
        match: p.match,
        next: p.next,
        state: p.state,
        recentActive: p.recentActive,
      })),
      keys: replica.stateMachine.keyCount,
      version: raftreeVersion(),
    };
  };

  const members = async (): Promise<MembersResponseWire> => {
    const raft = replica.status();
    return { header: headers.make(), members: membersOf(raft.conf), leader: raft.leader ?? '' };
  };

  /** Proposes a membership change on the leader and waits until it is applied here. */
  const changeMembership = async (
    change: ConfChange,
    context: CallContext,
  ): Promise<MembershipResponseWire> => {
    await applyMembershipChange(replica, change, context);
    return { header: headers.make(), members: membersOf(replica.status().conf) };
  };

  const memberAdd = async (
    wire: MemberAddRequestWire,
    context: CallContext,
  ): Promise<MembershipResponseWire> => {
    const id = toMemberId(wire.id, 'member id');
    const address = toMemberAddress(wire.address);
    const learner = wire.learner === true;
    return router.route(services.cluster['MemberAdd']!, wire, context, 'membership', async () => {
      const conf = replica.status().conf;
      if (conf.voters.includes(id) || (learner && conf.learners.includes(id))) {
        throw new ApiError(
          grpc.status.ALREADY_EXISTS,
          `${id} is already a ${conf.voters.includes(id) ? 'voter' : 'learner'}; members are ${memberList(conf)}`,
        );
      }
      for (const [other, otherAddress] of node.addresses) {
        if (other !== id && otherAddress === address) {
          throw new ApiError(
            grpc.status.ALREADY_EXISTS,
            `address ${address} already belongs to member ${other}`,
          );
        }
      }
      // Adding a voter that is currently a learner promotes it.
      return changeMembership(
        { type: learner ? 'addLearner' : 'addVoter', nodeId: id, context: address },
        context,
      );
    });
  };

  const memberRemove = async (
    wire: MemberRemoveRequestWire,
    context: CallContext,
  ): Promise<MembershipResponseWire> => {
    const id = toMemberId(wire.id, 'member id');
    return router.route(services.cluster['MemberRemove']!, wire, context, 'membership', async () => {
      const conf = replica.status().conf;
      if (!conf.voters.includes(id) && !conf.learners.includes(id)) {
        throw new ApiError(grpc.status.NOT_FOUND, `${id} is not a member; members are ${memberList(conf)}`);
      }
      return changeMembership({ type: 'removeNode', nodeId: id }, context);
    });
  };

  const transferLeadership = async (
    wire: TransferLeadershipRequestWire,
    context: CallContext,
  ): Promise<TransferLeadershipResponseWire> => {
    const target = toMemberId(wire.target, 'transfer target');
    return router.route(services.cluster['TransferLeadership']!, wire, context, 'membership', async () => {
      const conf = replica.status().conf;
      if (conf.learners.includes(target)) {
        throw new ApiError(
          grpc.status.FAILED_PRECONDITION,
          `${target} is a learner and cannot lead; add it as a voter first`,
        );
      }
      if (!conf.voters.includes(target)) {
        throw new ApiError(
          grpc.status.NOT_FOUND,
          `${target} is not a member; voters are ${conf.voters.join(', ')}`,
        );
      }
      if (target !== selfId) {
        await within(
          context,
          awaitLeadershipTransfer(node, target),
          () =>
            new ApiError(
              grpc.status.DEADLINE_EXCEEDED,
              `the deadline passed before ${target} took over leadership`,
            ),
        );
      }
      return { header: headers.make() };
    });
  };

  return {
    Status: runner.unary<EmptyRequestWire, StatusResponseWire>('Cluster/Status', 'read', status),
    Members: runner.unary<EmptyRequestWire, MembersResponseWire>('Cluster/Members', 'read', members),
    MemberAdd: runner.unary('Cluster/MemberAdd', 'membership', memberAdd),
    MemberRemove: runner.unary('Cluster/MemberRemove', 'membership', memberRemove),
    TransferLeadership: runner.unary('Cluster/TransferLeadership', 'membership', transferLeadership),
  };
}

/**
 * Proposes a membership change (on the leader) and waits, within the call's deadline, until it
 * is applied on this node. A refusal (another change pending, an invalid change) surfaces as
 * ReplicaError REJECTED: FAILED_PRECONDITION. Shared with the etcd Cluster service.
 */
export async function applyMembershipChange(
  replica: Replica,
  change: ConfChange,
  context: CallContext,
): Promise<void> {
  const applied = replica.proposeConfChange(change);
  await within(context, applied, () =>
    outcomeUnknown(
      grpc.status.DEADLINE_EXCEEDED,
      'the deadline passed before the membership change was applied',
    ),
  );
}

/**
 * Starts a leadership transfer on the leader `node` and resolves once `target` leads; rejects
 * (ABORTED) when leadership went elsewhere or the transfer did not finish within a bound.
 * Shared with the etcd Maintenance service (MoveLeader).
 */
export function awaitLeadershipTransfer(node: RaftreeNode, target: NodeId): Promise<void> {
  const replica = node.replica;
  const selfId = node.config.id;
  const { tickMs, electionTicks } = node.config;
  // Raft abandons a transfer that has not finished within an election timeout.
  const boundMs = tickMs * electionTicks * 2 + 500;
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      replica.off('softState', onSoftState);
    };
    const onSoftState = (state: SoftState): void => {
      if (state.leader === target) {
        cleanup();
        resolve();
      } else if (state.leader !== null && state.leader !== selfId) {
        cleanup();
        reject(
          new ApiError(grpc.status.ABORTED, `leadership went to ${state.leader} instead of ${target}; retry`),
        );
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new ApiError(
          grpc.status.ABORTED,
          `leadership transfer to ${target} did not complete within ${boundMs} ms (is it caught up and reachable?); retry`,
        ),
      );
    }, boundMs);
    replica.on('softState', onSoftState);
    try {
      replica.transferLeadership(target);
    } catch (error) {
      cleanup();
      reject(error);
    }
  });
}
