import { createServer, type Server } from 'node:net';

/** Reserved ports the bench never hands out: raftree's local cluster and etcd's defaults. */
function reserved(port: number): boolean {
  return (port >= 7001 && port <= 8003) || port === 2379 || port === 2380;
}

/** `count` distinct free TCP ports on 127.0.0.1, found by binding port 0. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  const holders: Server[] = [];
  while (ports.length < count) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    holders.push(server);
    const address = server.address();
    if (typeof address === 'object' && address !== null && !reserved(address.port)) ports.push(address.port);
  }
  await Promise.all(holders.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}
