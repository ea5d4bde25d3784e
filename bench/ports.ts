import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/** The lowest port handed out: below it sit well-known and registered services' ports. */
const LOWEST_PORT = 10_000;
/** Linux's default first ephemeral port, when /proc cannot say. */
const DEFAULT_EPHEMERAL_START = 32_768;
/** A range narrower than this is not worth drawing from: ask the kernel instead. */
const MIN_RANGE = 2_000;

/**
 * `count` distinct free TCP ports on 127.0.0.1, never the local cluster's defaults (7001-7003,
 * 8001-8003) nor etcd's (2379, 2380), so tests and the bench can run beside `npm start`.
 *
 * Drawn at random below the kernel's ephemeral range and checked by binding. A port the kernel
 * picks for `listen(0)` comes from the ephemeral range, which is also where every outgoing
 * connection's source port comes from: once such a port is released, a client connection (a
 * parallel test's, or the bench's own) can take it before the node meant to listen there starts
 * (seen in CI as a chaos run's node failing with EADDRINUSE). Below the range only another
 * listener can take a port.
 */
export async function freePorts(count: number): Promise<number[]> {
  return freePortsBelow(count, ephemeralRangeStart());
}

/**
 * freePorts for a given first ephemeral port (exported for its test, which cannot change the
 * machine's range): drawn from [LOWEST_PORT, ephemeralStart), or picked by the kernel when that
 * range is narrower than MIN_RANGE.
 */
export async function freePortsBelow(count: number, ephemeralStart: number): Promise<number[]> {
  return ephemeralStart - LOWEST_PORT < MIN_RANGE
    ? kernelPorts(count)
    : drawnPorts(count, LOWEST_PORT, ephemeralStart);
}

export function ephemeralRangeStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : DEFAULT_EPHEMERAL_START;
  } catch {
    return DEFAULT_EPHEMERAL_START; // not Linux: its usual range starts higher still
  }
}

/** Ports never handed out: raftree's local cluster (`npm start`) and etcd's defaults. */
export function isReserved(port: number): boolean {
  return (port >= 7001 && port <= 8003) || port === 2379 || port === 2380;
}

async function drawnPorts(count: number, low: number, high: number): Promise<number[]> {
  const ports: number[] = [];
  const holders: Server[] = [];
  try {
    for (let attempt = 0; ports.length < count; attempt++) {
      if (attempt > count * 100) throw new Error(`no ${count} free ports found in ${low}-${high - 1}`);
      const port = low + Math.floor(Math.random() * (high - low));
      if (isReserved(port) || ports.includes(port)) continue;
      const server = await listen(port).catch(() => null);
      if (server === null) continue; // taken
      holders.push(server);
      ports.push(port);
    }
    return ports;
  } finally {
    await closeAll(holders);
  }
}

/** Ports the kernel picks (binding port 0): the fallback where no range below its own is usable. */
async function kernelPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  const holders: Server[] = [];
  try {
    while (ports.length < count) {
      const server = await listen(0);
      holders.push(server);
      const address = server.address();
      if (typeof address === 'object' && address !== null && !isReserved(address.port))
        ports.push(address.port);
    }
    return ports;
  } finally {
    await closeAll(holders);
  }
}

/** A server listening on 127.0.0.1:`port`, held until closed (rejects if the port is taken). */
function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function closeAll(servers: readonly Server[]): Promise<unknown> {
  return Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
}
