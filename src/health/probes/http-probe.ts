import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HttpCheckSpec } from '../check-spec.js';
import { describeError, onAbort, type ProbeOutcome } from './probe-result.js';

/** Only this much of a body is read: enough for a status page, bounded against a target streaming forever. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Passes when the response status is accepted (any 2xx unless expectStatus says otherwise) and,
 * if expectBody is set, the body's first MAX_BODY_BYTES contain it.
 */
export function httpProbe(spec: HttpCheckSpec, signal: AbortSignal): Promise<ProbeOutcome> {
  const target = `${spec.method} ${spec.url}`;
  return new Promise<ProbeOutcome>((resolve, reject) => {
    const url = new URL(spec.url);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, {
      method: spec.method,
      headers: { 'user-agent': 'raftree-health-check', ...spec.headers },
      // No pooling: a kept-alive socket would outlive the check (and a probe must measure a
      // fresh connection, as a new client would make one).
      agent: false,
      rejectUnauthorized: !spec.tlsSkipVerify,
    });
    const unsubscribe = onAbort(signal, () => {
      request.destroy();
      reject(signal.reason);
    });
    const settle = (outcome: ProbeOutcome) => {
      unsubscribe();
      resolve(outcome);
    };
    request.once('error', (error) => {
      settle({ ok: false, detail: `${target} failed: ${describeError(error)}` });
    });
    request.once('response', (response) => {
      const status = response.statusCode ?? 0;
      const statusLine = `HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}`;
      if (!statusAccepted(status, spec.expectStatus)) {
        response.destroy();
        settle({
          ok: false,
          detail: `${target}: ${statusLine} (expected ${describeExpected(spec.expectStatus)})`,
        });
        return;
      }
      if (spec.expectBody === undefined) {
        response.destroy();
        settle({ ok: true, detail: `${target}: ${statusLine}` });
        return;
      }
      const expected = spec.expectBody;
      readBodyPrefix(response, MAX_BODY_BYTES).then(
        (body) => {
          response.destroy();
          settle(
            body.includes(expected)
              ? { ok: true, detail: `${target}: ${statusLine}, body contains ${JSON.stringify(expected)}` }
              : {
                  ok: false,
                  detail: `${target}: ${statusLine} but the body does not contain ${JSON.stringify(expected)} (body starts ${JSON.stringify(body.slice(0, 60))})`,
                },
          );
        },
        (error: unknown) => {
          response.destroy();
          settle({ ok: false, detail: `${target}: reading the body failed: ${describeError(error)}` });
        },
      );
    });
    request.end();
  });
}

function statusAccepted(status: number, expected: readonly number[] | undefined): boolean {
  return expected === undefined ? status >= 200 && status <= 299 : expected.includes(status);
}

function describeExpected(expected: readonly number[] | undefined): string {
  return expected === undefined ? '2xx' : expected.join(' or ');
}

/** The body's first `limit` bytes as UTF-8 (a multi-byte character cut at the limit becomes U+FFFD). */
function readBodyPrefix(response: IncomingMessage, limit: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = () => resolve(Buffer.concat(chunks, Math.min(length, limit)).toString('utf8'));
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= limit) {
        response.removeAllListeners('data');
        finish();
      }
    });
    response.once('end', finish);
    response.once('error', reject);
    // The peer closing mid-body is an answer too: judge what arrived.
    response.once('aborted', finish);
  });
}
