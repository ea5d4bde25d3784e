import { describe, expect, it } from 'vitest';
import { runSeeds } from './seeds.js';

// 3-node clusters (plus spares that membership changes may add), every fault kind drawn per seed.
describe('simulated 3-node clusters stay safe and live', () => {
  for (let batch = 0; batch < 6; batch++) {
    const first = 1 + batch * 50;
    it(`seeds ${first}..${first + 49}`, () => {
      const { ticks, acked } = runSeeds(first, first + 49, { voters: 3 });
      expect(ticks).toBeGreaterThan(50 * 3000);
      expect(acked).toBeGreaterThan(0);
    });
  }
});
