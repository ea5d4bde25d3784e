/**
 * A TCP proxy for ONE directed peer link (node a's connections to node b), which the
 * nemesis can cut and heal.
 *
 * Cutting is a blackhole, not a reset: bytes already in flight and every byte after are
 * silently dropped, new connections are accepted and then ignored. That is what a real
 * partition looks like to the node (no RST, no error: just silence until its keepalive or its
 * own timeouts give up), so it exercises the same code paths. Healing destroys whatever was
 * blackholed (their HTTP/2 framing is broken beyond repair) so the node reconnects cleanly.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type LinkMode = 'pass' | 'cut';

interface Pipe {
  readonly inbound: Socket;
  /** null while blackholed from the start (never connected upstream). */
  readonly outbound: Socket | null;
  /** Created or caught while the link was cut: unusable after healing. */
  poisoned: boolean;
}

export interface LinkStats {
  readonly connections: number;
  readonly bytesForwarded: number;
  readonly bytesDropped: number;
}

export class LinkProxy {
  private readonly server: Server;
  private readonly pipes = new Set<Pipe>();
  private linkMode: LinkMode = 'pass';
  private connections = 0;
  private bytesForwarded = 0;
  private bytesDropped = 0;
  private closed = false;

  private constructor(
    readonly from: string,
    readonly to: string,
    readonly port: number,
    private readonly targetPort: number,
    server: Server,
  ) {
    this.server = server;
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listens on 127.0.0.1:`port` (0: any free port) and forwards to 127.0.0.1:`targetPort`. */
  static async start(from: string, to: string, targetPort: number, port = 0): Promise<LinkProxy> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
    return new LinkProxy(from, to, address.port, targetPort, server);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get mode(): LinkMode {
    return this.linkMode;
  }

  get stats(): LinkStats {
    return {
      connections: this.connections,
      bytesForwarded: this.bytesForwarded,
      bytesDropped: this.bytesDropped,
    };
  }

  setMode(mode: LinkMode): void {
    if (mode === this.linkMode || this.closed) return;
    this.linkMode = mode;
    if (mode === 'cut') {
      for (const pipe of this.pipes) pipe.poisoned = true;
      return;
    }
    for (const pipe of [...this.pipes]) if (pipe.poisoned) this.destroy(pipe);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pipe of [...this.pipes]) this.destroy(pipe);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(inbound: Socket): void {
    this.connections++;
    inbound.setNoDelay(true);
    if (this.linkMode === 'cut') {
      const pipe: Pipe = { inbound, outbound: null, poisoned: true };
      this.track(pipe);
      inbound.on('data', (chunk: Buffer) => (this.bytesDropped += chunk.length));
      return;
    }
    const outbound = createConnection({ host: '127.0.0.1', port: this.targetPort, noDelay: true });
    const pipe: Pipe = { inbound, outbound, poisoned: false };
    this.track(pipe);
    this.relay(pipe, inbound, outbound);
    this.relay(pipe, outbound, inbound);
  }

  /** Copies `source` to `sink` while the link passes; counts and drops while it is cut. */
  private relay(pipe: Pipe, source: Socket, sink: Socket): void {
    source.on('data', (chunk: Buffer) => {
      if (pipe.poisoned) {
        this.bytesDropped += chunk.length;
        return;
      }
      this.bytesForwarded += chunk.length;
      // Backpressure: a slow receiver slows the sender instead of growing our buffers.
      if (!sink.write(chunk)) {
        source.pause();
        sink.once('drain', () => source.resume());
      }
    });
  }

  private track(pipe: Pipe): void {
    this.pipes.add(pipe);
    const end = () => this.destroy(pipe);
    for (const socket of [pipe.inbound, pipe.outbound]) {
      if (socket === null) continue;
      // Errors (ECONNREFUSED while the target is down, resets) just end the pipe.
      socket.on('error', end);
      socket.on('close', end);
    }
  }

  private destroy(pipe: Pipe): void {
    if (!this.pipes.delete(pipe)) return;
    pipe.inbound.destroy();
    pipe.outbound?.destroy();
  }
}
