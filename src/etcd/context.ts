/** What every service of the etcd-compatible API shares. */
import type { RaftreeNode } from '../node/raftree-node.js';
import type { CallRunner } from '../api/call-runner.js';
import type { HeaderFactory } from '../api/header.js';
import type { LeaderRouter } from '../api/leader-router.js';
import { etcdClusterIdOf, idWords, memberIdOf } from './ids.js';
import type { EtcdApiOptions } from './index.js';
import type { EtcdServiceDefinitions } from './proto.js';
import type { ResponseHeaderWire } from './wire-types.js';

export interface EtcdContext {
  readonly node: RaftreeNode;
  /** Runs unary calls; its error mapper answers with etcd's codes and messages. */
  readonly runner: CallRunner;
  /** The native header factory (it follows the Raft term); etcdHeader() converts. */
  readonly headers: HeaderFactory;
  /** Forwards writes to the leader's etcd service. */
  readonly router: LeaderRouter;
  /** The unguarded definitions: forwarding serializes with them. */
  readonly services: EtcdServiceDefinitions;
  /** The options the extension was created with. */
  readonly options: EtcdApiOptions;
}

/** etcd's ResponseHeader at `revision` (default: the store's current revision). */
export function etcdHeader(context: EtcdContext, revision?: number): ResponseHeaderWire {
  const native = context.headers.make(revision);
  return {
    cluster_id: idWords(etcdClusterIdOf(native.clusterId)),
    member_id: idWords(memberIdOf(native.memberId)),
    revision: native.revision,
    raft_term: native.raftTerm,
  };
}
