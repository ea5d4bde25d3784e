/** The election recipe's building blocks against a real state machine (no network). */
import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { ApiError } from '../../../src/api/errors.js';
import type { CallContext } from '../../../src/api/call-context.js';
import { candidatesOf, waitForDeletion } from '../../../src/coordination/recipe.js';
import { KvStateMachine, type Command } from '../../../src/state-machine/index.js';

const enc = new TextEncoder();

class Machine {
  readonly machine = new KvStateMachine();
  private index = 0;
  run(command: Command) {
    const outcome = this.machine.applyCommand(++this.index, command);
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }
  openSession(): number {
    const result = this.run({ type: 'openSession', ttlMs: 10_000 });
    if (result.type !== 'openSession') throw new Error('unexpected');
    return result.sessionId;
  }
  candidate(directory: string, session: number): string {
    const result = this.run({
      type: 'create',
      path: `${directory}/c-`,
      value: enc.encode(`s${session}`),
      session,
      sequential: true,
      parents: true,
    });
    if (result.type !== 'create') throw new Error('unexpected');
    return result.path;
  }
}

function context(timeoutMs = 2_000): { context: CallContext; abort: AbortController } {
  const abort = new AbortController();
  return { context: { deadline: Date.now() + timeoutMs, signal: abort.signal, forwardedBy: null }, abort };
}

const timeout = () => new ApiError(grpc.status.DEADLINE_EXCEEDED, 'timed out');

describe('candidates', () => {
  it('orders candidates by sequence number and ignores other children', () => {
    const m = new Machine();
    const [s1, s2, s3] = [m.openSession(), m.openSession(), m.openSession()];
    const a = m.candidate('/_election/e', s1);
    const b = m.candidate('/_election/e', s2);
    m.run({ type: 'put', key: '/_election/e/not-a-candidate', value: enc.encode('x') });
    const c = m.candidate('/_election/e', s3);
    m.run({ type: 'delete', key: b });
    const found = candidatesOf(m.machine, '/_election/e');
    expect(found.map((x) => x.key)).toEqual([a, c]);
    expect(found.map((x) => x.session)).toEqual([s1, s3]);
    expect(found[0]!.createRevision).toBeLessThan(found[1]!.createRevision);
  });
});

describe('waitForDeletion', () => {
  it('wakes on the deletion of a watched key, not on other changes', async () => {
    const m = new Machine();
    const [s1, s2, s3] = [m.openSession(), m.openSession(), m.openSession()];
    const first = m.candidate('/_lock/l', s1);
    const second = m.candidate('/_lock/l', s2);
    const third = m.candidate('/_lock/l', s3);
    const { context: ctx } = context();
    let woke = false;
    const waiting = waitForDeletion(m.machine, [second, third], m.machine.revision, ctx, timeout).then(() => {
      woke = true;
    });
    // The leader going does not concern the third candidate (it watches only its predecessor).
    m.run({ type: 'delete', key: first });
    m.run({ type: 'put', key: '/unrelated', value: enc.encode('x') });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(woke).toBe(false);
    // Its predecessor's session ending wakes it.
    m.run({ type: 'closeSession', sessionId: s2, reason: 'expired' });
    await waiting;
    expect(woke).toBe(true);
    expect(m.machine.watches.watcherCount).toBe(0);
  });

  it('rejects when aborted or out of time, and leaves no watcher behind', async () => {
    const m = new Machine();
    const key = m.candidate('/_lock/l', m.openSession());
    const { context: ctx, abort } = context();
    const aborted = waitForDeletion(m.machine, [key], m.machine.revision, ctx, timeout);
    abort.abort(new ApiError(grpc.status.CANCELLED, 'cancelled'));
    await expect(aborted).rejects.toMatchObject({ code: grpc.status.CANCELLED });
    const { context: short } = context(20);
    await expect(waitForDeletion(m.machine, [key], m.machine.revision, short, timeout)).rejects.toMatchObject(
      {
        code: grpc.status.DEADLINE_EXCEEDED,
      },
    );
    expect(m.machine.watches.watcherCount).toBe(0);
  });
});
