import { describe, expect, it } from 'vitest';
import { decideRetry } from '../../../src/client/retry-decision.js';
import type { RaftreeErrorCode } from '../../../src/client/errors.js';

const fromServer = { 'raftree-member-id': 'n1' };
const unknownOutcome = { 'raftree-member-id': 'n1', 'raftree-outcome': 'unknown' };
const status = (code: RaftreeErrorCode, trailers: Record<string, string> = {}) =>
  ({ kind: 'status', code, trailers }) as const;

describe('decideRetry', () => {
  it('retries anything that was never sent', () => {
    expect(decideRetry(false, { kind: 'notSent' })).toBe('retry');
    expect(decideRetry(true, { kind: 'notSent' })).toBe('retry');
  });

  it('retries reads on transient failures, never on final answers', () => {
    for (const code of ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED', 'CANCELLED', 'UNKNOWN'] as const) {
      expect(decideRetry(true, status(code))).toBe('retry');
    }
    for (const code of [
      'INVALID_ARGUMENT',
      'OUT_OF_RANGE',
      'RESOURCE_EXHAUSTED',
      'FAILED_PRECONDITION',
      'NOT_FOUND',
      'INTERNAL',
    ] as const) {
      expect(decideRetry(true, status(code, fromServer))).toBe('fail');
    }
  });

  it('never repeats a write whose fate is unknown', () => {
    // The connection broke or the deadline passed after sending: no server trailer.
    expect(decideRetry(false, status('UNAVAILABLE'))).toBe('outcomeUnknown');
    expect(decideRetry(false, status('DEADLINE_EXCEEDED'))).toBe('outcomeUnknown');
    expect(decideRetry(false, status('CANCELLED'))).toBe('outcomeUnknown');
    // The server itself says it cannot tell.
    expect(decideRetry(false, status('UNAVAILABLE', unknownOutcome))).toBe('outcomeUnknown');
    expect(decideRetry(false, status('DEADLINE_EXCEEDED', unknownOutcome))).toBe('outcomeUnknown');
  });

  it('repeats a write the server refused before proposing it', () => {
    expect(decideRetry(false, status('UNAVAILABLE', fromServer))).toBe('retry');
    expect(decideRetry(false, status('ABORTED', fromServer))).toBe('retry');
  });

  it('reports final refusals of writes as they are', () => {
    for (const code of [
      'INVALID_ARGUMENT',
      'RESOURCE_EXHAUSTED',
      'FAILED_PRECONDITION',
      'OUT_OF_RANGE',
    ] as const) {
      expect(decideRetry(false, status(code, fromServer))).toBe('fail');
      expect(decideRetry(false, status(code))).toBe('fail');
    }
    expect(decideRetry(false, status('INTERNAL', fromServer))).toBe('fail');
  });
});
