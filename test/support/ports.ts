import { createServer } from 'node:net';

/**
 * Free TCP ports on 127.0.0.1, found by binding port 0. Never the local cluster's defaults
 * (7001-7003, 8001-8003), so tests can run beside `npm start`.
 */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  const holders = [];
  while (ports.length < count) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    holders.push(server);
    if (typeof address === 'object' && address && !(address.port >= 7001 && address.port <= 8003))
      ports.push(address.port);
  }
  await Promise.all(holders.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}
