import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralRangeStart, freePortsBelow, isReserved } from '../../bench/ports.js';
import { freePorts } from '../support/ports.js';

async function expectBindable(ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('test support: freePorts', () => {
  // Linux's usual range starts at 32,768, leaving 10,000-32,767 to draw from (the next test
  // covers a machine whose range leaves too little).
  it.skipIf(ephemeralRangeStart() - 10_000 < 2_000)('hands out distinct, released ports drawn below the kernel ephemeral range', async () => {
    const ephemeralStart = ephemeralRangeStart();
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralStart);
      expect(isReserved(port)).toBe(false);
    }
    await expectBindable(ports);
  });

  it('lets the kernel pick when the range below its own is too narrow to draw from', async () => {
    // As if the ephemeral range started at 11,000: 10,000-10,999 is too narrow.
    const ports = await freePortsBelow(20, 11_000);
    expect(new Set(ports).size).toBe(20);
    // The kernel picks from its own (real) ephemeral range, never from the narrow one.
    for (const port of ports) expect(port).toBeGreaterThanOrEqual(ephemeralRangeStart());
    await expectBindable(ports);
  });

  it('never hands out the local cluster or etcd defaults', () => {
    for (const port of [7001, 7002, 7003, 8001, 8002, 8003, 2379, 2380]) expect(isReserved(port)).toBe(true);
    for (const port of [7000, 8004, 2378, 2381, 10_000]) expect(isReserved(port)).toBe(false);
  });
});
