/**
 * The sending side for ONE peer: a bounded queue drained into one long-lived Send stream, a
 * reconnect loop, and a separate InstallSnapshot call per snapshot.
 *
 *   idle ──enqueue──▶ connecting ──headers──▶ open
 *                        │                     │ stream failed
 *                        ▼ failed / timed out  ▼
 *                      backoff ◀───────────────┘
 *                        │ timer: queue empty → idle, else → connecting
 *   any ──close()──▶ closed
 *
 * Two shortcuts skip the wait for a first message or for the backoff timer: connectEagerly()
 * when the node starts listening (its peers learn it is up, see below), and reconnectNow() when
 * the peer opened a stream to us, which says it is up again: a restarted follower is then
 * reached at once instead of after the leader's backoff (up to its cap) plus the next heartbeat.
 *
 * Every Send stream names its sender in the PEER_FROM_METADATA header, so the receiving side
 * can tell its own transport which peer just came up.
 *
 * Nothing is written to a stream until the server's headers confirm it is open, so gRPC never
 * buffers for a peer that is down; the only buffer is the bounded queue, and what does not fit
 * there is dropped and counted. Messages already written to a stream that then fails are lost
 * without a count: Raft retransmits whatever it still needs.
 */
import * as grpc from '@grpc/grpc-js';
import type { NodeId, SnapshotRequest } from '../raft/types.js';
import { backoffDelayMs } from './backoff.js';
import type { BackoffPolicy } from './backoff.js';
import { BoundedQueue } from './bounded-queue.js';
import type { TransportLogger } from './logger.js';
import { encodeMessage, estimateEncodedBytes } from './message-codec.js';
import type { StreamedMessage } from './message-codec.js';
import { PEER_FROM_METADATA, raftPeerService } from './raft-proto.js';
import { snapshotChunks } from './snapshot-chunks.js';
import type { MessageBatchWire, SendAckWire, SnapshotAckWire, SnapshotChunkWire } from './wire-types.js';

export type PeerLinkState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

/** Monotonic per-peer counters; owned by the transport so they survive an address change. */
export interface PeerCounters {
  /** Messages handed to an open stream (delivery is not confirmed; Raft's replies do that). */
  sent: number;
  batches: number;
  /** All messages dropped for this peer, whatever the reason (the fields below break it down). */
  dropped: number;
  droppedQueueFull: number;
  droppedOversize: number;
  droppedOnClose: number;
  /** Dropped because the peer is unreachable (between failed connection attempts). */
  droppedPeerDown: number;
  /** Send streams that failed or could not be opened. */
  streamFailures: number;
  snapshotsSent: number;
  /** Failed, timed out, or superseded by a newer snapshot before being sent. */
  snapshotsFailed: number;
}

export function newPeerCounters(): PeerCounters {
  return {
    sent: 0,
    batches: 0,
    dropped: 0,
    droppedQueueFull: 0,
    droppedOversize: 0,
    droppedOnClose: 0,
    droppedPeerDown: 0,
    streamFailures: 0,
    snapshotsSent: 0,
    snapshotsFailed: 0,
  };
}

export interface PeerLinkLimits {
  readonly maxQueueMessages: number;
  readonly maxQueueBytes: number;
  readonly maxBatchMessages: number;
  readonly maxBatchBytes: number;
  /**
   * Bytes written to the stream that HTTP/2 has not yet taken (flow control). gRPC's own
   * buffer is counted in writes, not bytes, so without this a slow peer could pin up to 16
   * full batches in memory on top of the queue.
   */
  readonly maxInFlightBytes: number;
  /** A single message estimated above this is dropped: the receiver would refuse the batch. */
  readonly maxMessageBytes: number;
  readonly snapshotChunkBytes: number;
  readonly snapshotTimeoutMs: number;
  /** How long a new stream may wait for the server's headers before it counts as failed. */
  readonly connectTimeoutMs: number;
  /** How long close() waits for a half-closed stream to finish before cancelling it. */
  readonly closeTimeoutMs: number;
}

export interface PeerLinkConfig {
  readonly selfId: NodeId;
  readonly peerId: NodeId;
  readonly address: string;
  readonly logger: TransportLogger;
  readonly limits: PeerLinkLimits;
  readonly backoff: BackoffPolicy;
  readonly channelOptions: grpc.ChannelOptions;
  readonly counters: PeerCounters;
  readonly onSnapshotResult: (ok: boolean) => void;
  readonly onUnreachable: () => void;
}

type SendCall = grpc.ClientWritableStream<MessageBatchWire>;
type SnapshotCall = grpc.ClientWritableStream<SnapshotChunkWire>;

export class PeerLink {
  private readonly queue: BoundedQueue<StreamedMessage>;
  /** Replaced (a fresh channel, without gRPC's reconnect backoff) by reconnectNow. */
  private client: grpc.Client;
  /** Snapshots get their own channel (own TCP connection) so they do not delay heartbeats. */
  private snapshotClient: grpc.Client | null = null;
  private readonly counters: PeerCounters;
  private readonly logger: TransportLogger;

  private linkState: PeerLinkState = 'idle';
  private call: SendCall | null = null;
  /** False after write() asked us to wait for 'drain'. */
  private callWritable = false;
  /** Estimated bytes of batches written to `call` whose write callback has not run yet. */
  private inFlightBytes = 0;
  private failedAttempts = 0;
  /** The backoff timer, or the connect timeout while connecting. */
  private timer: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  /** Consecutive drops because the queue was full; logged when a streak starts and ends. */
  private dropStreak = 0;

  private snapshotCall: SnapshotCall | null = null;
  private snapshotInFlight = false;
  private pendingSnapshot: SnapshotRequest | null = null;

  private closing: Promise<void> | null = null;

  constructor(private readonly config: PeerLinkConfig) {
    this.queue = new BoundedQueue(config.limits.maxQueueMessages, config.limits.maxQueueBytes);
    this.client = this.newChannel();
    this.counters = config.counters;
    this.logger = config.logger;
  }

  get state(): PeerLinkState {
    return this.linkState;
  }

  /**
   * Whether what is sent now is likely to arrive: the stream is open, or was never tried. Not
   * after a failure until a reconnect succeeds (between attempts the link rests in 'idle', and
   * a message then only triggers an attempt that may fail and drop it).
   */
  get likelyDelivers(): boolean {
    return this.linkState === 'open' || (this.linkState === 'idle' && this.failedAttempts === 0);
  }

  get address(): string {
    return this.config.address;
  }

  get queuedMessages(): number {
    return this.queue.length;
  }

  get queuedBytes(): number {
    return this.queue.bytes;
  }

  /** Queues a message for the Send stream, or drops it; never blocks. */
  enqueue(message: StreamedMessage): void {
    if (this.linkState === 'closed') {
      this.drop('droppedOnClose');
      return;
    }
    if (this.linkState === 'backoff') {
      // The peer is down. Queueing for it would only replay stale traffic when it returns
      // (etcd drops too); Raft resends what still matters once the peer answers again.
      this.drop('droppedPeerDown');
      return;
    }
    const bytes = estimateEncodedBytes(message);
    if (bytes > this.config.limits.maxMessageBytes) {
      this.drop('droppedOversize');
      this.logger.warn(
        { peer: this.config.peerId, type: message.type, bytes, limit: this.config.limits.maxMessageBytes },
        'dropping a Raft message too large to send (the core should cap append sizes below this)',
      );
      return;
    }
    if (!this.queue.tryPush(message, bytes)) {
      this.drop('droppedQueueFull');
      this.dropStreak += 1;
      if (this.dropStreak === 1) {
        this.logger.warn(
          {
            peer: this.config.peerId,
            state: this.linkState,
            queued: this.queue.length,
            queuedBytes: this.queue.bytes,
          },
          'peer send queue full; dropping messages',
        );
      }
      return;
    }
    if (this.dropStreak > 0) {
      this.logger.info(
        { peer: this.config.peerId, dropped: this.dropStreak },
        'peer send queue accepting again',
      );
      this.dropStreak = 0;
    }
    if (this.linkState === 'idle') this.connect();
    else if (this.linkState === 'open') this.scheduleFlush();
  }

  /** Opens the Send stream now if the link is idle (see the header comment). */
  connectEagerly(): void {
    if (this.linkState === 'idle') this.connect();
  }

  /**
   * The peer says it is up (it opened a stream to us): a link resting after failures connects
   * now, on a fresh channel, instead of when its backoff ends and the next message comes.
   */
  reconnectNow(): void {
    if (this.failedAttempts === 0 || (this.linkState !== 'backoff' && this.linkState !== 'idle')) return;
    this.clearTimer();
    this.client.close();
    this.client = this.newChannel();
    this.connect();
  }

  /**
   * Sends a snapshot on its own call. One at a time per peer: a snapshot arriving while one is
   * in flight waits, and replaces (and fails) any older one still waiting.
   */
  enqueueSnapshot(message: SnapshotRequest): void {
    if (this.linkState === 'closed') {
      this.drop('droppedOnClose');
      return;
    }
    if (this.snapshotInFlight) {
      if (this.pendingSnapshot !== null) this.reportSnapshot(false);
      this.pendingSnapshot = message;
      return;
    }
    void this.runSnapshots(message);
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.linkState = 'closed';
    this.clearTimer();
    const discarded = this.queue.clear();
    this.counters.dropped += discarded;
    this.counters.droppedOnClose += discarded;
    this.pendingSnapshot = null;
    this.snapshotCall?.cancel();
    const call = this.call;
    this.call = null;
    this.closing = new Promise<void>((resolve) => {
      const release = (): void => {
        this.client.close();
        this.snapshotClient?.close();
        resolve();
      };
      if (call === null) {
        release();
        return;
      }
      // Half-close so what was already written still arrives, but never wait on a dead peer.
      const giveUp = setTimeout(() => call.cancel(), this.config.limits.closeTimeoutMs);
      call.on('status', () => {
        clearTimeout(giveUp);
        release();
      });
      call.end();
    });
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------
  // The Send stream

  /** A channel of this link's own: a shared one would carry another link's backoff state. */
  private newChannel(): grpc.Client {
    return new grpc.Client(this.config.address, grpc.credentials.createInsecure(), {
      ...this.config.channelOptions,
      'grpc.use_local_subchannel_pool': 1,
    });
  }

  private connect(): void {
    this.linkState = 'connecting';
    const method = raftPeerService().Send;
    const metadata = new grpc.Metadata();
    metadata.set(PEER_FROM_METADATA, this.config.selfId);
    const call: SendCall = this.client.makeClientStreamRequest<MessageBatchWire, SendAckWire>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      metadata,
      {},
      (error) => this.onStreamClosed(call, error ?? null),
    );
    this.call = call;
    this.callWritable = true;
    this.inFlightBytes = 0;
    call.on('metadata', () => {
      if (this.call !== call || this.linkState !== 'connecting') return;
      this.clearTimer();
      this.linkState = 'open';
      if (this.failedAttempts > 0) {
        this.logger.info(
          { peer: this.config.peerId, failedAttempts: this.failedAttempts },
          'reconnected to peer',
        );
      } else {
        this.logger.debug({ peer: this.config.peerId, address: this.config.address }, 'connected to peer');
      }
      this.failedAttempts = 0;
      this.flush();
    });
    call.on('drain', () => {
      if (this.call !== call) return;
      this.callWritable = true;
      this.flush();
    });
    // Failures arrive through the callback; this only keeps a stray 'error' from being fatal.
    call.on('error', () => {});
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.call === call && this.linkState === 'connecting') call.cancel();
    }, this.config.limits.connectTimeoutMs);
    this.timer.unref();
  }

  private onStreamClosed(call: SendCall, error: grpc.ServiceError | null): void {
    if (this.call !== call) return; // closed by close(), or an older stream
    this.call = null;
    this.callWritable = false;
    this.clearTimer();
    const wasOpen = this.linkState === 'open';
    this.counters.streamFailures += 1;
    const fields = {
      peer: this.config.peerId,
      address: this.config.address,
      code: error === null ? 'OK' : grpc.status[error.code],
      details: error?.details,
      failedAttempts: this.failedAttempts,
    };
    if (wasOpen) this.logger.warn(fields, 'stream to peer lost; reconnecting');
    else if (this.failedAttempts === 0) this.logger.warn(fields, 'cannot reach peer; retrying with backoff');
    else this.logger.debug(fields, 'peer still unreachable');
    this.failedAttempts += 1;
    this.notifyUnreachable();

    this.linkState = 'backoff';
    const discarded = this.queue.clear();
    this.counters.dropped += discarded;
    this.counters.droppedPeerDown += discarded;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        if (this.linkState !== 'backoff') return;
        // Try again with the next message (Raft sends heartbeats and probes all the time).
        this.linkState = 'idle';
      },
      backoffDelayMs(this.failedAttempts - 1, this.config.backoff),
    );
    this.timer.unref();
  }

  /** Writes what is queued now, rather than on the next turn (see PeerTransport.send). */
  flushNow(): void {
    if (this.linkState === 'open') this.flush();
  }

  /** Coalesces everything sent in one turn of the event loop into as few batches as possible. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const call = this.call;
    if (call === null || this.linkState !== 'open') return;
    const { maxBatchMessages, maxBatchBytes, maxInFlightBytes } = this.config.limits;
    while (this.callWritable && this.inFlightBytes < maxInFlightBytes && this.queue.length > 0) {
      const queuedBytesBefore = this.queue.bytes;
      const batch = this.queue.takeBatch(maxBatchMessages, maxBatchBytes);
      const batchBytes = queuedBytesBefore - this.queue.bytes;
      this.inFlightBytes += batchBytes;
      this.callWritable = call.write({ messages: batch.map(encodeMessage) }, () => {
        if (this.call !== call) return;
        this.inFlightBytes -= batchBytes;
        this.flush();
      });
      this.counters.sent += batch.length;
      this.counters.batches += 1;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots

  private async runSnapshots(first: SnapshotRequest): Promise<void> {
    this.snapshotInFlight = true;
    let next: SnapshotRequest | null = first;
    while (next !== null && !this.isClosed()) {
      const message: SnapshotRequest = next;
      const started = Date.now();
      let ok = false;
      try {
        await this.streamSnapshot(message);
        ok = true;
        this.logger.info(
          {
            peer: this.config.peerId,
            index: message.snapshot.meta.index,
            bytes: message.snapshot.data.byteLength,
            ms: Date.now() - started,
          },
          'sent snapshot',
        );
      } catch (error) {
        const serviceError = error as Partial<grpc.ServiceError>;
        this.logger.warn(
          {
            peer: this.config.peerId,
            index: message.snapshot.meta.index,
            code: serviceError.code === undefined ? undefined : grpc.status[serviceError.code],
            details: serviceError.details ?? String(error),
          },
          'snapshot send failed',
        );
      }
      // Checked again: close() may have run while we awaited (TS cannot see that).
      if (this.isClosed()) break;
      this.reportSnapshot(ok);
      next = this.pendingSnapshot;
      this.pendingSnapshot = null;
    }
    this.snapshotInFlight = false;
  }

  private streamSnapshot(message: SnapshotRequest): Promise<void> {
    this.snapshotClient ??= new grpc.Client(this.config.address, grpc.credentials.createInsecure(), {
      ...this.config.channelOptions,
      'grpc.use_local_subchannel_pool': 1,
    });
    const client = this.snapshotClient;
    const method = raftPeerService().InstallSnapshot;
    return new Promise<void>((resolve, reject) => {
      const call: SnapshotCall = client.makeClientStreamRequest<SnapshotChunkWire, SnapshotAckWire>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        new grpc.Metadata(),
        { deadline: Date.now() + this.config.limits.snapshotTimeoutMs },
        (error) => {
          if (this.snapshotCall === call) this.snapshotCall = null;
          if (error) reject(error);
          else resolve();
        },
      );
      this.snapshotCall = call;
      call.on('error', () => {});
      const chunks = snapshotChunks(message, this.config.limits.snapshotChunkBytes);
      // Write while gRPC accepts; on backpressure resume at 'drain'. If the call dies while we
      // wait, the callback above settles the promise and the pump is simply never resumed.
      const pump = (): void => {
        for (;;) {
          const chunk = chunks.next();
          if (chunk.done === true) {
            call.end();
            return;
          }
          if (!call.write(chunk.value)) {
            call.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  }

  private reportSnapshot(ok: boolean): void {
    if (ok) this.counters.snapshotsSent += 1;
    else this.counters.snapshotsFailed += 1;
    try {
      this.config.onSnapshotResult(ok);
    } catch (error) {
      this.logger.error({ err: error, peer: this.config.peerId }, 'onSnapshotResult listener threw');
    }
  }

  private notifyUnreachable(): void {
    try {
      this.config.onUnreachable();
    } catch (error) {
      this.logger.error({ err: error, peer: this.config.peerId }, 'onUnreachable listener threw');
    }
  }

  private drop(reason: 'droppedQueueFull' | 'droppedOversize' | 'droppedOnClose' | 'droppedPeerDown'): void {
    this.counters.dropped += 1;
    this.counters[reason] += 1;
  }

  private isClosed(): boolean {
    return this.linkState === 'closed';
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
