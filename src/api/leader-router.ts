/**
 * Requests that must run on the leader: membership changes, compaction, and writes that read
 * the leader's state first (plain writes are proposed on any member, whose replica hands them
 * to the leader inside Raft). A follower forwards them to the leader's client service (one
 * cached channel per leader address) instead of redirecting the client: clients may talk to
 * any member, and a request makes at most one extra hop because a forwarded call is never
 * forwarded again.
 */
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { RaftreeNode } from '../node/raftree-node.js';
import type { NodeId } from '../raft/types.js';
import { ReplicaError } from '../replica/errors.js';
import { FORWARDED_BY_METADATA, type CallContext } from './call-context.js';
import { ApiError, noLeader, outcomeUnknown, Trailer, type RequestKind } from './errors.js';

const FORWARDING_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // The leader already enforced the request limits; its answers (txn reads) may be large.
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
  // A restarted leader should be reachable again within a second, not after a long backoff.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
};

export class LeaderRouter {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(private readonly node: RaftreeNode) {}

  /** Runs `local` if this node leads, otherwise forwards `request` to the leader's `method`. */
  async route<Res>(
    method: MethodDefinition<object, object>,
    request: object,
    context: CallContext,
    kind: RequestKind,
    local: () => Promise<Res>,
  ): Promise<Res> {
    const replica = this.node.replica;
    if (replica.isLeader) {
      try {
        return await local();
      } catch (error) {
        // Leadership moved between the check and the proposal (nothing was proposed): follow it.
        const movedTo = error instanceof ReplicaError && error.code === 'NOT_LEADER' ? error.leaderId : null;
        if (
          movedTo !== null &&
          !replica.isLeader &&
          movedTo !== this.node.config.id &&
          context.forwardedBy === null
        ) {
          return this.forward<Res>(method, request, context, kind, movedTo);
        }
        throw error;
      }
    }
    const leader = replica.leaderId;
    if (leader === null || leader === this.node.config.id) throw noLeader();
    if (context.forwardedBy !== null) {
      throw new ApiError(
        grpc.status.UNAVAILABLE,
        `node ${this.node.config.id} is no longer the leader (the request was forwarded by ` +
          `${context.forwardedBy}); ${leader} leads now: retry`,
        this.leaderTrailers(leader),
      );
    }
    return this.forward<Res>(method, request, context, kind, leader);
  }

  private leaderTrailers(leader: NodeId): Record<string, string> {
    const address = this.node.addresses.get(leader);
    return address === undefined
      ? { [Trailer.leaderId]: leader }
      : { [Trailer.leaderId]: leader, [Trailer.leaderAddress]: address };
  }

  private forward<Res>(
    method: MethodDefinition<object, object>,
    request: object,
    context: CallContext,
    kind: RequestKind,
    leader: NodeId,
  ): Promise<Res> {
    const address = this.node.addresses.get(leader);
    if (address === undefined) {
      return Promise.reject(
        new ApiError(
          grpc.status.UNAVAILABLE,
          `the leader ${leader} has no known address on ${this.node.config.id}; retry`,
        ),
      );
    }
    const client = this.clientFor(address);
    const metadata = new grpc.Metadata();
    metadata.set(FORWARDED_BY_METADATA, this.node.config.id);
    return new Promise<Res>((resolve, reject) => {
      if (context.signal.aborted) {
        reject(context.signal.reason);
        return;
      }
      const onAbort = (): void => call.cancel();
      const call = client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline: context.deadline },
        (error, response) => {
          context.signal.removeEventListener('abort', onAbort);
          if (context.signal.aborted) reject(context.signal.reason);
          else if (error) reject(this.forwardingError(error, leader, address, kind));
          else resolve(response as Res);
        },
      );
      context.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private forwardingError(
    error: grpc.ServiceError,
    leader: NodeId,
    address: string,
    kind: RequestKind,
  ): ApiError {
    const trailers: Record<string, string> = {};
    for (const [key, value] of Object.entries(error.metadata?.getMap() ?? {})) {
      if (key.startsWith('raftree-') && typeof value === 'string') trailers[key] = value;
    }
    // The leader answered: its status stands as it is.
    if (trailers[Trailer.memberId] !== undefined) return new ApiError(error.code, error.details, trailers);
    const isWrite = kind !== 'read';
    if (error.code === grpc.status.DEADLINE_EXCEEDED) {
      const why = `the deadline passed while the leader ${leader} handled the forwarded request`;
      return isWrite ? outcomeUnknown(grpc.status.DEADLINE_EXCEEDED, why) : new ApiError(error.code, why);
    }
    if (error.code === grpc.status.CANCELLED) return new ApiError(error.code, 'the call was cancelled');
    const why = `could not reach the leader ${leader} at ${address} to forward the request (${error.details})`;
    // "No connection established": the request never left this node, so it certainly did not apply.
    if (isWrite && !error.details.includes('No connection established')) {
      return outcomeUnknown(grpc.status.UNAVAILABLE, why);
    }
    return new ApiError(grpc.status.UNAVAILABLE, `${why}; retry`, this.leaderTrailers(leader));
  }

  private clientFor(address: string): grpc.Client {
    let client = this.clients.get(address);
    if (client === undefined) {
      this.dropStaleClients();
      client = new grpc.Client(address, grpc.credentials.createInsecure(), FORWARDING_CHANNEL_OPTIONS);
      this.clients.set(address, client);
    }
    return client;
  }

  /** Channels to addresses no member has any more (removed members). */
  private dropStaleClients(): void {
    const current = new Set(this.node.addresses.values());
    for (const [address, client] of this.clients) {
      if (current.has(address)) continue;
      client.close();
      this.clients.delete(address);
    }
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
