/**
 * The coordination API (proto/coordination.proto: Session, Tree, Election) as a node extension:
 *
 *   RaftreeNode.start(config, { extensions: [clientApiExtension(), coordinationExtension()] })
 *
 * One extension instance per node; it runs the node's SessionKeeper (leader-side session
 * deadlines, expiry and TTL checkpoints), shared with the etcd Lease API (shared-keeper.ts).
 * See docs/coordination.md.
 */
import type * as grpc from '@grpc/grpc-js';
import { CallRunner } from '../api/call-runner.js';
import { HeaderFactory } from '../api/header.js';
import { LeaderRouter } from '../api/leader-router.js';
import { guardedService } from '../api/proto.js';
import type { NodeExtension, RaftreeNode } from '../node/raftree-node.js';
import type { CoordinationContext } from './context.js';
import { electionServiceImplementation } from './election-service.js';
import { coordinationServiceDefinitions } from './proto.js';
import { LeaderChannels, sessionServiceImplementation } from './session-service.js';
import { acquireSessionKeeper, type SessionKeeperHandle, type SessionKeeperTuning } from './shared-keeper.js';
import { treeServiceImplementation } from './tree-service.js';

export interface CoordinationOptions {
  /** Deadline of unary calls whose client set none (default 30 s). */
  readonly defaultTimeoutMs?: number;
  /** Longest a Campaign or Lock waits for its turn when the client set no deadline (default 1 h). */
  readonly maxWaitMs?: number;
  /**
   * SessionKeeper tuning (check and checkpoint intervals, failover grace). The keeper is the
   * node's, shared with the etcd API: list this extension first when you tune it.
   */
  readonly sessions?: SessionKeeperTuning;
}

export const DEFAULT_COORDINATION_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_WAIT_MS = 3_600_000;

export { COORDINATION_SERVICE_NAMES, coordinationServiceDefinitions } from './proto.js';
export { SessionKeeper } from './session-keeper.js';
export { acquireSessionKeeper, type SessionKeeperHandle } from './shared-keeper.js';
export { ELECTION_ROOT, LOCK_ROOT } from './validation.js';

export function coordinationExtension(options: CoordinationOptions = {}): NodeExtension {
  let parts: {
    ctx: CoordinationContext;
    stopping: AbortController;
    channels: LeaderChannels;
    sessions: SessionKeeperHandle;
  } | null = null;
  return {
    prepare(): void {
      coordinationServiceDefinitions();
    },
    attach(node: RaftreeNode, server: grpc.Server): void {
      if (parts !== null) throw new Error('coordinationExtension(): create one extension per node');
      const stopping = new AbortController();
      const sessions = acquireSessionKeeper(node, options.sessions);
      const keeper = sessions.keeper;
      const ctx: CoordinationContext = {
        node,
        runner: new CallRunner(node, options.defaultTimeoutMs ?? DEFAULT_COORDINATION_TIMEOUT_MS),
        waitRunner: new CallRunner(node, options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS),
        headers: new HeaderFactory(node),
        router: new LeaderRouter(node),
        keeper,
        services: coordinationServiceDefinitions(),
        limits: node.config.limits,
        stopping: stopping.signal,
      };
      const channels = new LeaderChannels();
      parts = { ctx, stopping, channels, sessions };
      const limit = node.config.limits.maxRequestBytes;
      server.addService(
        guardedService(ctx.services.session, limit),
        sessionServiceImplementation(ctx, channels),
      );
      server.addService(guardedService(ctx.services.tree, limit), treeServiceImplementation(ctx));
      server.addService(guardedService(ctx.services.election, limit), electionServiceImplementation(ctx));
    },
    stop(): void {
      if (parts === null) return;
      const { ctx, stopping, channels, sessions } = parts;
      stopping.abort();
      sessions.release();
      ctx.runner.stop();
      ctx.waitRunner.stop();
      ctx.router.close();
      ctx.headers.close();
      channels.close();
    },
  };
}
