/**
 * One LinkProxy per directed pair of nodes. Node a is started with a `--peers` list in which
 * every OTHER node's address is the proxy a>b (its own entry stays its real address: a node
 * uses it only as its identity, and binds `--listen`). Clients use the real addresses, so only
 * Raft traffic and forwarded requests cross the proxies.
 */
import { LinkProxy } from './link-proxy.js';
import { linkId, type LinkId } from './partitions.js';

export class ProxyMesh {
  private constructor(private readonly proxies: ReadonlyMap<LinkId, LinkProxy>) {}

  /** `ports`: every node's real listen port. */
  static async start(ports: ReadonlyMap<string, number>): Promise<ProxyMesh> {
    const proxies = new Map<LinkId, LinkProxy>();
    try {
      for (const from of ports.keys()) {
        for (const [to, port] of ports) {
          if (to !== from) proxies.set(linkId(from, to), await LinkProxy.start(from, to, port));
        }
      }
    } catch (error) {
      await Promise.all([...proxies.values()].map((p) => p.close()));
      throw error;
    }
    return new ProxyMesh(proxies);
  }

  /** The address node `from` must use to reach `to`. */
  addressFor(from: string, to: string): string {
    return this.proxy(linkId(from, to)).address;
  }

  /** Cuts exactly `links`, lets every other link pass. */
  apply(links: ReadonlySet<LinkId>): void {
    for (const [id, proxy] of this.proxies) proxy.setMode(links.has(id) ? 'cut' : 'pass');
  }

  heal(): void {
    this.apply(new Set());
  }

  cutLinks(): LinkId[] {
    return [...this.proxies].filter(([, p]) => p.mode === 'cut').map(([id]) => id);
  }

  totals(): { connections: number; bytesForwarded: number; bytesDropped: number } {
    let connections = 0;
    let bytesForwarded = 0;
    let bytesDropped = 0;
    for (const proxy of this.proxies.values()) {
      connections += proxy.stats.connections;
      bytesForwarded += proxy.stats.bytesForwarded;
      bytesDropped += proxy.stats.bytesDropped;
    }
    return { connections, bytesForwarded, bytesDropped };
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
  }

  private proxy(id: LinkId): LinkProxy {
    const proxy = this.proxies.get(id);
    if (proxy === undefined) throw new Error(`no proxy for link ${id}`);
    return proxy;
  }
}
