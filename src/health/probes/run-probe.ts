import type { ProbeCheckSpec } from '../check-spec.js';
import { grpcProbe } from './grpc-probe.js';
import { httpProbe } from './http-probe.js';
import { describeError, type ProbeOutcome, type ProbeResult } from './probe-result.js';
import { tcpProbe } from './tcp-probe.js';

/** The reason a probe is aborted when it overruns its timeout. */
export class ProbeTimeoutError extends Error {
  override readonly name = 'ProbeTimeoutError';
}

/** The reason a probe is aborted when its caller's signal fires (the runner stopping). */
export class ProbeCancelledError extends Error {
  override readonly name = 'ProbeCancelledError';
}

/**
 * Runs one probe of `spec`, failing it once spec.timeoutMs passes or `signal` fires. Always
 * resolves — an unreachable, slow or broken target is a failed result, not an exception — and
 * leaves no socket or timer behind once it has.
 */
export async function runProbe(spec: ProbeCheckSpec, signal?: AbortSignal): Promise<ProbeResult> {
  const startedAt = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new ProbeTimeoutError(`timed out after ${spec.timeoutMs} ms`)),
    spec.timeoutMs,
  );
  const cancel = () => controller.abort(new ProbeCancelledError('cancelled: the check was stopped'));
  if (signal?.aborted) cancel();
  else signal?.addEventListener('abort', cancel, { once: true });
  let outcome: ProbeOutcome;
  try {
    outcome = await probeOnce(spec, controller.signal);
  } catch (error) {
    outcome = { ok: false, detail: describeFailure(spec, error) };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', cancel);
  }
  return { ...outcome, durationMs: Math.round((performance.now() - startedAt) * 10) / 10 };
}

function probeOnce(spec: ProbeCheckSpec, signal: AbortSignal): Promise<ProbeOutcome> {
  if (signal.aborted) return Promise.reject(signal.reason);
  switch (spec.kind) {
    case 'http':
      return httpProbe(spec, signal);
    case 'tcp':
      return tcpProbe(spec, signal);
    case 'grpc':
      return grpcProbe(spec, signal, spec.timeoutMs);
  }
}

function describeFailure(spec: ProbeCheckSpec, error: unknown): string {
  const target =
    spec.kind === 'http' ? `${spec.method} ${spec.url}` : `${spec.kind} ${spec.host}:${spec.port}`;
  return `${target}: ${describeError(error)}`;
}
