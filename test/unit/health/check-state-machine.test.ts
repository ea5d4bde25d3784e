import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CheckStateMachine,
  HealthCheckUsageError,
  INITIAL_CHECK_STATUS,
  TtlClock,
} from '../../../src/health/index.js';

const ok = { ok: true, detail: 'fine' };
const bad = { ok: false, detail: 'HTTP 500' };

describe('CheckStateMachine', () => {
  it('starts critical, like Consul, and passes after successesBeforePassing good results', () => {
    expect(INITIAL_CHECK_STATUS).toBe('critical');
    const machine = new CheckStateMachine({ failuresBeforeCritical: 3, successesBeforePassing: 2 });
    expect(machine.status).toBe('critical');
    expect(machine.record(ok, 1)).toBeUndefined();
    expect(machine.record(ok, 2)).toEqual({ from: 'critical', to: 'passing', detail: 'fine', at: 2 });
    expect(machine.status).toBe('passing');
  });

  it('turns critical only on the Nth consecutive failure, and reports nothing in between', () => {
    const machine = new CheckStateMachine(
      { failuresBeforeCritical: 3, successesBeforePassing: 1 },
      'passing',
    );
    expect(machine.record(bad, 1)).toBeUndefined();
    expect(machine.record(bad, 2)).toBeUndefined();
    expect(machine.pendingStreak).toBe(2);
    expect(machine.record(bad, 3)).toEqual({ from: 'passing', to: 'critical', detail: 'HTTP 500', at: 3 });
    expect(machine.record(bad, 4)).toBeUndefined();
  });

  it('a result that agrees with the status breaks the streak', () => {
    const machine = new CheckStateMachine(
      { failuresBeforeCritical: 3, successesBeforePassing: 1 },
      'passing',
    );
    machine.record(bad, 1);
    machine.record(bad, 2);
    machine.record(ok, 3);
    expect(machine.record(bad, 4)).toBeUndefined();
    expect(machine.record(bad, 5)).toBeUndefined();
    expect(machine.status).toBe('passing');
  });

  it('property: changes alternate, each needs exactly its threshold of agreeing results in a row', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.boolean(), { maxLength: 200 }),
        (failuresBeforeCritical, successesBeforePassing, results) => {
          const machine = new CheckStateMachine({ failuresBeforeCritical, successesBeforePassing });
          let status = machine.status;
          let run = 0;
          results.forEach((result, at) => {
            const change = machine.record({ ok: result, detail: '' }, at);
            const againstStatus = result !== (status === 'passing');
            run = againstStatus ? run + 1 : 0;
            const needed = status === 'passing' ? failuresBeforeCritical : successesBeforePassing;
            if (run === needed) {
              expect(change).toEqual({ from: status, to: result ? 'passing' : 'critical', detail: '', at });
              status = change!.to;
              run = 0;
            } else {
              expect(change).toBeUndefined();
            }
          });
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it('rejects thresholds below 1', () => {
    expect(() => new CheckStateMachine({ failuresBeforeCritical: 0, successesBeforePassing: 1 })).toThrow(
      HealthCheckUsageError,
    );
  });
});

describe('TtlClock', () => {
  it('is alive only within ttl of the last heartbeat', () => {
    const clock = new TtlClock(100);
    expect(clock.isAlive(0)).toBe(false);
    clock.heartbeat(1_000);
    expect(clock.expiresAt).toBe(1_100);
    expect(clock.isAlive(1_099)).toBe(true);
    expect(clock.isAlive(1_100)).toBe(false);
    clock.heartbeat(1_050);
    expect(clock.isAlive(1_100)).toBe(true);
  });
});
