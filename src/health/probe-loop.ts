import type { ProbeCheckSpec } from './check-spec.js';
import { CheckStateMachine, type CheckStatus } from './check-state-machine.js';
import type { ProbeResult } from './probes/probe-result.js';
import type { RunningCheck, RunningCheckHooks } from './running-check.js';

export type ProbeFunction = (spec: ProbeCheckSpec, signal: AbortSignal) => Promise<ProbeResult>;

/**
 * Probes one target every intervalMs. The next probe is scheduled only once the current one has
 * finished, so probes of one check never overlap however slow the target; the delay is
 * shortened by the probe's duration so a healthy target is probed at the configured rate.
 */
export class ProbeLoop implements RunningCheck {
  private readonly machine: CheckStateMachine;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: { readonly controller: AbortController; readonly done: Promise<unknown> } | undefined;
  private stopped = false;

  constructor(
    private readonly spec: ProbeCheckSpec,
    initialStatus: CheckStatus,
    private readonly firstDelayMs: number,
    private readonly probe: ProbeFunction,
    private readonly hooks: RunningCheckHooks,
  ) {
    this.machine = new CheckStateMachine(spec, initialStatus);
  }

  get status(): CheckStatus {
    return this.machine.status;
  }

  start(): void {
    this.schedule(this.firstDelayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const inFlight = this.inFlight;
    if (inFlight !== undefined) {
      inFlight.controller.abort();
      await inFlight.done;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.probeOnce(), delayMs);
    // Checks must not keep a process alive that has otherwise finished (the node's servers do that).
    this.timer.unref();
  }

  private async probeOnce(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    const startedAt = this.hooks.now();
    const controller = new AbortController();
    const done = this.probe(this.spec, controller.signal).catch(
      // runProbe never rejects; an injected probe might, and that is a failed probe too.
      (error: unknown): ProbeResult => ({
        ok: false,
        detail: `probe threw: ${String(error)}`,
        durationMs: 0,
      }),
    );
    this.inFlight = { controller, done };
    const result = await done;
    this.inFlight = undefined;
    // A result that arrives after stop() belongs to a check nobody is listening to any more.
    if (this.stopped) return;
    const change = this.machine.record(result, this.hooks.now());
    if (change !== undefined) this.hooks.emit(change);
    const elapsed = this.hooks.now() - startedAt;
    this.schedule(Math.max(0, this.spec.intervalMs - elapsed));
  }
}
