import { describe, expect, it } from 'vitest';
import { runSimulation } from './sim-cluster.js';

describe('the simulator is deterministic', () => {
  it('replays a seed to the identical trace', () => {
    const first = runSimulation({ seed: 4242, trace: true });
    const second = runSimulation({ seed: 4242, trace: true });
    expect(first.trace.length).toBeGreaterThan(1000);
    expect(second.trace).toEqual(first.trace);
  });

  it('different seeds take different paths', () => {
    const a = runSimulation({ seed: 1, trace: true });
    const b = runSimulation({ seed: 2, trace: true });
    expect(a.trace).not.toEqual(b.trace);
  });
});
