import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { RaftreeClient } from '../../src/client/index.js';
import { freePorts } from '../support/ports.js';
import { CLI_MAIN, ProcessCluster, REPO_ROOT } from '../support/process-cluster.js';

let cluster: ProcessCluster | null = null;
let joiner: ChildProcess | null = null;
const clients: RaftreeClient[] = [];
const root = mkdtempSync(join(tmpdir(), 'raftree-join-'));

afterAll(async () => {
  for (const c of clients) c.close();
  joiner?.kill('SIGKILL');
  await cluster?.stop();
  rmSync(root, { recursive: true, force: true });
});

function startJoiner(address: string, peers: string): ChildProcess {
  const log = openSync(join(root, 'n4.log'), 'a');
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('RAFTREE_')) delete env[key];
  const args = [CLI_MAIN, 'serve', '--id', 'n4', '--listen', address, '--http', 'off', '--peers', peers];
  args.push('--data', join(root, 'n4'), '--tick-ms', '20', '--join');
  return spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', log, log] });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}; n4 log:\n${readFileSync(join(root, 'n4.log'), 'utf8').slice(-2000)}`);
}

it('adds a learner that joins empty, catches up, is promoted, and survives a restart', { timeout: 90_000 }, async () => {
  cluster = await ProcessCluster.start({ size: 3, extraArgs: ['--snapshot-entries', '50'] });
  const client = new RaftreeClient({ endpoints: cluster.endpoints() });
  clients.push(client);
  for (let i = 0; i < 120; i++) await client.put(`/join/k${i}`, `v${i}`);

  const [port] = await freePorts(1);
  const address = `127.0.0.1:${port}`;
  await client.memberAdd('n4', address, { learner: true });
  const peers = [...cluster.ids.map((id) => `${id}=${cluster!.address(id)}`), `n4=${address}`].join(',');
  joiner = startJoiner(address, peers);

  const n4 = new RaftreeClient({ endpoints: [address] });
  clients.push(n4);
  const caughtUp = async () => (await n4.get('/join/', { prefix: true, serializable: true })).kvs.length === 120;
  await until('the learner to catch up', caughtUp);

  await client.memberAdd('n4', address, { learner: false });
  const members = await client.members();
  expect(members.members.find((m) => m.id === 'n4')?.isLearner).toBe(false);
  expect(members.members).toHaveLength(4);

  // Restart the joined node: it must come back from its own disk and keep serving.
  joiner.kill('SIGKILL');
  await new Promise((resolve) => joiner!.once('exit', resolve));
  await client.put('/join/after-restart', 'yes');
  joiner = startJoiner(address, peers);
  await until('the restarted member to see new writes', async () => {
    const { kvs } = await n4.get('/join/after-restart', { serializable: true });
    return kvs[0]?.text() === 'yes';
  });
});
