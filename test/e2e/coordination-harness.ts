/**
 * In-process clusters with the client API and the coordination extension (fast timing, free
 * ports, temp data), for the coordination tests that need no real processes.
 */
import { clientApiExtension } from '../../src/api/index.js';
import { RaftreeClient, RaftreeError } from '../../src/client/index.js';
import { coordinationExtension, type CoordinationOptions } from '../../src/coordination/index.js';
import type { RaftreeNode } from '../../src/node/raftree-node.js';
import { startCluster, waitFor } from './api-harness.js';

export interface CoordinationCluster {
  readonly nodes: (RaftreeNode | null)[];
  readonly addresses: string[];
  leaderIndex(): number;
  client(endpoints?: readonly string[], deadlineMs?: number): RaftreeClient;
  stopNode(index: number): Promise<void>;
  stop(): Promise<void>;
}

export { waitFor };

/** A cluster (see startCluster) whose leader has applied an entry of its own term. */
export async function startCoordinationCluster(
  options: { size?: number; coordination?: CoordinationOptions } = {},
): Promise<CoordinationCluster> {
  const base = await startCluster({
    ...(options.size === undefined ? {} : { size: options.size }),
    extensions: () => [clientApiExtension(), coordinationExtension(options.coordination)],
  });
  const clients: RaftreeClient[] = [];
  const cluster: CoordinationCluster = {
    nodes: base.nodes,
    addresses: base.addresses,
    leaderIndex: () => base.leaderIndex(),
    client(endpoints = base.addresses, deadlineMs = 5_000) {
      const client = new RaftreeClient({ endpoints, deadlineMs });
      clients.push(client);
      return client;
    },
    stopNode: (index) => base.stopNode(index),
    async stop() {
      for (const client of clients) client.close();
      await base.stop();
    },
  };
  try {
    await waitFor(
      () => base.leaderIndex() !== -1 && base.nodes[base.leaderIndex()]!.replica.isLeaderCaughtUp,
      'a caught-up leader',
    );
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** The RaftreeError a promise rejects with (fails if it resolves or throws something else). */
export async function rejection(promise: Promise<unknown>): Promise<RaftreeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RaftreeError) return error;
    throw error;
  }
  throw new Error('expected a RaftreeError, but the call succeeded');
}
