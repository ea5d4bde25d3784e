import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../support/ports.js';

describe('test support: freePorts', () => {
  it('hands out distinct, bindable ports below the kernel ephemeral range, never the local cluster defaults', async () => {
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    const ephemeralStart = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    // Below 12,000 the range left under it is too narrow, and the kernel picks instead.
    const drawn = ephemeralStart - 10_000 >= 2_000;
    for (const port of ports) {
      if (drawn) {
        expect(port).toBeGreaterThanOrEqual(10_000);
        expect(port).toBeLessThan(ephemeralStart);
      } else {
        expect(port >= 7001 && port <= 8003).toBe(false);
      }
    }
    // Released: each can be bound again at once.
    for (const port of ports) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
