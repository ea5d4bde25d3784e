/**
 * One gRPC channel per endpoint. Before a call is sent we wait for the channel to be READY
 * and fail fast if it is not: that is how the client KNOWS a write was never sent (and so may
 * safely try it elsewhere), instead of guessing from an error message afterwards.
 */
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // grpc-js defaults to 1 s growing to 120 s: far too slow to notice a restarted node.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  // A paused or cut-off node sends no RST; keepalive is how a long watch stream notices.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
  // Each endpoint gets its own channel; sharing subchannels across clients would let one
  // client's close() disturb another's connections in the same process.
  'grpc.use_local_subchannel_pool': 1,
  // Per-call channelz bookkeeping costs CPU and nothing reads it.
  'grpc.enable_channelz': 0,
};

/** The channel could not be made ready: nothing was sent. */
export class NotConnectedError extends Error {
  override readonly name: string = 'NotConnectedError';
}

/** The client was closed: nothing was sent, and trying elsewhere is pointless. */
export class ClientClosedError extends NotConnectedError {
  override readonly name = 'ClientClosedError';
}

export class Connection {
  private readonly client: grpc.Client;
  private closed = false;

  constructor(readonly endpoint: string) {
    this.client = new grpc.Client(endpoint, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  /** Resolves once the channel is READY; rejects with NotConnectedError when it fails or `deadline` passes. */
  async ready(deadline: number): Promise<void> {
    const channel = this.client.getChannel();
    let state = channel.getConnectivityState(true);
    while (state !== grpc.connectivityState.READY) {
      if (this.closed || state === grpc.connectivityState.SHUTDOWN) {
        throw new ClientClosedError(`the connection to ${this.endpoint} was closed`);
      }
      if (state === grpc.connectivityState.TRANSIENT_FAILURE) {
        throw new NotConnectedError(`cannot connect to ${this.endpoint}`);
      }
      if (Date.now() >= deadline) throw new NotConnectedError(`timed out connecting to ${this.endpoint}`);
      const from = state;
      await new Promise<void>((resolve) => channel.watchConnectivityState(from, deadline, () => resolve()));
      state = channel.getConnectivityState(true);
    }
  }

  /** One unary call; rejects with the raw grpc ServiceError (CANCELLED once `signal` aborts). */
  unary<Req, Res>(
    method: MethodDefinition<Req, Res>,
    request: Req,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const onAbort = (): void => call.cancel();
      const call = this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline },
        (error, response) => {
          signal?.removeEventListener('abort', onAbort);
          if (error) reject(error);
          else if (response === undefined) reject(new Error(`${method.path} returned no message`));
          else resolve(response);
        },
      );
      if (signal !== undefined) {
        if (signal.aborted) call.cancel();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  serverStream<Req, Res>(method: MethodDefinition<Req, Res>, request: Req): grpc.ClientReadableStream<Res> {
    return this.client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      new grpc.Metadata(),
      {},
    );
  }

  bidi<Req, Res>(method: MethodDefinition<Req, Res>): grpc.ClientDuplexStream<Req, Res> {
    return this.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      new grpc.Metadata(),
      {},
    );
  }

  close(): void {
    this.closed = true;
    this.client.close();
  }
}

/** The connections of one client, made on first use. */
export class ConnectionPool {
  private readonly connections = new Map<string, Connection>();
  private closed = false;

  get(endpoint: string): Connection {
    if (this.closed) throw new ClientClosedError('the client is closed');
    let connection = this.connections.get(endpoint);
    if (connection === undefined) {
      connection = new Connection(endpoint);
      this.connections.set(endpoint, connection);
    }
    return connection;
  }

  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }
}
