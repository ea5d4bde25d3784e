/** KvClient over the raftree TypeScript client. */
import type { RaftreeClient } from '../src/client/index.js';
import type { KvClient, WatchHandle } from './store.js';

export class RaftreeKvClient implements KvClient {
  constructor(private readonly client: RaftreeClient) {}

  async put(key: string, value: Buffer): Promise<void> {
    await this.client.put(key, value);
  }

  async get(key: string, options: { readonly serializable: boolean }): Promise<Buffer | null> {
    const result = await this.client.get(key, { serializable: options.serializable });
    const kv = result.kvs[0];
    return kv === undefined ? null : Buffer.from(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength);
  }

  async watchPrefix(prefix: string, onPut: (key: string, value: Buffer) => void): Promise<WatchHandle> {
    const watcher = this.client.watch(prefix, { prefix: true });
    watcher.on('event', (event) => {
      if (event.type === 'put') {
        const value = event.kv.value;
        onPut(event.key, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
    });
    watcher.on('error', (error) =>
      process.stderr.write(`bench: raftree watch on ${prefix} ended: ${error.message}\n`),
    );
    await watcher.ready();
    return { close: () => watcher.close() };
  }

  close(): void {
    this.client.close();
  }
}
