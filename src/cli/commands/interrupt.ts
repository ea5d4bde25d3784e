/** Ctrl-C (SIGINT) and SIGTERM as a promise, for the commands that hold something until then. */
export interface Interrupt {
  /** Resolves with the signal's name at the first SIGINT or SIGTERM. */
  readonly signalled: Promise<NodeJS.Signals>;
  /** Whether a signal came. */
  readonly fired: boolean;
  /** Stops listening (restores the default behaviour). */
  dispose(): void;
}

export function onInterrupt(): Interrupt {
  let fired = false;
  let resolveSignal!: (signal: NodeJS.Signals) => void;
  const signalled = new Promise<NodeJS.Signals>((resolve) => (resolveSignal = resolve));
  const handler = (signal: NodeJS.Signals): void => {
    fired = true;
    resolveSignal(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signalled,
    get fired() {
      return fired;
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
