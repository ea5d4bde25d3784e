/**
 * A short chaos run in `npm test`: 3 nodes, 8 clients, 20 s of network partitions through the
 * link proxies (isolated node, majority/minority split, bridge, one-way), then every check.
 */
import { it } from 'vitest';
import { expectChaosRunPasses } from '../chaos/expect-run.js';

it('stays linearizable and loses nothing under partitions', async () => {
  await expectChaosRunPasses({
    timeMs: 20_000,
    nodes: 3,
    nemesis: ['partition'],
    clients: 8,
    keys: 8,
    seed: 11,
  });
}, 120_000);
