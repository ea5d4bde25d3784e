/**
 * Leader election with real processes: three `raftree elect` CLI candidates against a three-node
 * cluster of `raftree serve` processes, while the elected candidate and the cluster's Raft
 * leader are SIGKILLed round after round. Every grant each candidate printed is checked against
 * the history of /_election/NAME/ recorded by a watch: the leadership intervals, in revision
 * order, never overlap; fencing tokens strictly increase; each grant went to the lowest live
 * candidate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftreeClient, type WatchEvent } from '../../src/client/index.js';
import { spawnCli, type CliProcess } from '../support/cli-runner.js';
import { until } from '../support/eventually.js';
import { ProcessCluster } from '../support/process-cluster.js';

const NAME = 'e2e-chaos';
const DIRECTORY = `/_election/${NAME}`;

interface Grant {
  readonly candidate: string;
  readonly key: string;
  readonly fencingToken: number;
  readonly revision: number;
}

interface Candidate {
  readonly name: string;
  readonly process: CliProcess;
}

let cluster: ProcessCluster;
let client: RaftreeClient;
const candidates: Candidate[] = [];
let spawned = 0;

function spawnCandidate(): Candidate {
  const name = `cand-${++spawned}`;
  const process = spawnCli([
    'elect',
    NAME,
    name,
    '--ttl',
    '3',
    '--json',
    '--endpoints',
    cluster.endpoints().join(','),
  ]);
  const candidate = { name, process };
  candidates.push(candidate);
  return candidate;
}

function running(candidate: Candidate): boolean {
  return candidate.process.child.exitCode === null && candidate.process.child.signalCode === null;
}

function grantsOf(candidate: Candidate): Grant[] {
  return candidate.process.stdoutLines.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as {
        elected?: boolean;
        key: string;
        fencingToken: number;
        revision: number;
      };
      return parsed.elected === true
        ? [
            {
              candidate: candidate.name,
              key: parsed.key,
              fencingToken: parsed.fencingToken,
              revision: parsed.revision,
            },
          ]
        : [];
    } catch {
      return [];
    }
  });
}

function describeCandidates(): string {
  return candidates
    .map(
      (c) =>
        `${c.name} (exit ${c.process.child.exitCode ?? c.process.child.signalCode ?? 'running'}): ` +
        `${c.process.stdoutLines.join(' | ')} // ${c.process.stderrLines.join(' | ')}`,
    )
    .join('\n');
}

const allGrants = (): Grant[] => candidates.flatMap(grantsOf).sort((a, b) => a.revision - b.revision);

beforeAll(async () => {
  cluster = await ProcessCluster.start();
  client = new RaftreeClient({ endpoints: cluster.endpoints(), deadlineMs: 10_000 });
}, 60_000);

afterAll(async () => {
  await Promise.all(candidates.map((c) => c.process.stop('SIGKILL')));
  client?.close();
  await cluster?.stop();
});

describe('elections under SIGKILL', () => {
  it('never has two leaders: leadership intervals do not overlap across repeated kills', async () => {
    const events: WatchEvent[] = [];
    const watcher = client.watch(`${DIRECTORY}/`, { prefix: true, startRevision: 1 });
    watcher.on('event', (event) => events.push(event));

    for (let i = 0; i < 3; i++) spawnCandidate();
    await until('a first leader', () => allGrants().length === 1, 20_000);

    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      const before = allGrants().length;
      const leaderCandidate = candidates.find((c) => running(c) && grantsOf(c).length > 0);
      expect(leaderCandidate, `round ${round}: a running elected candidate`).toBeDefined();
      let killedNode: string | null = null;
      if (round % 2 === 0) {
        // Kill the cluster's Raft leader too: the candidates' sessions and waits must ride it out.
        killedNode = await cluster.waitForLeader();
        await cluster.kill(killedNode, 'SIGKILL');
      }
      await leaderCandidate!.process.stop('SIGKILL');
      // The dead candidate's session expires (TTL 3 s) and the next in line takes over.
      // A candidate may also lose its session on an overloaded machine (and exit): keep two waiting.
      const next = () => {
        while (candidates.filter(running).length < 2) spawnCandidate();
        return allGrants().length >= before + 1;
      };
      await until(`round ${round}: the next leader`, next, 30_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${describeCandidates()}`);
      });
      if (killedNode !== null) await cluster.restart(killedNode);
      spawnCandidate();
    }

    // Everyone still running resigns or withdraws on Ctrl-C (once it is up and campaigning).
    const finals = candidates.filter(running);
    for (const c of finals) {
      await c.process.waitFor('campaigning', () =>
        c.process.stderrLines.some((l) => l.includes('campaigning')),
      );
    }
    const codes = await Promise.all(finals.map((c) => c.process.stop('SIGINT', 15_000)));
    expect(
      codes,
      finals
        .map((c) => `${c.name}: ${c.process.stdoutLines.join(' | ')} // ${c.process.stderrLines.join(' | ')}`)
        .join('\n'),
    ).toEqual(finals.map(() => 0));

    // Let the watch catch up with the last deletions.
    const { revision } = await client.get(DIRECTORY, { prefix: true });
    await until('the watch to reach the current revision', () => watcher.lastRevision >= revision, 15_000);
    await until('no candidate left', async () => (await client.children(DIRECTORY)).length === 0, 15_000);
    watcher.close();

    const grants = allGrants();
    // The first leader, one per round, and maybe a successor of the final resignations.
    expect(grants.length).toBeGreaterThanOrEqual(rounds + 1);
    const created = new Map<string, number>();
    const deleted = new Map<string, number>();
    for (const event of events) {
      if (event.type === 'put' && event.kv.version === 1) created.set(event.key, event.kv.createRevision);
      if (event.type === 'delete') deleted.set(event.key, event.revision);
    }
    const sequence = (key: string) => Number(key.slice(key.lastIndexOf('-') + 1));
    const lowestLiveAt = (revision: number): string | undefined =>
      [...created.entries()]
        .filter(([key, at]) => at <= revision && !((deleted.get(key) ?? Infinity) <= revision))
        .map(([key]) => key)
        .sort((a, b) => sequence(a) - sequence(b))[0];

    // Sanity: the history covers every granted candidate.
    for (const grant of grants) expect(created.has(grant.key), grant.key).toBe(true);
    for (const [i, grant] of grants.entries()) {
      // The token is the candidate node's create revision, and only grows.
      expect(created.get(grant.key)).toBe(grant.fencingToken);
      if (i > 0) expect(grant.fencingToken).toBeGreaterThan(grants[i - 1]!.fencingToken);
      // The grant went to the lowest live candidate at the revision it was confirmed at.
      expect(lowestLiveAt(grant.revision), `grant ${i} (${grant.key} at ${grant.revision})`).toBe(grant.key);
      // Intervals [grant, delete) in revision order never overlap.
      const end = deleted.get(grant.key);
      expect(end, `${grant.key} was deleted`).toBeDefined();
      if (i + 1 < grants.length) expect(end!).toBeLessThanOrEqual(grants[i + 1]!.revision);
    }
  }, 240_000);
});
