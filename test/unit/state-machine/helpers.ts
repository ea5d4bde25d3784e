import { expect } from 'vitest';
import { encodeCommand } from '../../../src/state-machine/commands.js';
import { StateMachineError } from '../../../src/state-machine/errors.js';
import { decodeSnapshot, encodeSnapshot } from '../../../src/state-machine/snapshot-codec.js';
import { KvStateMachine } from '../../../src/state-machine/state-machine.js';
import type { Command, CommandResult, KeyValue, TxnResult } from '../../../src/state-machine/types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function text(value: Uint8Array): string {
  return decoder.decode(value);
}

/** A state machine driven through the real codec, with the log index handled for you. */
export class Harness {
  readonly machine: KvStateMachine;
  private index: number;

  constructor(machine = new KvStateMachine()) {
    this.machine = machine;
    this.index = machine.appliedIndex;
  }

  /** Applies `command` through encode + apply; returns the result, failing the test on an error outcome. */
  run(command: Command): CommandResult {
    const outcome = this.machine.apply(++this.index, encodeCommand(command));
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  /** Applies `command` and expects a typed error with `code`; returns the error. */
  runFailing(command: Command, code: string): StateMachineError {
    const outcome = this.machine.apply(++this.index, encodeCommand(command));
    expect(outcome.ok).toBe(false);
    if (outcome.ok) throw new Error('unreachable');
    expect(outcome.error).toBeInstanceOf(StateMachineError);
    expect(outcome.error.code).toBe(code);
    return outcome.error;
  }

  put(key: string, value: string, prevKv?: boolean): CommandResult {
    return this.run(
      prevKv === true
        ? { type: 'put', key, value: bytes(value), prevKv }
        : { type: 'put', key, value: bytes(value) },
    );
  }

  del(key: string): CommandResult {
    return this.run({ type: 'delete', key });
  }

  txn(command: Omit<Extract<Command, { type: 'txn' }>, 'type'>): TxnResult {
    const result = this.run({ type: 'txn', ...command });
    if (result.type !== 'txn') throw new Error(`expected a txn result, got ${result.type}`);
    return result;
  }

  /** Opens a session; returns its id (the log index of the entry). */
  openSession(ttlMs = 10_000): number {
    const result = this.run({ type: 'openSession', ttlMs });
    if (result.type !== 'openSession') throw new Error(`expected an openSession result, got ${result.type}`);
    return result.sessionId;
  }

  /** A put owned by `session`. */
  putIn(session: number, key: string, value: string): CommandResult {
    return this.run({ type: 'put', key, value: bytes(value), session });
  }

  /** The index the next run() will apply at. */
  get nextIndex(): number {
    return this.index + 1;
  }

  get(key: string, revision?: number): KeyValue | undefined {
    return this.machine.range(revision === undefined ? { key } : { key, revision }).kvs[0];
  }

  /** `key=value` pairs under `prefix`, in key order. */
  dump(prefix = '', revision?: number): string[] {
    const result = this.machine.range(
      revision === undefined ? { key: prefix, range: 'prefix' } : { key: prefix, range: 'prefix', revision },
    );
    return result.kvs.map((kv) => `${kv.key}=${text(kv.value)}`);
  }
}

/**
 * The machine's whole replicated state (keys, history, revisions, sessions, ownership, sequence
 * counters) as snapshot bytes with appliedIndex zeroed: equal exactly when a command changed
 * nothing but appliedIndex.
 */
export function stateImage(machine: KvStateMachine): Uint8Array {
  const decoded = decodeSnapshot(machine.snapshot());
  return encodeSnapshot(0, decoded.store, decoded.coordination).slice();
}

/** Runs `action` and returns the StateMachineError it throws, asserting its code. */
export function expectThrowsCode(action: () => unknown, code: string): StateMachineError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(StateMachineError);
    expect((error as StateMachineError).code).toBe(code);
    return error as StateMachineError;
  }
  throw new Error(`expected a StateMachineError with code ${code}, but nothing was thrown`);
}
