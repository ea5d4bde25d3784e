/** What one probe found. Probes never throw for an unhealthy target: that is a result. */
export interface ProbeResult {
  readonly ok: boolean;
  /** One line a person can read in a status page, e.g. "HTTP 503 Service Unavailable (expected 2xx)". */
  readonly detail: string;
  readonly durationMs: number;
}

/** A probe's verdict before runProbe adds the timing. */
export interface ProbeOutcome {
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * Calls `abort` when `signal` fires (at once if it already has) and returns the unsubscribe
 * function, so a finished probe does not leave a listener behind on a long-lived signal.
 */
export function onAbort(signal: AbortSignal, abort: () => void): () => void {
  if (signal.aborted) {
    abort();
    return () => undefined;
  }
  signal.addEventListener('abort', abort, { once: true });
  return () => signal.removeEventListener('abort', abort);
}

/** "host:port", with brackets around IPv6 literals. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An error's code and message as one short phrase, e.g. "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1". */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
