import { afterEach, describe, expect, it } from 'vitest';
import { runProbe, validateCheckSpec, type ProbeCheckSpec } from '../../../src/health/index.js';
import { startGrpcHealthTarget, startHttpTarget, startTcpTarget } from './targets.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const timing = { intervalMs: 1_000, timeoutMs: 150 };
const spec = (input: object) => validateCheckSpec({ ...timing, ...input }) as ProbeCheckSpec;

describe('HTTP probe', () => {
  it('passes on 2xx and fails on 500, switching back and forth', async () => {
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    const check = spec({ kind: 'http', url: target.url() });
    await expect(runProbe(check)).resolves.toMatchObject({
      ok: true,
      detail: `GET ${target.url()}: HTTP 200 OK`,
    });
    target.mode = 'error';
    const failed = await runProbe(check);
    expect(failed).toMatchObject({
      ok: false,
      detail: `GET ${target.url()}: HTTP 500 Internal Server Error (expected 2xx)`,
    });
    target.mode = 'ok';
    expect((await runProbe(check)).ok).toBe(true);
  });

  it('checks the expected body and the expected status list', async () => {
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    const check = spec({ kind: 'http', url: target.url(), expectBody: 'status: ok' });
    expect((await runProbe(check)).ok).toBe(true);
    target.mode = 'wrong-body';
    const result = await runProbe(check);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(
      /HTTP 200 OK but the body does not contain "status: ok" \(body starts "status: degraded"\)/,
    );
    target.mode = 'error';
    expect((await runProbe(spec({ kind: 'http', url: target.url(), expectStatus: [500] }))).ok).toBe(true);
  });

  it('fails a hanging target at timeoutMs', async () => {
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    target.mode = 'hang';
    const result = await runProbe(spec({ kind: 'http', url: target.url(), timeoutMs: 100 }));
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/timed out after 100 ms/);
    expect(result.durationMs).toBeGreaterThanOrEqual(95);
    expect(result.durationMs).toBeLessThan(600);
  });

  it('fails with the connection error when nothing listens', async () => {
    const target = await startHttpTarget();
    const url = target.url();
    await target.close();
    const result = await runProbe(spec({ kind: 'http', url }));
    expect(result).toMatchObject({ ok: false });
    expect(result.detail).toMatch(/ECONNREFUSED/);
  });

  it('stops at once, as failed, when the caller aborts', async () => {
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    target.mode = 'hang';
    const controller = new AbortController();
    const probing = runProbe(spec({ kind: 'http', url: target.url() }), controller.signal);
    setTimeout(() => controller.abort(), 20);
    const result = await probing;
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/cancelled/);
    expect(result.durationMs).toBeLessThan(140);
  });
});

describe('TCP probe', () => {
  it('passes while the port accepts, fails while closed, passes again once reopened on the same port', async () => {
    const target = await startTcpTarget();
    cleanups.push(() => target.close());
    const check = spec({ kind: 'tcp', host: '127.0.0.1', port: target.port });
    await expect(runProbe(check)).resolves.toMatchObject({
      ok: true,
      detail: `TCP connect to 127.0.0.1:${target.port} succeeded`,
    });
    await target.close();
    const refused = await runProbe(check);
    expect(refused.ok).toBe(false);
    expect(refused.detail).toMatch(
      new RegExp(`TCP connect to 127.0.0.1:${target.port} failed: .*ECONNREFUSED`),
    );
    await target.reopen();
    expect((await runProbe(check)).ok).toBe(true);
  });
});

describe('gRPC health probe', () => {
  it('passes on SERVING, fails on NOT_SERVING and for an unknown service', async () => {
    const target = await startGrpcHealthTarget();
    cleanups.push(() => target.shutdown());
    const server = spec({ kind: 'grpc', host: '127.0.0.1', port: target.port });
    await expect(runProbe(server)).resolves.toMatchObject({
      ok: true,
      detail: `gRPC health of the server at 127.0.0.1:${target.port}: SERVING`,
    });
    target.statuses.set('', 'NOT_SERVING');
    expect(await runProbe(server)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/: NOT_SERVING$/),
    });
    target.statuses.set('', 'SERVING');
    expect((await runProbe(server)).ok).toBe(true);

    target.statuses.set('kv', 'SERVING');
    expect(
      (await runProbe(spec({ kind: 'grpc', host: '127.0.0.1', port: target.port, service: 'kv' }))).ok,
    ).toBe(true);
    const unknown = await runProbe(
      spec({ kind: 'grpc', host: '127.0.0.1', port: target.port, service: 'nope' }),
    );
    expect(unknown).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/does not know this service \(NOT_FOUND\)/),
    });
  });

  it('fails once the server is shut down', async () => {
    const target = await startGrpcHealthTarget();
    const check = spec({ kind: 'grpc', host: '127.0.0.1', port: target.port });
    expect((await runProbe(check)).ok).toBe(true);
    target.shutdown();
    const result = await runProbe(check);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/UNAVAILABLE/);
  });

  it('fails a slow server at timeoutMs', async () => {
    const target = await startGrpcHealthTarget();
    cleanups.push(() => target.shutdown());
    target.delayMs = 400;
    const result = await runProbe(
      spec({ kind: 'grpc', host: '127.0.0.1', port: target.port, timeoutMs: 100 }),
    );
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/timed out after 100 ms|DEADLINE_EXCEEDED/);
    expect(result.durationMs).toBeLessThan(390);
  });
});
