/**
 * The Session service. Open and Close are writes (proposed on the leader, forwarded there by a
 * follower). Info and List report the remaining TTL, which only the leader's SessionKeeper
 * knows, so they are forwarded to the leader too. KeepAlive is a bidirectional stream: on the
 * leader each request resets the session's deadline; a follower relays the requests to the
 * leader over one upstream stream (re-opened when the leader changes) and the answers back.
 */
import * as grpc from '@grpc/grpc-js';
import type { CallContext } from '../api/call-context.js';
import { FORWARDED_BY_METADATA } from '../api/call-context.js';
import { ApiError, invalidArgument, noLeader, type RequestKind } from '../api/errors.js';
import { RejectedRequest } from '../api/proto.js';
import { ReplicaError } from '../replica/errors.js';
import { StateMachineError, StateMachineErrorCode } from '../state-machine/index.js';
import { type CoordinationContext, propose, readBarrier, unary } from './context.js';
import { notFound, toCoordinationApiError } from './errors.js';
import { methodOf } from './proto.js';
import { toSessionId, toTtlMs } from './validation.js';
import type {
  SessionCloseResponseWire,
  SessionIdRequestWire,
  SessionInfoResponseWire,
  SessionKeepAliveResponseWire,
  SessionListResponseWire,
  SessionOpenRequestWire,
  SessionOpenResponseWire,
} from './wire-types.js';

const FORWARDING_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
};

/** One cached channel per leader address, for relaying keep-alive streams. */
export class LeaderChannels {
  private readonly clients = new Map<string, grpc.Client>();

  get(address: string): grpc.Client {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = new grpc.Client(address, grpc.credentials.createInsecure(), FORWARDING_CHANNEL_OPTIONS);
      this.clients.set(address, client);
    }
    return client;
  }

  /** Drops channels to addresses that are no longer a member's. */
  prune(current: Iterable<string>): void {
    const keep = new Set(current);
    for (const [address, client] of this.clients) {
      if (keep.has(address)) continue;
      client.close();
      this.clients.delete(address);
    }
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

export function sessionServiceImplementation(
  ctx: CoordinationContext,
  channels: LeaderChannels,
): grpc.UntypedServiceImplementation {
  const { node, runner, headers, router, services, keeper } = ctx;
  const replica = node.replica;

  const open = async (
    wire: SessionOpenRequestWire,
    context: CallContext,
  ): Promise<SessionOpenResponseWire> => {
    const ttlMs = toTtlMs(wire.ttlMs);
    const result = await propose(node, { type: 'openSession', ttlMs }, context, ['openSession']);
    return { header: headers.make(result.revision), sessionId: result.sessionId, ttlMs: result.ttlMs };
  };

  const close = async (
    wire: SessionIdRequestWire,
    context: CallContext,
  ): Promise<SessionCloseResponseWire> => {
    const sessionId = toSessionId(wire.sessionId);
    const result = await propose(node, { type: 'closeSession', sessionId, reason: 'closed' }, context, [
      'closeSession',
    ]);
    return { header: headers.make(result.revision), deletedKeys: result.deletedKeys };
  };

  const infoOf = (sessionId: number): SessionInfoResponseWire => {
    const session = replica.stateMachine.session(sessionId);
    if (session === undefined) {
      throw notFound(
        `session ${sessionId} does not exist (it was never opened, or it was closed or expired); open a new one`,
      );
    }
    return {
      header: headers.make(),
      sessionId,
      ttlMs: session.ttlMs,
      remainingMs: keeper.remainingMs(sessionId),
      keys: session.keys,
    };
  };

  const info = async (wire: SessionIdRequestWire, context: CallContext): Promise<SessionInfoResponseWire> => {
    const sessionId = toSessionId(wire.sessionId);
    // Only the leader tracks deadlines: ask it.
    return router.route(methodOf(services.session, 'Info'), wire, context, 'read', async () => {
      await readBarrier(node, context);
      return infoOf(sessionId);
    });
  };

  const list = async (wire: object, context: CallContext): Promise<SessionListResponseWire> =>
    router.route(methodOf(services.session, 'List'), wire, context, 'read', async () => {
      await readBarrier(node, context);
      const sessions = replica.stateMachine.sessions().map((s) => infoOf(s.sessionId));
      return { header: headers.make(), sessions };
    });

  const keepAlive = (call: KeepAliveCall): void => {
    new KeepAliveStream(ctx, channels, call).start();
  };

  return {
    Open: unary(runner, 'Session/Open', 'write', open),
    Close: unary(runner, 'Session/Close', 'write', close),
    Info: unary(runner, 'Session/Info', 'read', info),
    List: unary(runner, 'Session/List', 'read', list),
    KeepAlive: keepAlive,
  };
}

type KeepAliveCall = grpc.ServerDuplexStream<
  SessionIdRequestWire | RejectedRequest,
  SessionKeepAliveResponseWire
>;
type Upstream = grpc.ClientDuplexStream<{ sessionId: number }, SessionKeepAliveResponseWire>;

/** One client's keep-alive stream. */
class KeepAliveStream {
  private closed = false;
  private upstream: { stream: Upstream; leader: string } | null = null;
  private readonly abort = new AbortController();
  private untrack: () => void = () => {};
  private readonly startedAt = performance.now();
  private readonly forwardedBy: string | null;

  constructor(
    private readonly ctx: CoordinationContext,
    private readonly channels: LeaderChannels,
    private readonly call: KeepAliveCall,
  ) {
    const value = call.metadata.get(FORWARDED_BY_METADATA)[0];
    this.forwardedBy = typeof value === 'string' && value !== '' ? value : null;
  }

  start(): void {
    const runner = this.ctx.runner;
    if (runner.isStopped) {
      this.fail(runner.shuttingDown);
      return;
    }
    this.untrack = runner.track(this.abort);
    this.abort.signal.addEventListener('abort', () => {
      const reason: unknown = this.abort.signal.reason;
      this.fail(reason instanceof ApiError ? reason : runner.shuttingDown);
    });
    this.call.on('data', (request: SessionIdRequestWire | RejectedRequest) => this.onRequest(request));
    this.call.on('end', () => {
      this.close(grpc.status.OK);
      this.call.end();
    });
    this.call.on('cancelled', () => this.close(grpc.status.CANCELLED));
    this.call.on('error', () => this.close(grpc.status.UNKNOWN));
    this.call.on('close', () => this.close(grpc.status.OK));
  }

  private onRequest(request: SessionIdRequestWire | RejectedRequest): void {
    if (this.closed) return;
    let sessionId: number;
    try {
      if (request instanceof RejectedRequest) throw new ApiError(request.code, request.message);
      if (request === null || typeof request !== 'object')
        throw invalidArgument('empty SessionKeepAliveRequest');
      sessionId = toSessionId(request.sessionId);
    } catch (error) {
      this.fail(toCoordinationApiError(error, 'read'));
      return;
    }
    const replica = this.ctx.node.replica;
    if (replica.isLeader) {
      this.dropUpstream();
      this.ctx.keeper.keepAlive(sessionId).then(
        (result) => this.send({ header: this.ctx.headers.make(), sessionId, ttlMs: result.ttlMs }),
        (error: unknown) => this.onLocalFailure(sessionId, error),
      );
      return;
    }
    this.relay(sessionId);
  }

  private onLocalFailure(sessionId: number, error: unknown): void {
    if (error instanceof StateMachineError && error.code === StateMachineErrorCode.SessionNotFound) {
      // The answer the protocol has for "gone": a TTL of 0.
      this.send({ header: this.ctx.headers.make(), sessionId, ttlMs: 0 });
      return;
    }
    // Leadership moved between the check and the keep-alive: relay it to the new leader.
    if (error instanceof ReplicaError && (error.code === 'NOT_LEADER' || error.code === 'NO_LEADER')) {
      if (!this.ctx.node.replica.isLeader && this.ctx.node.replica.leaderId !== null) {
        this.relay(sessionId);
        return;
      }
    }
    this.fail(toCoordinationApiError(error, 'read' as RequestKind));
  }

  /** Sends the keep-alive to the leader over this stream's upstream. */
  private relay(sessionId: number): void {
    const node = this.ctx.node;
    if (this.forwardedBy !== null) {
      this.fail(
        new ApiError(
          grpc.status.UNAVAILABLE,
          `node ${node.config.id} is no longer the leader (keep-alives were relayed by ${this.forwardedBy}); reconnect`,
        ),
      );
      return;
    }
    const leader = node.replica.leaderId;
    if (leader === null || leader === node.config.id) {
      this.fail(noLeader('keep-alives need a leader; reconnect and keep sending'));
      return;
    }
    const upstream = this.upstreamTo(leader);
    if (upstream === null) return;
    upstream.write({ sessionId });
  }

  private upstreamTo(leader: string): Upstream | null {
    if (this.upstream !== null && this.upstream.leader === leader) return this.upstream.stream;
    this.dropUpstream();
    const address = this.ctx.node.addresses.get(leader);
    if (address === undefined) {
      this.fail(
        new ApiError(grpc.status.UNAVAILABLE, `the leader ${leader} has no known address; reconnect`),
      );
      return null;
    }
    this.channels.prune(this.ctx.node.addresses.values());
    const method = methodOf(this.ctx.services.session, 'KeepAlive');
    const metadata = new grpc.Metadata();
    metadata.set(FORWARDED_BY_METADATA, this.ctx.node.config.id);
    const stream = this.channels
      .get(address)
      .makeBidiStreamRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        metadata,
        {},
      ) as Upstream;
    const entry = { stream, leader };
    this.upstream = entry;
    stream.on('data', (response: SessionKeepAliveResponseWire) => {
      if (this.upstream === entry) this.send(response);
    });
    const lost = (why: string): void => {
      if (this.upstream !== entry) return;
      this.upstream = null;
      // Keep-alives in flight to that leader are lost: the client reconnects and resends.
      this.fail(
        new ApiError(
          grpc.status.UNAVAILABLE,
          `lost the leader ${leader} while relaying keep-alives (${why}); reconnect and keep sending`,
        ),
      );
    };
    stream.on('error', (error: grpc.ServiceError) => lost(error.details || String(error.code)));
    stream.on('end', () => lost('its stream ended'));
    return stream;
  }

  private dropUpstream(): void {
    const upstream = this.upstream;
    if (upstream === null) return;
    this.upstream = null;
    upstream.stream.removeAllListeners('data');
    upstream.stream.on('error', () => undefined);
    upstream.stream.cancel();
  }

  private send(response: SessionKeepAliveResponseWire): void {
    if (this.closed || this.call.writableEnded || this.call.destroyed) return;
    this.call.write(response);
  }

  private fail(error: ApiError): void {
    if (this.closed) return;
    this.close(error.code);
    if (error.code === grpc.status.INTERNAL)
      this.ctx.node.logger.error({ err: error }, 'keep-alive stream failed');
    this.call.emit('error', error.toStatus(this.ctx.node.config.id));
  }

  private close(code: grpc.status): void {
    if (this.closed) return;
    this.closed = true;
    this.untrack();
    this.dropUpstream();
    this.ctx.runner.report('Session/KeepAlive', code, this.startedAt);
  }
}
