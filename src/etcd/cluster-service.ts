/**
 * etcdserverpb.Cluster on raftree's membership (etcd 3.4's api/v3rpc/member.go semantics).
 *
 * An etcd member has a uint64 id and peer URLs; a raftree member has a string node id and one
 * gRPC address that serves both peers and clients. So:
 * - ID is memberIdOf(node id), name is the node id, and peerURLs and clientURLs are both
 *   ["http://<address>"].
 * - MemberAdd receives only peer URLs (etcdctl keeps the name it is given to itself), but a
 *   raftree node must start with `--id NAME --join`. The name is therefore taken from the URL:
 *   `http://NAME@HOST:PORT` names the member NAME; a plain `http://HOST:PORT` names it
 *   `HOST-PORT` (characters a node id cannot hold become '_': `http://10.0.0.4:7001` →
 *   `10.0.0.4-7001`). The response's `member.name` says which name to start the node with.
 * - Every member always has its name and client URL (etcd leaves both empty until a new member
 *   first starts), so etcdctl lists every member as "started".
 *
 * MemberList answers from this member's own view, like etcd; changes run on the leader (a
 * follower forwards them) and answer once applied there.
 */
import * as grpc from '@grpc/grpc-js';
import { applyMembershipChange } from '../api/cluster-service.js';
import type { CallContext } from '../api/call-context.js';
import { ApiError } from '../api/errors.js';
import { toMemberAddress } from '../api/validation.js';
import type { ConfState, NodeId } from '../raft/types.js';
import { etcdHeader, type EtcdContext } from './context.js';
import { EtcdError, EtcdErrors } from './errors.js';
import { memberIdOf, memberWithId } from './ids.js';
import type {
  MemberAddRequestWire,
  MemberAddResponseWire,
  MemberListRequestWire,
  MemberListResponseWire,
  MemberPromoteRequestWire,
  MemberPromoteResponseWire,
  MemberRemoveRequestWire,
  MemberRemoveResponseWire,
  MembersResponseWire,
  MemberUpdateRequestWire,
  MemberUpdateResponseWire,
  MemberWire,
  ResponseHeaderWire,
} from './wire-types.js';

/** etcd promotes a learner once its log matches at least this share of the leader's (readyPercent). */
const LEARNER_READY_SHARE = 0.9;

/** What a node id may hold (src/api/validation.ts MEMBER_ID); longer derived names are refused. */
const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * etcd's URL rules (pkg/types NewURLs: scheme http, https, unix or unixs; host:port; no path),
 * with the optional userinfo raftree reads the member's name from.
 */
const PEER_URL =
  /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:([^@/?#]*)@)?(\[[0-9A-Fa-f:.%]+\]|[^\s/?#@:[\]]+):(\d{1,5})$/;
const ETCD_SCHEMES = new Set(['http', 'https', 'unix', 'unixs']);

const invalid = (message: string): EtcdError => new EtcdError(grpc.status.INVALID_ARGUMENT, message);

/** The member a MemberAdd or MemberUpdate names: raftree's node id and gRPC address. */
export interface PeerTarget {
  readonly nodeId: NodeId;
  readonly address: string;
}

/**
 * Reads a MemberAdd/MemberUpdate's peer URLs: exactly one distinct http://[NAME@]HOST:PORT.
 * Throws memberBadURLs for what etcd itself refuses, INVALID_ARGUMENT "raftree: ..." for what
 * only raftree cannot do (TLS or unix sockets, several URLs, an unusable name).
 */
export function toPeerTarget(peerURLs: readonly string[]): PeerTarget {
  const urls = [...new Set(peerURLs.map((url) => url.trim()))];
  if (urls.length === 0) throw EtcdErrors.memberBadURLs;
  const parsed = urls.map((url) => {
    const match = PEER_URL.exec(url);
    if (match === null || !ETCD_SCHEMES.has(match[1]!.toLowerCase())) throw EtcdErrors.memberBadURLs;
    return { url, scheme: match[1]!.toLowerCase(), user: match[2], host: match[3]!, port: match[4]! };
  });
  if (parsed.length > 1) {
    throw invalid(
      `raftree: a member has exactly one address (it serves peers and clients on one gRPC port); ` +
        `give one peer URL, got ${urls.join(', ')}`,
    );
  }
  const { url, scheme, user, host, port } = parsed[0]!;
  if (scheme !== 'http') {
    throw invalid(`raftree: peer URL ${url}: raftree members speak plaintext gRPC; give http://HOST:PORT`);
  }
  let address: string;
  try {
    address = toMemberAddress(`${host}:${port}`);
  } catch (error) {
    if (error instanceof ApiError) throw EtcdErrors.memberBadURLs;
    throw error;
  }
  const name = user === undefined || user === '' ? `${host}-${port}`.replace(/[^A-Za-z0-9_.-]/g, '_') : user;
  if (!NODE_ID.test(name)) {
    throw invalid(
      user === undefined || user === ''
        ? `raftree: the member name derived from ${url} ("${name}") is longer than 64 characters; ` +
            `name the member in the URL: http://NAME@${host}:${port}`
        : `raftree: member name "${user}" in ${url} may contain only letters, digits, '_', '.' and '-' (at most 64)`,
    );
  }
  return { nodeId: name, address };
}

/** A member as etcd describes it. */
export function memberToWire(
  addresses: ReadonlyMap<NodeId, string>,
  id: NodeId,
  isLearner: boolean,
): MemberWire {
  const address = addresses.get(id);
  const urls = address === undefined ? [] : [`http://${address}`];
  return { ID: memberIdOf(id), name: id, peerURLs: urls, clientURLs: urls, isLearner };
}

/** Every member, ordered by etcd id as etcd lists them. */
export function membersToWire(addresses: ReadonlyMap<NodeId, string>, conf: ConfState): MemberWire[] {
  const members = [
    ...conf.voters.map((id) => memberToWire(addresses, id, false)),
    ...conf.learners.map((id) => memberToWire(addresses, id, true)),
  ];
  return members.sort((a, b) => {
    const x = BigInt(a.ID);
    const y = BigInt(b.ID);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

export function clusterServiceImplementation(context: EtcdContext): grpc.UntypedServiceImplementation {
  const { node, runner, router, services } = context;
  const replica = node.replica;
  const cluster = services.cluster;

  /** etcd's Cluster service headers carry no revision (member.go header()). */
  const header = (): ResponseHeaderWire => ({ ...etcdHeader(context), revision: '0' });

  const membersNow = (): MemberWire[] => membersToWire(node.addresses, replica.status().conf);

  const membersResponse = (): MembersResponseWire => ({ header: header(), members: membersNow() });

  /** The member with etcd id `id` in this node's configuration, or memberNotFound. */
  const memberById = (id: string): { nodeId: NodeId; isLearner: boolean } => {
    const conf = replica.status().conf;
    const nodeId = memberWithId(id, [...conf.voters, ...conf.learners]);
    if (nodeId === undefined) throw EtcdErrors.memberNotFound;
    return { nodeId, isLearner: conf.learners.includes(nodeId) };
  };

  /** The member already at `address`, if any. */
  const memberAt = (address: string): NodeId | undefined => {
    const conf = replica.status().conf;
    return [...conf.voters, ...conf.learners].find((id) => node.addresses.get(id) === address);
  };

  const memberList = async (): Promise<MemberListResponseWire> => membersResponse();

  const memberAdd = async (wire: MemberAddRequestWire, call: CallContext): Promise<MemberAddResponseWire> => {
    const target = toPeerTarget(wire.peerURLs);
    const isLearner = wire.isLearner === true;
    return router.route(cluster['MemberAdd']!, wire, call, 'membership', async () => {
      if (memberAt(target.address) !== undefined) throw EtcdErrors.peerURLExist;
      const conf = replica.status().conf;
      if (conf.voters.includes(target.nodeId) || conf.learners.includes(target.nodeId)) {
        throw EtcdErrors.memberExist;
      }
      await applyMembershipChange(
        replica,
        { type: isLearner ? 'addLearner' : 'addVoter', nodeId: target.nodeId, context: target.address },
        call,
      );
      const url = `http://${target.address}`;
      return {
        header: header(),
        // etcd's answer names no client URL yet; the name is raftree's: the --id to start with.
        member: {
          ID: memberIdOf(target.nodeId),
          name: target.nodeId,
          peerURLs: [url],
          clientURLs: [],
          isLearner,
        },
        members: membersNow(),
      };
    });
  };

  const memberRemove = async (
    wire: MemberRemoveRequestWire,
    call: CallContext,
  ): Promise<MemberRemoveResponseWire> =>
    router.route(cluster['MemberRemove']!, wire, call, 'membership', async () => {
      const { nodeId } = memberById(wire.ID);
      await applyMembershipChange(replica, { type: 'removeNode', nodeId }, call);
      return membersResponse();
    });

  const memberPromote = async (
    wire: MemberPromoteRequestWire,
    call: CallContext,
  ): Promise<MemberPromoteResponseWire> =>
    router.route(cluster['MemberPromote']!, wire, call, 'membership', async () => {
      const { nodeId, isLearner } = memberById(wire.ID);
      if (!isLearner) throw EtcdErrors.memberNotLearner;
      // Only the leader knows how far the learner's log is (etcd's isLearnerReady).
      const raft = replica.status();
      const learnerMatch = raft.progress.get(nodeId)?.match ?? 0;
      const leaderMatch = raft.progress.get(node.config.id)?.match ?? raft.lastIndex;
      if (learnerMatch < leaderMatch * LEARNER_READY_SHARE) throw EtcdErrors.learnerNotReady;
      const address = node.addresses.get(nodeId);
      await applyMembershipChange(
        replica,
        address === undefined ? { type: 'addVoter', nodeId } : { type: 'addVoter', nodeId, context: address },
        call,
      );
      return membersResponse();
    });

  /**
   * raftree's membership changes cannot move a member to another address; MemberUpdate succeeds
   * only when it changes nothing (the URL the member already has).
   */
  const memberUpdate = async (wire: MemberUpdateRequestWire): Promise<MemberUpdateResponseWire> => {
    const { nodeId } = memberById(wire.ID);
    const target = toPeerTarget(wire.peerURLs);
    const current = node.addresses.get(nodeId);
    if (current === target.address) return membersResponse();
    const holder = memberAt(target.address);
    if (holder !== undefined && holder !== nodeId) throw EtcdErrors.peerURLExist;
    throw new EtcdError(
      grpc.status.UNIMPLEMENTED,
      `raftree: a member's address cannot change (raftree has no update-member change); remove ` +
        `member ${nodeId} (${current ?? 'no address'}) and add it again at ${target.address}`,
    );
  };

  return {
    MemberAdd: runner.unary('etcd.Cluster/MemberAdd', 'membership', memberAdd),
    MemberRemove: runner.unary('etcd.Cluster/MemberRemove', 'membership', memberRemove),
    MemberUpdate: runner.unary('etcd.Cluster/MemberUpdate', 'membership', memberUpdate),
    MemberList: runner.unary<MemberListRequestWire, MemberListResponseWire>(
      'etcd.Cluster/MemberList',
      'read',
      memberList,
    ),
    MemberPromote: runner.unary('etcd.Cluster/MemberPromote', 'membership', memberPromote),
  };
}
