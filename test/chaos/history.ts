/**
 * The run's history: Jepsen-style invoke / ok / fail / info events with monotonic timestamps
 * (ms since the run started, from performance.now(): never jumps with the wall clock), plus
 * what the other checks need (the revision of an acknowledged write, the answering node).
 */
import type { KvEvent, KvInput, KvOutput } from '../support/linearizability/index.js';

/** A history event plus the facts the non-linearizability checks use. */
export type ChaosEvent = KvEvent & {
  /** The store revision an acknowledged write created (from the response header). */
  readonly revision?: number;
  /** The member that answered (ok) or failed last. */
  readonly member?: string;
};

export interface CompletedOperation {
  readonly id: number;
  readonly process: number;
  readonly input: KvInput;
  readonly type: 'ok' | 'fail' | 'info';
  readonly output?: KvOutput;
  readonly revision?: number;
  readonly invokedAt: number;
  readonly completedAt: number;
  readonly error?: string;
}

export class HistoryRecorder {
  private readonly log: ChaosEvent[] = [];
  private readonly invocations = new Map<number, { process: number; input: KvInput; time: number }>();
  private readonly completedOps: CompletedOperation[] = [];
  private nextId = 0;
  private readonly origin: number;

  constructor(origin = performance.now()) {
    this.origin = origin;
  }

  /** Milliseconds since the run started. */
  now(): number {
    return performance.now() - this.origin;
  }

  invoke(process: number, input: KvInput): number {
    const id = this.nextId++;
    const time = this.now();
    this.invocations.set(id, { process, input, time });
    this.log.push({ type: 'invoke', id, process, time, input });
    return id;
  }

  ok(id: number, output: KvOutput, facts: { revision?: number; member?: string } = {}): void {
    const time = this.now();
    this.log.push({ type: 'ok', id, time, output, ...facts });
    this.complete(id, {
      type: 'ok',
      output,
      completedAt: time,
      ...(facts.revision !== undefined ? { revision: facts.revision } : {}),
    });
  }

  fail(id: number, error: string): void {
    const time = this.now();
    this.log.push({ type: 'fail', id, time, error });
    this.complete(id, { type: 'fail', completedAt: time, error });
  }

  info(id: number, error: string): void {
    const time = this.now();
    this.log.push({ type: 'info', id, time, error });
    this.complete(id, { type: 'info', completedAt: time, error });
  }

  get events(): readonly ChaosEvent[] {
    return this.log;
  }

  get completed(): readonly CompletedOperation[] {
    return this.completedOps;
  }

  /** Operations invoked and not completed yet. */
  get pending(): number {
    return this.invocations.size;
  }

  toJsonl(): string {
    return this.log.map((event) => JSON.stringify(event)).join('\n') + '\n';
  }

  private complete(
    id: number,
    outcome: Pick<CompletedOperation, 'type' | 'output' | 'revision' | 'completedAt' | 'error'>,
  ): void {
    const invocation = this.invocations.get(id);
    if (invocation === undefined) throw new Error(`operation ${id} completed twice or never invoked`);
    this.invocations.delete(id);
    this.completedOps.push({
      id,
      process: invocation.process,
      input: invocation.input,
      invokedAt: invocation.time,
      ...outcome,
    } as CompletedOperation);
  }
}
