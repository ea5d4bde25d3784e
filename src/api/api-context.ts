/** What every service of the client API shares. */
import type { ClientServiceDefinitions } from './proto.js';
import type { CallRunner } from './call-runner.js';
import type { HeaderFactory } from './header.js';
import type { LeaderRouter } from './leader-router.js';
import type { RaftreeNode } from '../node/raftree-node.js';

export interface ApiContext {
  readonly node: RaftreeNode;
  readonly runner: CallRunner;
  readonly headers: HeaderFactory;
  readonly router: LeaderRouter;
  /** The unguarded definitions: forwarding serializes with them. */
  readonly services: ClientServiceDefinitions;
}
