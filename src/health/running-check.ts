import type { CheckStatus, StatusChange } from './check-state-machine.js';

/** One scheduled check inside the runner. */
export interface RunningCheck {
  readonly status: CheckStatus;
  start(): void;
  /** Stops timers and aborts an in-flight probe; resolves once the probe has let go of its socket. */
  stop(): Promise<void>;
}

export interface RunningCheckHooks {
  readonly now: () => number;
  /** Called only for status changes. */
  readonly emit: (change: StatusChange) => void;
}
