/**
 * The receiving side: the RaftPeer gRPC service, registered on a server the node owns (the
 * same server, and port, that hosts the client services).
 *
 * Every inbound byte is untrusted. Undecodable protobuf and invalid messages end that one
 * stream with INVALID_ARGUMENT and are never handed to the core; the server keeps serving.
 * Messages addressed to another node are dropped and logged (an address now belongs to a
 * different member, or a peer's configuration is stale) without tearing the stream down.
 */
import * as grpc from '@grpc/grpc-js';
import type { Message, NodeId } from '../raft/types.js';
import { MalformedMessageError } from './errors.js';
import { silentLogger } from './logger.js';
import type { TransportLogger } from './logger.js';
import { decodeMessage, decodeSnapshotHeader } from './message-codec.js';
import type { StreamedMessage } from './message-codec.js';
import { PEER_FROM_METADATA, raftPeerService } from './raft-proto.js';
import { SnapshotAssembler } from './snapshot-chunks.js';
import type { MessageBatchWire, SendAckWire, SnapshotAckWire, SnapshotChunkWire } from './wire-types.js';

/** Large enough for a generous append batch; snapshots are chunked well below it. */
export const RAFT_PEER_MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * Options the node should pass to `new grpc.Server(...)` so peer traffic fits. (The limit is
 * server-wide; client services enforce their own, smaller, request limits themselves.)
 */
export const RAFT_PEER_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': RAFT_PEER_MAX_RECEIVE_MESSAGE_BYTES,
};

export const DEFAULT_MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_CONCURRENT_INBOUND_SNAPSHOTS = 2;

export interface RaftPeerServiceOptions {
  readonly selfId: NodeId;
  /**
   * Receives every valid message addressed to this node, in per-sender order. Called
   * synchronously from gRPC's event handlers: queue the work, do not block. A throw is logged
   * and counted, not propagated (it would take the server down with it).
   */
  readonly onMessage: (message: Message) => void;
  /**
   * A peer opened a Send stream naming itself (PEER_FROM_METADATA): it is up. Called before any
   * of the stream's messages; a throw is logged, not propagated.
   */
  readonly onPeerStream?: (from: NodeId) => void;
  readonly logger?: TransportLogger;
  /** Largest snapshot image accepted; the image is held in memory while it arrives. */
  readonly maxSnapshotBytes?: number;
  /** More simultaneous InstallSnapshot streams than this get RESOURCE_EXHAUSTED. */
  readonly maxConcurrentSnapshots?: number;
}

export interface PeerReceiveStats {
  /** Valid messages delivered to onMessage, by sender (snapshots included). */
  readonly receivedByPeer: Readonly<Record<NodeId, number>>;
  readonly snapshotsReceived: number;
  /** Streams ended with an error status because of bad input. */
  readonly rejectedStreams: number;
  /** Messages dropped because they were not addressed to this node (or claimed to be from it). */
  readonly misrouted: number;
  /** onMessage threw. */
  readonly deliveryErrors: number;
}

export interface RaftPeerServiceHandle {
  stats(): PeerReceiveStats;
  /**
   * Ends every open inbound stream (UNAVAILABLE) and refuses new ones. Call it before
   * `server.tryShutdown()`, which otherwise waits forever for the long-lived peer streams.
   */
  close(): void;
}

/** What the tolerant deserializer yields for bytes protobuf could not decode. */
class UndecodableFrame {
  constructor(readonly reason: string) {}
}

/**
 * gRPC answers a throwing deserializer with INTERNAL; we want INVALID_ARGUMENT and a log line,
 * so decoding failures are turned into a value the handler can see.
 */
function tolerantly<T>(deserialize: (bytes: Buffer) => T): (bytes: Buffer) => T | UndecodableFrame {
  return (bytes) => {
    try {
      return deserialize(bytes);
    } catch (error) {
      return new UndecodableFrame(error instanceof Error ? error.message : String(error));
    }
  };
}

type StatusReply = Partial<grpc.StatusObject> & { code: grpc.status; details: string };

/** Distinct senders tracked in stats/log-once sets; beyond this, garbage ids cannot grow memory. */
const MAX_TRACKED_SENDERS = 256;
const OVERFLOW_SENDER = '*';
/** Longer PEER_FROM_METADATA values are not node ids (node ids are short names). */
const MAX_PEER_ID_LENGTH = 256;

export function registerRaftPeerService(
  server: grpc.Server,
  options: RaftPeerServiceOptions,
): RaftPeerServiceHandle {
  const { selfId, onMessage } = options;
  const logger = options.logger ?? silentLogger;
  const maxSnapshotBytes = options.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
  const maxConcurrentSnapshots = options.maxConcurrentSnapshots ?? DEFAULT_MAX_CONCURRENT_INBOUND_SNAPSHOTS;

  const receivedByPeer = new Map<NodeId, number>();
  let snapshotsReceived = 0;
  let rejectedStreams = 0;
  let misrouted = 0;
  let deliveryErrors = 0;
  const misroutesLogged = new Set<string>();

  let closed = false;
  /** Closers of the streams currently open, for close(). */
  const openStreams = new Set<(reply: StatusReply) => void>();
  let activeSnapshots = 0;

  const countReceived = (from: NodeId): void => {
    const key =
      receivedByPeer.has(from) || receivedByPeer.size < MAX_TRACKED_SENDERS ? from : OVERFLOW_SENDER;
    receivedByPeer.set(key, (receivedByPeer.get(key) ?? 0) + 1);
  };

  /** True when the message is for us; otherwise counts and logs (once per route) and says no. */
  const isForThisNode = (from: NodeId, to: NodeId, what: string): boolean => {
    if (to === selfId && from !== selfId) return true;
    misrouted += 1;
    const route = `${from}->${to}`;
    if (!misroutesLogged.has(route) && misroutesLogged.size < MAX_TRACKED_SENDERS) {
      misroutesLogged.add(route);
      logger.warn({ selfId, from, to, what }, 'dropping peer message not addressed to this node');
    }
    return false;
  };

  const deliver = (message: Message): void => {
    countReceived(message.from);
    try {
      onMessage(message);
    } catch (error) {
      deliveryErrors += 1;
      logger.error({ err: error, from: message.from, type: message.type }, 'onMessage threw; message lost');
    }
  };

  /** Passes a Send stream's sender id to onPeerStream; ids that cannot be a peer's are ignored. */
  const announcePeer = (from: grpc.MetadataValue | undefined): void => {
    if (options.onPeerStream === undefined || typeof from !== 'string') return;
    if (from.length === 0 || from.length > MAX_PEER_ID_LENGTH || from === selfId) return;
    try {
      options.onPeerStream(from);
    } catch (error) {
      logger.error({ err: error, from }, 'onPeerStream threw');
    }
  };

  /**
   * Wraps a call's completion so it happens exactly once, whether the peer finishes, we reject
   * its input, or close() shuts everything down.
   */
  const trackStream = <Res>(
    callback: grpc.sendUnaryData<Res>,
    ack: Res,
    onFinish: () => void = () => {},
  ): { finish: (reply: StatusReply | null) => void; finished: () => boolean } => {
    let done = false;
    const finish = (reply: StatusReply | null): void => {
      if (done) return;
      done = true;
      openStreams.delete(finish);
      onFinish();
      if (reply === null) callback(null, ack);
      else callback(reply);
    };
    openStreams.add(finish);
    return { finish, finished: () => done };
  };

  const reject = (
    finish: (reply: StatusReply) => void,
    code: grpc.status,
    details: string,
    peer: string,
  ): void => {
    rejectedStreams += 1;
    logger.warn({ peer, code: grpc.status[code], details }, 'rejecting peer stream');
    finish({ code, details });
  };

  const shuttingDown: StatusReply = {
    code: grpc.status.UNAVAILABLE,
    details: `node ${selfId} is shutting down`,
  };

  const handleSend = (
    call: grpc.ServerReadableStream<MessageBatchWire | UndecodableFrame, SendAckWire>,
    callback: grpc.sendUnaryData<SendAckWire>,
  ): void => {
    if (closed) {
      callback(shuttingDown);
      return;
    }
    const stream = trackStream(callback, {});
    // Headers now, not with the final status: the sender takes them as "connected".
    call.sendMetadata(new grpc.Metadata());
    announcePeer(call.metadata.get(PEER_FROM_METADATA)[0]);
    call.on('data', (frame: MessageBatchWire | UndecodableFrame) => {
      if (stream.finished()) return;
      if (frame instanceof UndecodableFrame) {
        reject(
          stream.finish,
          grpc.status.INVALID_ARGUMENT,
          `undecodable MessageBatch: ${frame.reason}`,
          call.getPeer(),
        );
        return;
      }
      let messages: StreamedMessage[];
      try {
        // Decode the whole batch first: a batch is accepted or rejected as a unit.
        messages = frame.messages.map(decodeMessage);
      } catch (error) {
        const details = error instanceof MalformedMessageError ? error.message : String(error);
        reject(
          stream.finish,
          grpc.status.INVALID_ARGUMENT,
          `invalid Raft message: ${details}`,
          call.getPeer(),
        );
        return;
      }
      for (const message of messages) {
        if (isForThisNode(message.from, message.to, message.type)) deliver(message);
      }
    });
    call.on('end', () => stream.finish(null));
    // The sender went away (cancelled, connection lost): nothing to answer.
    call.on('cancelled', () => stream.finish(null));
    call.on('error', () => stream.finish(null));
  };

  const handleInstallSnapshot = (
    call: grpc.ServerReadableStream<SnapshotChunkWire | UndecodableFrame, SnapshotAckWire>,
    callback: grpc.sendUnaryData<SnapshotAckWire>,
  ): void => {
    if (closed) {
      callback(shuttingDown);
      return;
    }
    if (activeSnapshots >= maxConcurrentSnapshots) {
      rejectedStreams += 1;
      callback({
        code: grpc.status.RESOURCE_EXHAUSTED,
        details: `already receiving ${activeSnapshots} snapshots; retry later`,
      });
      return;
    }
    activeSnapshots += 1;
    let assembler: SnapshotAssembler | null = null;
    const stream = trackStream(callback, {}, () => {
      activeSnapshots -= 1;
      assembler = null; // let a partial image be collected at once
    });
    const peer = call.getPeer();
    call.sendMetadata(new grpc.Metadata());

    call.on('data', (chunk: SnapshotChunkWire | UndecodableFrame) => {
      if (stream.finished()) return;
      if (chunk instanceof UndecodableFrame) {
        reject(
          stream.finish,
          grpc.status.INVALID_ARGUMENT,
          `undecodable SnapshotChunk: ${chunk.reason}`,
          peer,
        );
        return;
      }
      try {
        if (assembler === null) {
          if (chunk.header === null) {
            reject(
              stream.finish,
              grpc.status.INVALID_ARGUMENT,
              'the first SnapshotChunk must carry the header',
              peer,
            );
            return;
          }
          const header = decodeSnapshotHeader(chunk.header);
          if (!isForThisNode(header.from, header.to, 'snapshot')) {
            reject(
              stream.finish,
              grpc.status.FAILED_PRECONDITION,
              `snapshot addressed to ${header.to} from ${header.from}, but this is node ${selfId}`,
              peer,
            );
            return;
          }
          if (header.totalBytes > maxSnapshotBytes) {
            reject(
              stream.finish,
              grpc.status.RESOURCE_EXHAUSTED,
              `snapshot of ${header.totalBytes} bytes exceeds this node's limit of ${maxSnapshotBytes}`,
              peer,
            );
            return;
          }
          assembler = new SnapshotAssembler(header);
        } else if (chunk.header !== null) {
          reject(
            stream.finish,
            grpc.status.INVALID_ARGUMENT,
            'only the first SnapshotChunk may carry a header',
            peer,
          );
          return;
        }
        assembler.append(chunk.offset, chunk.data);
      } catch (error) {
        const details = error instanceof MalformedMessageError ? error.message : String(error);
        reject(stream.finish, grpc.status.INVALID_ARGUMENT, `invalid snapshot stream: ${details}`, peer);
      }
    });

    call.on('end', () => {
      if (stream.finished()) return;
      if (assembler === null) {
        reject(stream.finish, grpc.status.INVALID_ARGUMENT, 'snapshot stream ended before its header', peer);
        return;
      }
      let message: Message;
      try {
        message = assembler.finish();
      } catch (error) {
        const details = error instanceof MalformedMessageError ? error.message : String(error);
        reject(stream.finish, grpc.status.INVALID_ARGUMENT, details, peer);
        return;
      }
      snapshotsReceived += 1;
      logger.info(
        { from: message.from, index: message.snapshot.meta.index, bytes: message.snapshot.data.byteLength },
        'received snapshot',
      );
      deliver(message);
      stream.finish(null);
    });
    call.on('cancelled', () => stream.finish(null));
    call.on('error', () => stream.finish(null));
  };

  const service = raftPeerService();
  const definition: grpc.ServiceDefinition = {
    Send: { ...service.Send, requestDeserialize: tolerantly(service.Send.requestDeserialize) },
    InstallSnapshot: {
      ...service.InstallSnapshot,
      requestDeserialize: tolerantly(service.InstallSnapshot.requestDeserialize),
    },
  };
  server.addService(definition, { Send: handleSend, InstallSnapshot: handleInstallSnapshot });

  return {
    stats: () => ({
      receivedByPeer: Object.fromEntries(receivedByPeer),
      snapshotsReceived,
      rejectedStreams,
      misrouted,
      deliveryErrors,
    }),
    close: () => {
      closed = true;
      for (const finish of [...openStreams]) finish(shuttingDown);
    },
  };
}
