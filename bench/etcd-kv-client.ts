/** KvClient over the etcd3 npm client, with its default fault handling. */
import { Etcd3 } from 'etcd3';
import type { KvClient, KvClientOptions, WatchHandle } from './store.js';

/**
 * An etcd3 client over `endpoints`. It drives etcd and, through raftree's etcd-compatible API,
 * raftree too: the same client on both sides makes the ratios compare servers, not clients.
 */
export function etcd3KvClient(endpoints: readonly string[], options: KvClientOptions): EtcdKvClient {
  return new EtcdKvClient(
    new Etcd3({
      hosts: endpoints.map((e) => `http://${e}`),
      ...(options.probe === true ? { dialTimeout: 200 } : {}),
    }),
    options.deadlineMs,
  );
}

export class EtcdKvClient implements KvClient {
  constructor(
    private readonly client: Etcd3,
    private readonly deadlineMs: number,
  ) {}

  async put(key: string, value: Buffer): Promise<void> {
    await this.client
      .put(key)
      .value(value)
      .options({ deadline: Date.now() + this.deadlineMs })
      .exec();
  }

  async get(key: string, options: { readonly serializable: boolean }): Promise<Buffer | null> {
    return this.client
      .get(key)
      .serializable(options.serializable)
      .options({ deadline: Date.now() + this.deadlineMs })
      .buffer();
  }

  async watchPrefix(prefix: string, onPut: (key: string, value: Buffer) => void): Promise<WatchHandle> {
    const watcher = await this.client.watch().prefix(prefix).create();
    watcher.on('put', (kv) => onPut(kv.key.toString(), kv.value));
    watcher.on('error', (error) =>
      process.stderr.write(`bench: etcd watch on ${prefix}: ${error.message}\n`),
    );
    return { close: () => void watcher.cancel().catch(() => undefined) };
  }

  close(): void {
    this.client.close();
  }
}
