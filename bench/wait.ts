/** Polling helpers with a bound. */
import { connect } from 'node:net';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every `everyMs` until it returns a non-null value; null after `timeoutMs`. */
export async function pollUntil<T>(
  probe: () => Promise<T | null>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() >= deadline) return null;
    await sleep(everyMs);
  }
}

/** Whether something accepts TCP connections at HOST:PORT right now. */
export function acceptsConnections(endpoint: string, timeoutMs = 200): Promise<boolean> {
  const colon = endpoint.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.slice(0, colon), port: Number(endpoint.slice(colon + 1)) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
