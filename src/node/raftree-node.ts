import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SeededRandom } from '../common/prng.js';
import { createLogger, type Logger } from '../common/logger.js';
import { defaultRaftConfig, type RaftConfig } from '../raft/config.js';
import type { ConfChange, NodeId } from '../raft/types.js';
import { MEMBER_ADDRESS_PREFIX, Replica } from '../replica/replica.js';
import { LevelRaftStorage } from '../storage/level-raft-storage.js';
import {
  PeerTransport,
  RAFT_PEER_SERVER_OPTIONS,
  raftPeerService,
  registerRaftPeerService,
  type RaftPeerServiceHandle,
} from '../transport/index.js';
import { validateNodeConfig, type NodeConfig } from './node-config.js';

/** One client request as the API layer saw it. */
export interface CompletedRequest {
  /** gRPC method, e.g. "KV/Put". */
  readonly method: string;
  /** gRPC status code name, e.g. "OK", "INVALID_ARGUMENT". */
  readonly code: string;
  readonly seconds: number;
}

/** Hooks for the layers above the replica (client API, HTTP side port), kept out of this file. */
export interface NodeExtension {
  /**
   * Work that needs no node, such as loading and parsing protos: called while LevelDB opens (it
   * recovers its own log on a worker thread), so this CPU work and that wait overlap at start.
   */
  prepare?(): void;
  /** Called before the gRPC server binds: register services on it. */
  attach?(node: RaftreeNode, server: grpc.Server): void | Promise<void>;
  /** Called after the node is up. */
  started?(node: RaftreeNode): void | Promise<void>;
  /** Called first on shutdown. */
  stop?(): void | Promise<void>;
}

/**
 * One raftree server: LevelDB storage, the Raft replica, the peer transport and the gRPC
 * server that hosts both the peer service and the client services, on one port.
 */
export class RaftreeNode {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly replica: Replica;
  readonly transport: PeerTransport;
  /** Every member's gRPC address: the founders from --peers plus members added at run time. */
  readonly addresses: Map<NodeId, string>;
  /** The port the gRPC server actually bound (differs from config when it asked for port 0). */
  readonly port: number;
  private readonly server: grpc.Server;
  private readonly storage: LevelRaftStorage;
  private readonly peerService: RaftPeerServiceHandle;
  private readonly extensions: readonly NodeExtension[];
  private stopping: Promise<void> | null = null;
  private readonly requestListeners: ((request: CompletedRequest) => void)[] = [];

  private constructor(parts: {
    config: NodeConfig;
    logger: Logger;
    replica: Replica;
    transport: PeerTransport;
    addresses: Map<NodeId, string>;
    port: number;
    server: grpc.Server;
    storage: LevelRaftStorage;
    peerService: RaftPeerServiceHandle;
    extensions: readonly NodeExtension[];
  }) {
    this.config = parts.config;
    this.logger = parts.logger;
    this.replica = parts.replica;
    this.transport = parts.transport;
    this.addresses = parts.addresses;
    this.port = parts.port;
    this.server = parts.server;
    this.storage = parts.storage;
    this.peerService = parts.peerService;
    this.extensions = parts.extensions;
  }

  static async start(
    config: NodeConfig,
    options: { logger?: Logger; extensions?: readonly NodeExtension[] } = {},
  ): Promise<RaftreeNode> {
    validateNodeConfig(config);
    const logger = options.logger ?? createLogger({ nodeId: config.id, level: config.logLevel });
    const extensions = options.extensions ?? [];
    const storageOpening = LevelRaftStorage.open(join(config.dataDir, 'raft'));
    try {
      raftPeerService();
      for (const extension of extensions) extension.prepare?.();
    } catch (error) {
      await storageOpening.then(
        (storage) => storage.close(),
        () => undefined,
      );
      throw error;
    }
    const storage = await storageOpening;
    const addresses = new Map(config.peers);
    const transport = new PeerTransport({
      selfId: config.id,
      peers: addresses,
      logger: logger.child({ module: 'transport' }),
    });
    const server = new grpc.Server({
      ...RAFT_PEER_SERVER_OPTIONS,
      // Channelz bookkeeping (timestamps and counters per call and message) costs CPU on every
      // request, and nothing here serves channelz.
      'grpc.enable_channelz': 0,
      'grpc.max_receive_message_length': Math.max(
        Number(RAFT_PEER_SERVER_OPTIONS['grpc.max_receive_message_length'] ?? 0),
        Math.ceil(config.limits.maxRequestBytes) + 64 * 1024,
      ),
    });
    let replica: Replica | null = null;
    const peerService = registerRaftPeerService(server, {
      selfId: config.id,
      onMessage: (message) => replica?.step(message),
      onPeerStream: (from) => transport.peerIsUp(from),
      logger: logger.child({ module: 'peer-service' }),
    });
    const raftConfig: RaftConfig = {
      ...defaultRaftConfig,
      electionTicks: config.electionTicks,
      heartbeatTicks: config.heartbeatTicks,
    };
    try {
      replica = await Replica.start({
        id: config.id,
        founders: config.join ? [] : [...config.peers.keys()],
        raftConfig,
        tickMs: config.tickMs,
        snapshotEveryEntries: config.snapshotEveryEntries,
        storage,
        transport,
        random: new SeededRandom(randomInt(2 ** 32 - 1)),
        logger,
      });
    } catch (error) {
      await transport.close();
      await storage.close();
      throw error;
    }
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(config.listen, grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
        error ? reject(new Error(`cannot listen on ${config.listen}: ${error.message}`)) : resolve(boundPort),
      );
    }).catch(async (error: unknown) => {
      await replica.stop();
      await transport.close();
      await storage.close();
      throw error;
    });
    const node = new RaftreeNode({
      config,
      logger,
      replica,
      transport,
      addresses,
      port,
      server,
      storage,
      peerService,
      extensions,
    });
    node.learnMemberAddresses();
    // Listening now: tell the peers, so one whose link to us is resting after failures (we were
    // down) reconnects at once.
    transport.connectAll();
    replica.on('confChange', (change) => node.onConfChange(change));
    replica.on('fatal', () => void node.stop());
    try {
      for (const extension of extensions) await extension.attach?.(node, server);
      for (const extension of extensions) await extension.started?.(node);
    } catch (error) {
      // A half-started node must not linger (e.g. its HTTP port was taken): stop, then report.
      await node.stop();
      throw error;
    }
    logger.info({ listen: config.listen, port, peers: Object.fromEntries(config.peers) }, 'node started');
    return node;
  }

  /** The client API reports every finished request here (for metrics and logs). */
  reportRequest(request: CompletedRequest): void {
    for (const listener of this.requestListeners) listener(request);
  }

  onRequest(listener: (request: CompletedRequest) => void): void {
    this.requestListeners.push(listener);
  }

  /**
   * Members added at run time are recorded under MEMBER_ADDRESS_PREFIX by every replica when
   * the change applies, so a restarted node whose snapshot covers the change still finds them.
   */
  private learnMemberAddresses(): void {
    const { kvs } = this.replica.stateMachine.range({ key: MEMBER_ADDRESS_PREFIX, range: 'prefix' });
    for (const kv of kvs) {
      const id = kv.key.slice(MEMBER_ADDRESS_PREFIX.length);
      if (id !== this.config.id && !this.config.peers.has(id))
        this.addresses.set(id, new TextDecoder().decode(kv.value));
    }
    this.transport.setPeers(this.addresses);
  }

  private onConfChange(change: ConfChange): void {
    if (change.type === 'removeNode') {
      this.addresses.delete(change.nodeId);
    } else if (change.context) {
      this.addresses.set(change.nodeId, change.context);
    }
    this.transport.setPeers(this.addresses);
  }

  /** Graceful shutdown: client services first, then Raft, then storage. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    for (const extension of this.extensions) await extension.stop?.();
    await this.replica.stop();
    this.peerService.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await this.transport.close();
    await this.storage.close();
    this.logger.info('node stopped');
  }
}
