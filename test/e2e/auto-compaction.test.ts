import { afterAll, expect, it } from 'vitest';
import { RaftreeClient, RaftreeError } from '../../src/client/index.js';
import { ProcessCluster } from '../support/process-cluster.js';

let cluster: ProcessCluster | null = null;
let client: RaftreeClient | null = null;

afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

it('compacts history automatically, keeping the retained revisions readable', { timeout: 60_000 }, async () => {
  cluster = await ProcessCluster.start({ size: 3, extraArgs: ['--auto-compact-retention', '20'] });
  client = new RaftreeClient({ endpoints: cluster.endpoints() });
  let revision = 0;
  for (let i = 0; i < 60; i++) revision = (await client.put(`/compaction/k${i % 5}`, `v${i}`)).revision;

  // Once 2 x 20 revisions piled up, the leader compacts to (revision - 20).
  const deadline = Date.now() + 20_000;
  let compactedError: RaftreeError | null = null;
  while (!compactedError && Date.now() < deadline) {
    try {
      await client.get('/compaction/', { prefix: true, revision: 1 });
      await new Promise((resolve) => setTimeout(resolve, 200));
    } catch (error) {
      if (!(error instanceof RaftreeError)) throw error;
      compactedError = error;
    }
  }
  expect(compactedError?.code).toBe('OUT_OF_RANGE');
  expect(compactedError?.message).toMatch(/compacted/);
  // The last 20 revisions stay readable.
  const recent = await client.get('/compaction/', { prefix: true, revision: revision - 10 });
  expect(recent.kvs.length).toBe(5);
});
