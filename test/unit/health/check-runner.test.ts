import { afterEach, describe, expect, it } from 'vitest';
import {
  CheckRunner,
  HealthCheckUsageError,
  InvalidCheckSpecError,
  type CheckRunnerOptions,
  type CheckTransition,
  type ProbeCheckSpec,
  type ProbeResult,
} from '../../../src/health/index.js';
import { sleep, until } from '../../support/eventually.js';
import { startGrpcHealthTarget, startHttpTarget, startTcpTarget } from './targets.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A runner without stagger, recording transitions (and anything extra the test wants at that moment). */
function runner(options: Partial<CheckRunnerOptions> = {}, onTransition?: (t: CheckTransition) => void) {
  const transitions: CheckTransition[] = [];
  const checks = new CheckRunner({
    staggerFirstProbe: false,
    ...options,
    onTransition: (transition) => {
      transitions.push(transition);
      onTransition?.(transition);
    },
  });
  cleanups.push(() => checks.stop());
  const path = () => transitions.map((t) => `${t.checkId}:${t.to}`).join(' ');
  return { checks, transitions, path };
}

const fast = { intervalMs: 25, timeoutMs: 20 };

describe('CheckRunner with real targets', () => {
  it('HTTP: turns critical exactly on the 3rd consecutive failure, and passing on the 2nd success', async () => {
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    const hitsAtTransition: number[] = [];
    const { checks, transitions } = runner({}, () => hitsAtTransition.push(target.hits));
    target.mode = 'error';
    checks.add(
      'web',
      { kind: 'http', url: target.url(), ...fast, failuresBeforeCritical: 3, successesBeforePassing: 2 },
      { initialStatus: 'passing' },
    );
    await until('critical', () => transitions.length === 1, 3_000);
    expect(hitsAtTransition).toEqual([3]);
    expect(transitions[0]).toMatchObject({ checkId: 'web', from: 'passing', to: 'critical' });
    expect(transitions[0]!.detail).toMatch(/HTTP 500/);

    const hitsBefore = target.hits;
    target.mode = 'ok';
    await until('passing', () => transitions.length === 2, 3_000);
    // The probe in flight when the mode flipped may have seen either answer, hence 2 or 3.
    expect(hitsAtTransition[1]! - hitsBefore).toBeGreaterThanOrEqual(2);
    expect(hitsAtTransition[1]! - hitsBefore).toBeLessThanOrEqual(3);
    expect(checks.status('web')).toBe('passing');
  });

  it('HTTP: reports only transitions — a steady target costs nothing after the first', async () => {
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    const { checks, path } = runner();
    checks.add('web', { kind: 'http', url: target.url(), ...fast, failuresBeforeCritical: 1 });
    await until('some probes', () => target.hits >= 6, 3_000);
    expect(path()).toBe('web:passing');
    target.mode = 'wrong-body';
    checks.add('body', {
      kind: 'http',
      url: target.url(),
      ...fast,
      expectBody: 'status: ok',
      failuresBeforeCritical: 1,
    });
    await sleep(120);
    expect(path()).toBe('web:passing'); // 'body' started critical and stayed so: nothing to report
  });

  it('HTTP: a hanging target fails at timeoutMs', async () => {
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    target.mode = 'hang';
    const { checks, transitions } = runner();
    checks.add(
      'slow',
      { kind: 'http', url: target.url(), intervalMs: 60, timeoutMs: 40, failuresBeforeCritical: 1 },
      {
        initialStatus: 'passing',
      },
    );
    const started = Date.now();
    await until('critical', () => transitions.length === 1, 3_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    expect(transitions[0]!.detail).toMatch(/timed out after 40 ms/);
  });

  it('TCP: critical while the port is closed, passing once it is reopened', async () => {
    const target = await startTcpTarget();
    cleanups.push(() => target.close());
    const { checks, path } = runner();
    checks.add('db', {
      kind: 'tcp',
      host: '127.0.0.1',
      port: target.port,
      ...fast,
      failuresBeforeCritical: 2,
    });
    await until('passing', () => path() === 'db:passing', 3_000);
    await target.close();
    await until('critical', () => path() === 'db:passing db:critical', 3_000);
    await target.reopen();
    await until('passing again', () => path() === 'db:passing db:critical db:passing', 3_000);
  });

  it('gRPC: follows SERVING / NOT_SERVING and goes critical when the server shuts down', async () => {
    const target = await startGrpcHealthTarget();
    cleanups.push(() => target.shutdown());
    const { checks, path } = runner();
    checks.add('rpc', {
      kind: 'grpc',
      host: '127.0.0.1',
      port: target.port,
      intervalMs: 40,
      timeoutMs: 30,
      failuresBeforeCritical: 1,
    });
    await until('passing', () => path() === 'rpc:passing', 3_000);
    target.statuses.set('', 'NOT_SERVING');
    await until('critical', () => path() === 'rpc:passing rpc:critical', 3_000);
    target.statuses.set('', 'SERVING');
    await until('passing again', () => path() === 'rpc:passing rpc:critical rpc:passing', 3_000);
    target.shutdown();
    await until('critical on shutdown', () => path().endsWith('rpc:passing rpc:critical'), 3_000);
  });

  it('TTL: passing while heartbeats arrive, critical once they stop, passing on the next one', async () => {
    const { checks, transitions, path } = runner();
    // A generous TTL against the beat period: a loaded CI machine may delay a beat or two.
    checks.add('app', { kind: 'ttl', ttlMs: 150 });
    expect(checks.status('app')).toBe('critical');
    const beats = setInterval(() => checks.heartbeat('app'), 20);
    await sleep(300);
    clearInterval(beats);
    expect(path()).toBe('app:passing');
    const lastBeat = Date.now();
    await until('critical', () => transitions.length === 2, 1_000);
    expect(Date.now() - lastBeat).toBeGreaterThanOrEqual(130 - 5);
    expect(transitions[1]!.detail).toMatch(/no heartbeat for \d+ ms \(TTL 150 ms\)/);
    checks.heartbeat('app');
    expect(path()).toBe('app:passing app:critical app:passing');
  });

  it('TTL taken over while passing gets one TTL of grace, then goes critical without heartbeats', async () => {
    const { checks, path } = runner();
    checks.add('app', { kind: 'ttl', ttlMs: 50 }, { initialStatus: 'passing' });
    await sleep(20);
    expect(path()).toBe('');
    await until('critical', () => path() === 'app:critical', 1_000);
  });
});

describe('CheckRunner scheduling', () => {
  const spec = { kind: 'tcp', host: '127.0.0.1', port: 9, intervalMs: 20, timeoutMs: 10 };

  it('never overlaps probes of one check, even when a probe overruns the interval', async () => {
    let running = 0;
    let maxRunning = 0;
    let probes = 0;
    const slowProbe = async (): Promise<ProbeResult> => {
      running += 1;
      probes += 1;
      maxRunning = Math.max(maxRunning, running);
      await sleep(60);
      running -= 1;
      return { ok: true, detail: 'slow but fine', durationMs: 60 };
    };
    const { checks } = runner({ probe: slowProbe });
    checks.add('slow', spec);
    await until('several probes', () => probes >= 3, 3_000);
    expect(maxRunning).toBe(1);
  });

  it('stop() aborts an in-flight probe, resolves promptly and reports nothing afterwards', async () => {
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    target.mode = 'hang';
    const { checks, transitions } = runner();
    checks.add(
      'hang',
      { kind: 'http', url: target.url(), intervalMs: 2_000, timeoutMs: 1_500, failuresBeforeCritical: 1 },
      {
        initialStatus: 'passing',
      },
    );
    await until('probe in flight', () => target.hits === 1, 2_000);
    const started = Date.now();
    await checks.stop();
    expect(Date.now() - started).toBeLessThan(500);
    await sleep(50);
    expect(transitions).toEqual([]);
    expect(() => checks.add('late', { kind: 'ttl', ttlMs: 10 })).toThrow(/the runner is stopped/);
  });

  it('remove() stops one check and leaves the others running', async () => {
    let probesOfB = 0;
    const probe = async (s: ProbeCheckSpec): Promise<ProbeResult> => {
      if (s.kind === 'tcp' && s.port === 2) probesOfB += 1;
      return { ok: true, detail: '', durationMs: 0 };
    };
    const { checks } = runner({ probe });
    checks.add('a', { ...spec, port: 1 });
    checks.add('b', { ...spec, port: 2 });
    expect(await checks.remove('a')).toBe(true);
    expect(await checks.remove('a')).toBe(false);
    expect(checks.checkIds()).toEqual(['b']);
    const before = probesOfB;
    await until('b keeps probing', () => probesOfB >= before + 2, 2_000);
  });

  it('staggers the first probe within the first interval', async () => {
    const startedAt = Date.now();
    let firstProbeAt = 0;
    const probe = async (): Promise<ProbeResult> => {
      firstProbeAt ||= Date.now();
      return { ok: true, detail: '', durationMs: 0 };
    };
    const { checks } = runner({ probe, staggerFirstProbe: true, random: () => 0.5 });
    checks.add('s', { ...spec, intervalMs: 200, timeoutMs: 100 });
    await until('first probe', () => firstProbeAt > 0, 2_000);
    expect(firstProbeAt - startedAt).toBeGreaterThanOrEqual(95);
  });

  it('a throwing onTransition goes to onCallbackError and the check keeps running', async () => {
    const errors: unknown[] = [];
    let ok = true;
    const probe = async (): Promise<ProbeResult> => ({ ok, detail: '', durationMs: 0 });
    const checks = new CheckRunner({
      staggerFirstProbe: false,
      probe,
      onTransition: () => {
        throw new Error('proposal failed');
      },
      onCallbackError: (error) => errors.push(error),
    });
    cleanups.push(() => checks.stop());
    checks.add('x', { ...spec, failuresBeforeCritical: 1 });
    await until('first error', () => errors.length === 1, 2_000);
    ok = false;
    await until('second error', () => errors.length === 2, 2_000);
    expect(checks.status('x')).toBe('critical');
  });

  it('rejects bad specs, duplicate ids and misplaced heartbeats with typed errors', () => {
    const { checks } = runner({ probe: async () => ({ ok: true, detail: '', durationMs: 0 }) });
    expect(() => checks.add('bad', { ...spec, timeoutMs: 20 })).toThrow(InvalidCheckSpecError);
    checks.add('a', spec);
    expect(() => checks.add('a', spec)).toThrow(/already running; remove it before adding it again/);
    expect(() => checks.heartbeat('a')).toThrow(/is a tcp check; only ttl checks take heartbeats/);
    expect(() => checks.heartbeat('zzz')).toThrow(HealthCheckUsageError);
    expect(checks.spec('a')).toMatchObject({ failuresBeforeCritical: 3, successesBeforePassing: 1 });
  });
});

describe('resource hygiene', () => {
  it('leaves no sockets or timers behind once the runner is stopped and the targets closed', async () => {
    const count = (type: string) => process.getActiveResourcesInfo().filter((r) => r === type).length;
    const baseline = { sockets: count('TCPSocketWrap'), timers: count('Timeout') };
    const http = await startHttpTarget();
    const tcp = await startTcpTarget();
    const grpcTarget = await startGrpcHealthTarget();
    const { checks, transitions } = runner();
    http.mode = 'hang';
    checks.add(
      'h',
      { kind: 'http', url: http.url(), intervalMs: 30, timeoutMs: 20, failuresBeforeCritical: 1 },
      { initialStatus: 'passing' },
    );
    checks.add('t', { kind: 'tcp', host: '127.0.0.1', port: tcp.port, ...fast });
    checks.add('g', { kind: 'grpc', host: '127.0.0.1', port: grpcTarget.port, ...fast });
    checks.add('l', { kind: 'ttl', ttlMs: 1_000 });
    checks.heartbeat('l');
    await until('all probed', () => transitions.length >= 4, 3_000);
    await checks.stop();
    // Still listening, so any connection a probe left open (a gRPC channel, a kept-alive HTTP
    // socket) would still be there, on both ends.
    // 4 s: on a loaded two-core machine (the whole suite running) 2 s once ran out. It stays
    // below Node's 5 s HTTP keep-alive timeout, so a socket held open by keep-alive still fails.
    await until(
      'probe sockets and timers released',
      () => count('TCPSocketWrap') <= baseline.sockets && count('Timeout') <= baseline.timers,
      4_000,
    );
    await http.close();
    await tcp.close();
    grpcTarget.shutdown();
  });
});
