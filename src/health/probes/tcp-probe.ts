import { connect } from 'node:net';
import type { TcpCheckSpec } from '../check-spec.js';
import { describeError, formatAddress, onAbort, type ProbeOutcome } from './probe-result.js';

/** Passes when a TCP connection to host:port is accepted; the connection is closed at once. */
export function tcpProbe(spec: TcpCheckSpec, signal: AbortSignal): Promise<ProbeOutcome> {
  const address = formatAddress(spec.host, spec.port);
  return new Promise<ProbeOutcome>((resolve, reject) => {
    const socket = connect({ host: spec.host, port: spec.port });
    const unsubscribe = onAbort(signal, () => {
      socket.destroy();
      reject(signal.reason);
    });
    socket.once('connect', () => {
      unsubscribe();
      socket.destroy();
      resolve({ ok: true, detail: `TCP connect to ${address} succeeded` });
    });
    socket.once('error', (error) => {
      unsubscribe();
      socket.destroy();
      resolve({ ok: false, detail: `TCP connect to ${address} failed: ${describeError(error)}` });
    });
  });
}
