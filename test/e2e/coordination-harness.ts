/**
 * In-process clusters with the client API and the coordination extension (fast timing, free
 * ports, temp data), for the coordination tests that need no real processes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientApiExtension } from '../../src/api/index.js';
import { RaftreeClient, RaftreeError } from '../../src/client/index.js';
import { silentLogger } from '../../src/common/logger.js';
import { coordinationExtension, type CoordinationOptions } from '../../src/coordination/index.js';
import { defaultLimits, type NodeConfig } from '../../src/node/node-config.js';
import { RaftreeNode } from '../../src/node/raftree-node.js';
import { freePorts } from '../support/ports.js';

export interface CoordinationCluster {
  readonly nodes: (RaftreeNode | null)[];
  readonly addresses: string[];
  leaderIndex(): number;
  client(endpoints?: readonly string[], deadlineMs?: number): RaftreeClient;
  stopNode(index: number): Promise<void>;
  stop(): Promise<void>;
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function startCoordinationCluster(
  options: { size?: number; coordination?: CoordinationOptions } = {},
): Promise<CoordinationCluster> {
  const size = options.size ?? 3;
  const ports = await freePorts(size);
  const ids = ports.map((_, i) => `n${i + 1}`);
  const addresses = ports.map((port) => `127.0.0.1:${port}`);
  const peers = new Map(ids.map((id, i) => [id, addresses[i]!]));
  const dataDirs = await Promise.all(ids.map((id) => mkdtemp(join(tmpdir(), `raftree-coord-${id}-`))));
  const nodes: (RaftreeNode | null)[] = await Promise.all(
    ids.map((id, i) => {
      const config: NodeConfig = {
        id,
        listen: addresses[i]!,
        http: null,
        peers,
        dataDir: dataDirs[i]!,
        tickMs: 10,
        electionTicks: 10,
        heartbeatTicks: 2,
        snapshotEveryEntries: 100_000,
        logLevel: 'silent',
        limits: defaultLimits,
      };
      return RaftreeNode.start(config, {
        logger: silentLogger(),
        extensions: [clientApiExtension(), coordinationExtension(options.coordination)],
      });
    }),
  );
  const clients: RaftreeClient[] = [];
  const leaderIndex = (): number => nodes.findIndex((node) => node !== null && node.replica.isLeader);
  const cluster: CoordinationCluster = {
    nodes,
    addresses,
    leaderIndex,
    client(endpoints = addresses, deadlineMs = 5_000) {
      const client = new RaftreeClient({ endpoints, deadlineMs });
      clients.push(client);
      return client;
    },
    async stopNode(index) {
      const node = nodes[index];
      nodes[index] = null;
      await node?.stop();
    },
    async stop() {
      for (const client of clients) client.close();
      await Promise.all(nodes.map((node, i) => (node === null ? undefined : cluster.stopNode(i))));
      await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
  try {
    await waitFor(
      () =>
        leaderIndex() !== -1 &&
        nodes.every((n) => n?.replica.leaderId === nodes[leaderIndex()]!.config.id) &&
        nodes[leaderIndex()]!.replica.isLeaderCaughtUp,
      'a leader known to every member',
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
