/**
 * A short chaos run in `npm test`: 3 nodes, 8 clients, 20 s of SIGKILL / restart and
 * SIGSTOP / SIGCONT (the leader often), then linearizability, watch, acknowledged-write and
 * final-state checks. `npm run chaos` runs longer and other mixes (docs/testing.md).
 */
import { it } from 'vitest';
import { expectChaosRunPasses } from '../chaos/expect-run.js';

it('stays linearizable and loses nothing under kills and pauses', async () => {
  await expectChaosRunPasses({
    timeMs: 20_000,
    nodes: 3,
    nemesis: ['kill', 'pause'],
    clients: 8,
    keys: 8,
    seed: 7,
  });
}, 120_000);
