/**
 * Runs the health checks one node owns: a probe loop per HTTP/TCP/gRPC check, a TTL watch per
 * TTL check. It reports status CHANGES only, through onTransition; the caller proposes those
 * through the Raft log, so a healthy fleet costs the log nothing.
 */
import { validateCheckSpec, type CheckSpec, type CheckSpecInput } from './check-spec.js';
import { INITIAL_CHECK_STATUS, type CheckStatus, type StatusChange } from './check-state-machine.js';
import { HealthCheckUsageError } from './errors.js';
import { ProbeLoop, type ProbeFunction } from './probe-loop.js';
import { runProbe } from './probes/run-probe.js';
import type { RunningCheck } from './running-check.js';
import { TtlWatch } from './ttl-watch.js';

export interface CheckTransition extends StatusChange {
  readonly checkId: string;
}

export interface CheckRunnerOptions {
  /** Called for every status change, synchronously, in order per check. */
  readonly onTransition: (transition: CheckTransition) => void;
  /** Milliseconds; Date.now by default. Used for elapsed times and transition timestamps. */
  readonly now?: () => number;
  /** Replaces runProbe, e.g. with a scripted probe in tests. */
  readonly probe?: ProbeFunction;
  /**
   * Start each probe check at a random point within its first interval (default true), so a
   * node that takes over hundreds of checks at once does not probe them all in the same instant.
   */
  readonly staggerFirstProbe?: boolean;
  /** A float in [0, 1) for the stagger; Math.random by default. */
  readonly random?: () => number;
  /** Where an exception thrown by onTransition goes; by default it becomes a process warning. */
  readonly onCallbackError?: (error: unknown, transition: CheckTransition) => void;
}

export interface AddCheckOptions {
  /**
   * The status to start from (default critical). A node taking a check over from another must
   * pass the status the log already holds, or it would re-propose a change that happened long ago.
   */
  readonly initialStatus?: CheckStatus;
}

interface Entry {
  readonly spec: CheckSpec;
  readonly check: RunningCheck;
  readonly ttl: TtlWatch | undefined;
}

export class CheckRunner {
  private readonly checks = new Map<string, Entry>();
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly options: CheckRunnerOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Validates `spec` and starts running it; returns the spec with defaults filled in. Throws
   * InvalidCheckSpecError for a bad spec and HealthCheckUsageError for a duplicate id.
   */
  add(checkId: string, spec: CheckSpecInput | CheckSpec | unknown, options: AddCheckOptions = {}): CheckSpec {
    if (this.stopped) throw new HealthCheckUsageError(`cannot add check ${checkId}: the runner is stopped`);
    if (this.checks.has(checkId)) {
      throw new HealthCheckUsageError(
        `check ${checkId} is already running; remove it before adding it again`,
      );
    }
    const valid = validateCheckSpec(spec);
    const initialStatus = options.initialStatus ?? INITIAL_CHECK_STATUS;
    const hooks = {
      now: this.now,
      emit: (change: StatusChange) => this.emit({ checkId, ...change }),
    };
    let entry: Entry;
    if (valid.kind === 'ttl') {
      const ttl = new TtlWatch(valid, initialStatus, hooks);
      entry = { spec: valid, check: ttl, ttl };
    } else {
      const firstDelay =
        this.options.staggerFirstProbe === false
          ? 0
          : Math.floor((this.options.random ?? Math.random)() * valid.intervalMs);
      const probe = this.options.probe ?? runProbe;
      entry = {
        spec: valid,
        check: new ProbeLoop(valid, initialStatus, firstDelay, probe, hooks),
        ttl: undefined,
      };
    }
    this.checks.set(checkId, entry);
    entry.check.start();
    return valid;
  }

  /** Stops and forgets a check; resolves once its in-flight probe (if any) has been torn down. */
  async remove(checkId: string): Promise<boolean> {
    const entry = this.checks.get(checkId);
    if (entry === undefined) return false;
    this.checks.delete(checkId);
    await entry.check.stop();
    return true;
  }

  /** Records a heartbeat for a TTL check. */
  heartbeat(checkId: string): void {
    const entry = this.checks.get(checkId);
    if (entry === undefined) throw new HealthCheckUsageError(`no check ${checkId} is running on this runner`);
    if (entry.ttl === undefined) {
      throw new HealthCheckUsageError(
        `check ${checkId} is a ${entry.spec.kind} check; only ttl checks take heartbeats`,
      );
    }
    entry.ttl.heartbeat();
  }

  status(checkId: string): CheckStatus | undefined {
    return this.checks.get(checkId)?.check.status;
  }

  spec(checkId: string): CheckSpec | undefined {
    return this.checks.get(checkId)?.spec;
  }

  checkIds(): string[] {
    return [...this.checks.keys()];
  }

  /** Stops every check; no transition is reported once this has been called. */
  async stop(): Promise<void> {
    this.stopped = true;
    const entries = [...this.checks.values()];
    this.checks.clear();
    await Promise.all(entries.map((entry) => entry.check.stop()));
  }

  private emit(transition: CheckTransition): void {
    if (this.stopped || !this.checks.has(transition.checkId)) return;
    try {
      this.options.onTransition(transition);
    } catch (error) {
      if (this.options.onCallbackError !== undefined) this.options.onCallbackError(error, transition);
      else process.emitWarning(`health check ${transition.checkId}: onTransition threw: ${String(error)}`);
    }
  }
}
