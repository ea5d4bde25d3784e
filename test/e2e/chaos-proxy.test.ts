/**
 * The chaos harness's own parts: the link proxy passes and blackholes bytes, partitions cut
 * the links they should, and a seed always plans the same fault schedule.
 */
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkProxy } from '../chaos/link-proxy.js';
import { planSchedule } from '../chaos/nemesis.js';
import { allLinks, bridge, deafen, isolate, silence, split } from '../chaos/partitions.js';

describe('LinkProxy', () => {
  let echo: Server | null = null;
  let proxy: LinkProxy | null = null;
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    await proxy?.close();
    await new Promise((resolve) => (echo ? echo.close(resolve) : resolve(undefined)));
  });

  async function startEcho(): Promise<number> {
    echo = createServer((socket) => socket.pipe(socket));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    return (echo.address() as { port: number }).port;
  }

  async function connect(port: number): Promise<Socket> {
    const socket = createConnection({ host: '127.0.0.1', port });
    sockets.push(socket);
    await once(socket, 'connect');
    return socket;
  }

  /** Sends `text` and resolves with what came back within `ms` (empty when nothing did). */
  async function roundTrip(socket: Socket, text: string, ms = 300): Promise<string> {
    let received = '';
    const onData = (chunk: Buffer) => (received += chunk.toString());
    socket.on('data', onData);
    socket.write(text);
    const deadline = Date.now() + ms;
    while (received.length < text.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    socket.off('data', onData);
    return received;
  }

  it('passes bytes both ways, drops them silently while cut, and lets new connections through after healing', async () => {
    const port = await startEcho();
    proxy = await LinkProxy.start('a', 'b', port);
    const before = await connect(proxy.port);
    expect(await roundTrip(before, 'hello')).toBe('hello');

    proxy.setMode('cut');
    // No reset, no error: silence, like a real partition.
    expect(await roundTrip(before, 'lost')).toBe('');
    expect(before.destroyed).toBe(false);
    const during = await connect(proxy.port);
    expect(await roundTrip(during, 'lost too')).toBe('');
    expect(proxy.stats.bytesDropped).toBeGreaterThan(0);

    const closed = once(before, 'close');
    proxy.setMode('pass');
    // Blackholed connections are ended on healing (their stream is broken beyond repair)...
    await closed;
    // ...and new ones work.
    const after = await connect(proxy.port);
    expect(await roundTrip(after, 'again')).toBe('again');
  });
});

describe('partitions', () => {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];

  it('isolating a node cuts its links both ways and nothing else', () => {
    const { cut } = isolate(nodes, 'n2');
    expect([...cut].sort()).toEqual(
      ['n1>n2', 'n2>n1', 'n2>n3', 'n2>n4', 'n2>n5', 'n3>n2', 'n4>n2', 'n5>n2'].sort(),
    );
  });

  it('a split cuts exactly the links between the sides', () => {
    const { cut } = split(['n1', 'n2'], ['n3', 'n4', 'n5']);
    expect(cut.size).toBe(12);
    expect(cut.has('n1>n3')).toBe(true);
    expect(cut.has('n3>n1')).toBe(true);
    expect(cut.has('n1>n2')).toBe(false);
    expect(cut.has('n4>n5')).toBe(false);
  });

  it('a bridge node keeps every link, the halves lose theirs', () => {
    const { cut } = bridge(nodes, 'n3');
    for (const link of cut) expect(link.includes('n3')).toBe(false);
    expect(cut.has('n1>n4')).toBe(true);
    expect(cut.has('n5>n2')).toBe(true);
    expect(cut.has('n1>n2')).toBe(false);
  });

  it('one-way partitions cut one direction only', () => {
    expect([...deafen(['n1', 'n2', 'n3'], 'n1').cut].sort()).toEqual(['n2>n1', 'n3>n1']);
    expect([...silence(['n1', 'n2', 'n3'], 'n1').cut].sort()).toEqual(['n1>n2', 'n1>n3']);
    expect(allLinks(['n1', 'n2', 'n3'])).toHaveLength(6);
  });
});

describe('the fault schedule', () => {
  it('is a function of the seed', () => {
    const options = { kinds: ['kill', 'pause', 'partition'] as const, seed: 42 };
    expect(planSchedule(options, 50)).toEqual(planSchedule(options, 50));
    expect(planSchedule(options, 50)).not.toEqual(planSchedule({ ...options, seed: 43 }, 50));
    const kinds = new Set(planSchedule(options, 50).flatMap((step) => step.faults.map((f) => f.kind)));
    expect(kinds).toEqual(new Set(['kill', 'pause', 'partition']));
  });

  it('uses only the kinds asked for', () => {
    const steps = planSchedule({ kinds: ['partition'], seed: 1 }, 30);
    expect(steps.every((step) => step.faults.every((f) => f.kind === 'partition'))).toBe(true);
  });
});
