/**
 * The outgoing side of the peer transport: routes the core's messages to one PeerLink per
 * peer. `send` only queues (or drops) and returns; the links do the I/O.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Message, NodeId } from '../raft/types.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import type { BackoffPolicy } from './backoff.js';
import { TransportUsageError } from './errors.js';
import { silentLogger } from './logger.js';
import type { TransportLogger } from './logger.js';
import { isStreamedMessage } from './message-codec.js';
import { newPeerCounters, PeerLink } from './peer-link.js';
import type { PeerCounters, PeerLinkLimits, PeerLinkState } from './peer-link.js';
import { RAFT_PEER_MAX_RECEIVE_MESSAGE_BYTES } from './peer-service.js';
import { DEFAULT_SNAPSHOT_CHUNK_BYTES } from './snapshot-chunks.js';

export interface PeerTransportLimits extends PeerLinkLimits {
  /** HTTP/2 keepalive: how often an idle connection is pinged, and how long a ping may take. */
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_PEER_TRANSPORT_LIMITS: PeerTransportLimits = {
  maxQueueMessages: 4096,
  maxQueueBytes: 32 * MiB,
  maxBatchMessages: 512,
  maxBatchBytes: 4 * MiB,
  maxInFlightBytes: 8 * MiB,
  // Headroom below what the receiver accepts, for the estimate's slack and batch framing.
  maxMessageBytes: RAFT_PEER_MAX_RECEIVE_MESSAGE_BYTES - MiB,
  snapshotChunkBytes: DEFAULT_SNAPSHOT_CHUNK_BYTES,
  snapshotTimeoutMs: 120_000,
  connectTimeoutMs: 3_000,
  closeTimeoutMs: 1_000,
  keepaliveTimeMs: 5_000,
  keepaliveTimeoutMs: 3_000,
};

export interface PeerTransportOptions {
  readonly selfId: NodeId;
  /** Peer id → "host:port". An entry for selfId is ignored. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** A pino logger or anything with the same four methods; silent by default. */
  readonly logger?: TransportLogger;
  readonly limits?: Partial<PeerTransportLimits>;
  readonly backoff?: BackoffPolicy;
  /** Called once per snapshot handed to send(): true when the peer acknowledged receipt. */
  readonly onSnapshotResult?: (peer: NodeId, ok: boolean) => void;
  /** Called when a stream to a peer fails or cannot be opened (Raft may stop pipelining to it). */
  readonly onUnreachable?: (peer: NodeId) => void;
}

export interface PeerSendStats extends Readonly<PeerCounters> {
  /** null once the peer was removed by setPeers (its counters are kept). */
  readonly address: string | null;
  readonly state: PeerLinkState | 'removed';
  readonly queuedMessages: number;
  readonly queuedBytes: number;
}

export interface PeerTransportStats {
  readonly peers: Readonly<Record<NodeId, PeerSendStats>>;
  /** Messages addressed to an id not in the peer map. */
  readonly droppedUnknownPeer: number;
  /** Messages handed to send() after close(). */
  readonly droppedAfterClose: number;
}

function validateLimits(limits: PeerTransportLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new TransportUsageError(`limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
}

export class PeerTransport {
  readonly selfId: NodeId;
  private readonly logger: TransportLogger;
  private readonly limits: PeerTransportLimits;
  private readonly backoff: BackoffPolicy;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly links = new Map<NodeId, PeerLink>();
  /** Kept across address changes and removals so counters never go backwards. */
  private readonly counters = new Map<NodeId, PeerCounters>();
  private readonly unknownPeersLogged = new Set<NodeId>();
  private droppedUnknownPeer = 0;
  private droppedAfterClose = 0;
  private snapshotListener: ((peer: NodeId, ok: boolean) => void) | undefined;
  private unreachableListener: ((peer: NodeId) => void) | undefined;
  private closed = false;
  /** Links being closed by setPeers, so close() can wait for them too. */
  private readonly retiring = new Set<Promise<void>>();

  constructor(options: PeerTransportOptions) {
    this.selfId = options.selfId;
    this.logger = options.logger ?? silentLogger;
    this.limits = { ...DEFAULT_PEER_TRANSPORT_LIMITS, ...options.limits };
    validateLimits(this.limits);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    if (!(this.backoff.baseMs > 0 && this.backoff.maxMs >= this.backoff.baseMs)) {
      throw new TransportUsageError('backoff needs 0 < baseMs <= maxMs');
    }
    this.snapshotListener = options.onSnapshotResult;
    this.unreachableListener = options.onUnreachable;
    this.channelOptions = {
      // A retried long-lived stream makes no sense, and the retry machinery copies and buffers
      // every write; we reconnect ourselves instead.
      'grpc.enable_retries': 0,
      // gRPC's own reconnect backoff grows to 2 minutes by default; keep it within ours.
      'grpc.initial_reconnect_backoff_ms': this.backoff.baseMs,
      'grpc.max_reconnect_backoff_ms': this.backoff.maxMs,
      // Notice a peer that vanished without closing its connection (partition, SIGSTOP).
      'grpc.keepalive_time_ms': this.limits.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': this.limits.keepaliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      // Channelz bookkeeping (timestamps and counters per message) costs CPU nobody reads.
      'grpc.enable_channelz': 0,
    };
    this.setPeers(options.peers);
  }

  /**
   * Queues each message for its peer and returns at once. Messages to one peer leave in the
   * order given (snapshots travel separately and may overtake or trail them). Messages to an
   * unknown peer, or that do not fit a peer's queue, are dropped and counted.
   *
   * @throws TransportUsageError for a message addressed to this node or not from it: that is a
   *   bug in the caller. Every other message in the call is still handled first.
   */
  /**
   * Whether a message to `peer` would be delivered, as far as this node can tell (see
   * PeerLink.likelyDelivers); false for an unknown peer.
   */
  isReachable(peer: NodeId): boolean {
    return this.links.get(peer)?.likelyDelivers ?? false;
  }

  /**
   * Queues each message on its peer's link. Links write what they hold on the next turn of the
   * event loop, so messages sent in one turn share a stream write; with `now`, the links these
   * messages went to write at once instead (the caller batched them already and is about to
   * start slower work, such as a synced disk write, that they should not wait behind).
   */
  send(messages: readonly Message[], options?: { readonly now?: boolean }): void {
    const flushNow: PeerLink[] | null = options?.now === true ? [] : null;
    let misaddressed: Message | null = null;
    for (const message of messages) {
      if (message.to === this.selfId || message.from !== this.selfId) {
        misaddressed ??= message;
        continue;
      }
      if (this.closed) {
        this.droppedAfterClose += 1;
        continue;
      }
      const link = this.links.get(message.to);
      if (link === undefined) {
        this.droppedUnknownPeer += 1;
        if (!this.unknownPeersLogged.has(message.to)) {
          this.unknownPeersLogged.add(message.to);
          this.logger.warn(
            { peer: message.to, type: message.type },
            'dropping messages to a peer with no known address',
          );
        }
        continue;
      }
      if (!isStreamedMessage(message)) {
        link.enqueueSnapshot(message);
        continue;
      }
      link.enqueue(message);
      if (flushNow !== null && !flushNow.includes(link)) flushNow.push(link);
    }
    if (flushNow !== null) for (const link of flushNow) link.flushNow();
    if (misaddressed !== null) {
      throw new TransportUsageError(
        `node ${this.selfId} asked to send a ${misaddressed.type} from ${misaddressed.from} to ${misaddressed.to}`,
      );
    }
  }

  /**
   * Opens a stream to every peer not yet connected, without waiting for a message. Call it once
   * this node listens: each peer's service then reports us up (see peerIsUp), so a node back
   * from a restart is reached at once.
   */
  connectAll(): void {
    for (const link of this.links.values()) link.connectEagerly();
  }

  /**
   * `peer` opened a stream to us, so it is up: a link to it that failed reconnects now instead
   * of after its backoff. Unknown peers are ignored.
   */
  peerIsUp(peer: NodeId): void {
    if (!this.closed) this.links.get(peer)?.reconnectNow();
  }

  /**
   * Replaces the peer address map. Unchanged peers keep their connection and queue; removed
   * peers and peers whose address changed lose theirs (queued messages are dropped).
   */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    if (this.closed) return;
    for (const [peerId, link] of this.links) {
      if (peers.get(peerId) !== link.address) this.retire(peerId, link);
    }
    for (const [peerId, address] of peers) {
      if (peerId === this.selfId || this.links.has(peerId)) continue;
      if (address.length === 0) throw new TransportUsageError(`peer ${peerId} has an empty address`);
      this.unknownPeersLogged.delete(peerId);
      let counters = this.counters.get(peerId);
      if (counters === undefined) {
        counters = newPeerCounters();
        this.counters.set(peerId, counters);
      }
      this.links.set(
        peerId,
        new PeerLink({
          selfId: this.selfId,
          peerId,
          address,
          logger: this.logger,
          limits: this.limits,
          backoff: this.backoff,
          channelOptions: this.channelOptions,
          counters,
          onSnapshotResult: (ok) => this.snapshotListener?.(peerId, ok),
          onUnreachable: () => this.unreachableListener?.(peerId),
        }),
      );
    }
  }

  /** Sets (replaces) the listener for snapshot outcomes: one call per snapshot sent. */
  onSnapshotResult(listener: (peer: NodeId, ok: boolean) => void): void {
    this.snapshotListener = listener;
  }

  /** Sets (replaces) the listener told when a peer's stream fails. */
  onUnreachable(listener: (peer: NodeId) => void): void {
    this.unreachableListener = listener;
  }

  stats(): PeerTransportStats {
    const peers: Record<NodeId, PeerSendStats> = {};
    for (const [peerId, counters] of this.counters) {
      const link = this.links.get(peerId);
      peers[peerId] = {
        ...counters,
        address: link?.address ?? null,
        state: link?.state ?? 'removed',
        queuedMessages: link?.queuedMessages ?? 0,
        queuedBytes: link?.queuedBytes ?? 0,
      };
    }
    return { peers, droppedUnknownPeer: this.droppedUnknownPeer, droppedAfterClose: this.droppedAfterClose };
  }

  /** Stops every link: queued messages are dropped, open streams half-closed (bounded wait). */
  async close(): Promise<void> {
    this.closed = true;
    for (const [peerId, link] of this.links) this.retire(peerId, link);
    await Promise.all([...this.retiring]);
  }

  private retire(peerId: NodeId, link: PeerLink): void {
    this.links.delete(peerId);
    const closing = link.close();
    this.retiring.add(closing);
    void closing.finally(() => this.retiring.delete(closing));
  }
}
