/**
 * Records what a watch delivers: the live watch opened when the run starts (through the client's
 * watch helper, which resumes on another node after a failover), or a per-node history read at
 * the end (a watch from revision 1 on one endpoint only).
 */
import { RaftreeClient, type Watcher } from '../../src/client/index.js';

export interface RecordedEvent {
  readonly revision: number;
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** Empty for a delete. */
  readonly value: string;
}

export const formatEvent = (e: RecordedEvent): string =>
  `${e.revision} ${e.type} ${e.key}${e.type === 'put' ? ` = ${e.value}` : ''}`;

export class WatchRecorder {
  readonly events: RecordedEvent[] = [];
  reconnects = 0;
  creations = 0;
  private readonly client: RaftreeClient;
  private readonly watcher: Watcher;
  private waiters: { revision: number; resolve: () => void }[] = [];

  constructor(endpoints: readonly string[], prefix: string) {
    this.client = new RaftreeClient({ endpoints, connectTimeoutMs: 500 });
    // From revision 1: the recording can then be compared with the whole committed history.
    this.watcher = this.client.watch(prefix, { prefix: true, startRevision: 1, maxResumeAttempts: 100_000 });
    this.watcher.on('created', () => this.creations++);
    this.watcher.on('reconnecting', () => this.reconnects++);
    this.watcher.on('error', () => this.wakeAll());
    this.watcher.on('close', () => this.wakeAll());
    this.watcher.on('event', (event) => {
      this.events.push({
        revision: event.revision,
        type: event.type,
        key: event.key,
        value: event.type === 'put' ? event.kv.text() : '',
      });
      this.waiters = this.waiters.filter((w) => {
        if (event.revision < w.revision) return true;
        w.resolve();
        return false;
      });
    });
  }

  /** Why the watch ended early, if it did. */
  get error(): Error | null {
    return this.watcher.error;
  }

  /** Resolves true once an event at `revision` or later arrived; false on timeout or a dead watch. */
  async waitFor(revision: number, timeoutMs: number): Promise<boolean> {
    const reached = () => (this.events.at(-1)?.revision ?? 0) >= revision;
    if (reached()) return true;
    if (this.watcher.isDone) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push({
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
    return reached();
  }

  close(): void {
    this.watcher.close();
    this.client.close();
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }
}
