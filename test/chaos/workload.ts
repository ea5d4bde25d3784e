/**
 * Concurrent clients, each a loop of put / linearizable get / compare-and-set / delete on a
 * few keys, recording every operation. Every written value is unique ("p3-17": client 3's
 * 17th write), which lets the checks tie an observed value to exactly one write.
 */
import { RaftreeClient, type DeleteResult, type TxnResult } from '../../src/client/index.js';
import { SeededRandom } from '../../src/common/prng.js';
import type { KvInput } from '../support/linearizability/index.js';
import type { HistoryRecorder } from './history.js';
import { classifyError } from './outcome.js';

export interface WorkloadOptions {
  readonly endpoints: readonly string[];
  readonly clients: number;
  readonly keys: number;
  /** Each operation's deadline (the client's retries included). */
  readonly opTimeoutMs: number;
  readonly seed: number;
  /** Every key lives under it (the watch watches it). */
  readonly prefix: string;
}

export function keyNames(prefix: string, keys: number): string[] {
  return Array.from({ length: keys }, (_, i) => `${prefix}k${i}`);
}

/** How often each operation is chosen (out of 100). */
const MIX = { get: 40, put: 25, cas: 25, delete: 10 } as const;

export class Workload {
  private stopping = false;
  private loops: Promise<void>[] = [];
  private readonly clients: RaftreeClient[] = [];
  private readonly keyList: string[];

  constructor(
    private readonly options: WorkloadOptions,
    private readonly history: HistoryRecorder,
  ) {
    this.keyList = keyNames(options.prefix, options.keys);
  }

  start(): void {
    const root = new SeededRandom(this.options.seed);
    const all = this.options.endpoints;
    for (let p = 0; p < this.options.clients; p++) {
      // Reads and writes go through separate clients. A client sends reads to the endpoint that
      // last answered anything, which after a write is the leader; a read-only client rotated
      // to start at node p keeps reading there while it works, so followers (and a deposed
      // leader behind a partition) serve linearizable reads too, as they do for real users.
      const readEndpoints = all.map((_, i) => all[(i + p) % all.length]!);
      const reader = new RaftreeClient({
        endpoints: readEndpoints,
        deadlineMs: this.options.opTimeoutMs,
        connectTimeoutMs: 500,
      });
      const writer = new RaftreeClient({
        endpoints: all,
        deadlineMs: this.options.opTimeoutMs,
        connectTimeoutMs: 500,
      });
      this.clients.push(reader, writer);
      this.loops.push(this.run(p, { reader, writer }, root.fork()));
    }
  }

  /** Lets every client finish the operation it is in (bounded by the op timeout), then closes them. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    for (const client of this.clients) client.close();
  }

  private async run(process: number, clients: ClientPair, random: SeededRandom): Promise<void> {
    let writes = 0;
    // The last value this client saw per key: compare-and-set expects it, so it often succeeds.
    const lastSeen = new Map<string, string | null>();
    while (!this.stopping) {
      const key = random.pick(this.keyList);
      const roll = random.int(100);
      let input: KvInput;
      if (roll < MIX.get) input = { f: 'get', key };
      else if (roll < MIX.get + MIX.put) input = { f: 'put', key, value: `p${process}-${writes++}` };
      else if (roll < MIX.get + MIX.put + MIX.cas) {
        input = { f: 'cas', key, expected: lastSeen.get(key) ?? null, value: `p${process}-${writes++}` };
      } else input = { f: 'delete', key };
      const succeeded = await this.perform(
        process,
        input.f === 'get' ? clients.reader : clients.writer,
        input,
        lastSeen,
      );
      // A short pause keeps 2-core machines responsive without lowering concurrency much; a
      // longer one after a failure keeps a client from spinning while every node is down.
      await sleep(succeeded ? random.int(4) : 50 + random.int(50));
    }
  }

  private async perform(
    process: number,
    client: RaftreeClient,
    input: KvInput,
    lastSeen: Map<string, string | null>,
  ): Promise<boolean> {
    const id = this.history.invoke(process, input);
    const call = this.call(client, input);
    // The client honours its deadline; this guards the run against a call that never settles.
    const guard = new Promise<'hung'>((resolve) => {
      const timer = setTimeout(() => resolve('hung'), this.options.opTimeoutMs + 3_000);
      call.finally(() => clearTimeout(timer)).catch(() => undefined);
    });
    try {
      const result = await Promise.race([call, guard]);
      if (result === 'hung') {
        this.history.info(id, `the client call did not settle within ${this.options.opTimeoutMs + 3_000} ms`);
        return false;
      }
      this.history.ok(id, result.output, { revision: result.revision, member: result.member });
      if (result.output.f === 'get') lastSeen.set(input.key, result.output.value);
      else if (input.f === 'put') lastSeen.set(input.key, input.value);
      else if (input.f === 'cas' && result.output.f === 'cas' && result.output.succeeded)
        lastSeen.set(input.key, input.value);
      else if (input.f === 'delete') lastSeen.set(input.key, null);
      return true;
    } catch (error) {
      const outcome = classifyError(input, error);
      if (outcome.type === 'fail') this.history.fail(id, outcome.reason);
      else this.history.info(id, outcome.reason);
      return false;
    }
  }

  private async call(client: RaftreeClient, input: KvInput) {
    switch (input.f) {
      case 'get': {
        const result = await client.get(input.key);
        const value = result.kvs[0]?.text() ?? null;
        return {
          output: { f: 'get' as const, value },
          revision: result.revision,
          member: result.header.memberId,
        };
      }
      case 'put': {
        const result = await client.put(input.key, input.value);
        return { output: { f: 'put' as const }, revision: result.revision, member: result.header.memberId };
      }
      case 'cas': {
        const result: TxnResult = await client.txn({
          compare: [
            input.expected === null
              ? { key: input.key, target: 'version', operator: '=', value: 0 }
              : { key: input.key, target: 'value', operator: '=', value: input.expected },
          ],
          success: [{ type: 'put', key: input.key, value: input.value }],
        });
        return {
          output: { f: 'cas' as const, succeeded: result.succeeded },
          revision: result.revision,
          member: result.header.memberId,
        };
      }
      case 'delete': {
        const result: DeleteResult = await client.delete(input.key);
        return {
          output: { f: 'delete' as const, deleted: result.deleted },
          revision: result.revision,
          member: result.header.memberId,
        };
      }
    }
  }
}

interface ClientPair {
  readonly reader: RaftreeClient;
  readonly writer: RaftreeClient;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
