/**
 * `npm run bench`: raftree's numbers, and etcd's beside them with --compare etcd. See
 * docs/benchmarks.md for what each row measures and the latest figures; `--help` for options.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findEtcd, installEtcdWithApt } from '../bench/etcd-binary.js';
import { EtcdCluster } from '../bench/etcd-cluster.js';
import { ExternalRaftreeCluster } from '../bench/external-cluster.js';
import { describeMachine, renderMachine } from '../bench/machine.js';
import { renderSummary, summarize, type CpuProfile, type ProfileSummary } from '../bench/profile-summary.js';
import { parseBenchOptions, UsageError, USAGE, type BenchOptions } from '../bench/options.js';
import { RaftreeCluster } from '../bench/raftree-cluster.js';
import { compare, renderMarkdown, renderPreamble, renderTable } from '../bench/report.js';
import type { StoreResults } from '../bench/results.js';
import { runStores } from '../bench/run-stores.js';
import type { StoreCluster } from '../bench/store.js';

function etcdBinary(options: BenchOptions): string | null {
  if (!options.compareEtcd) return null;
  const found = findEtcd();
  if (found !== null) return found;
  if (!options.installEtcd) {
    throw new UsageError(
      '--compare etcd needs an etcd binary on PATH; install Debian\'s etcd-server ("apt-get install etcd-server") ' +
        'or pass --install-etcd to let the bench do it with apt',
    );
  }
  installEtcdWithApt();
  const installed = findEtcd();
  if (installed === null) throw new Error('etcd-server was installed but no etcd binary is on PATH');
  return installed;
}

/**
 * Summaries of the profiles the raftree nodes wrote into `dir` since `since`, keyed by
 * "node id: file" (node writes CPU.<date>.<time>.<pid>.<n>.cpuprofile).
 */
function profileSummaries(
  dir: string,
  since: Date,
  nodeIdByPid: ReadonlyMap<number, string>,
): Record<string, ProfileSummary> {
  const summaries: Record<string, ProfileSummary> = {};
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const file = join(dir, name);
    if (statSync(file).mtime < since) continue;
    const pid = Number(name.split('.')[3]);
    summaries[`${nodeIdByPid.get(pid) ?? `pid ${pid}`}: ${file}`] = summarize(
      JSON.parse(readFileSync(file, 'utf8')) as CpuProfile,
      25,
    );
  }
  return summaries;
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`bench: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const binary = etcdBinary(options);
  const machine = describeMachine();
  process.stderr.write(`${renderMachine(machine)}\nprofile: ${options.profile.name}\n`);
  const startedAt = new Date();
  const errors: string[] = [];

  const clusters: StoreCluster[] = [];
  let raftree: RaftreeCluster | null = null;
  let stores: StoreResults[];
  try {
    if (options.endpoints !== null) {
      clusters.push(new ExternalRaftreeCluster(options.endpoints, 'external'));
    } else {
      raftree = await RaftreeCluster.start({
        logLevel: options.logLevel,
        client: options.client,
        ...(options.raftreeCli === null ? {} : { cliMain: options.raftreeCli }),
        nodeFlags: [
          ...options.nodeFlags,
          ...(options.cpuProfDir === null
            ? []
            : ['--cpu-prof', '--cpu-prof-dir', resolve(options.cpuProfDir)]),
        ],
      });
      clusters.push(raftree);
    }
    if (binary !== null) clusters.push(await EtcdCluster.start(binary));
    const run = await runStores(clusters, {
      profile: options.profile,
      groups: options.groups,
      rounds: options.rounds,
    });
    stores = run.results;
    errors.push(...run.errors);
  } finally {
    await Promise.all(clusters.map((c) => c.stop()));
  }

  process.stdout.write(`\n${renderMachine(machine)}\n${renderPreamble(stores)}\n\n${renderTable(stores)}\n`);
  if (options.markdown) process.stdout.write(`\n${renderMarkdown(stores)}\n`);
  const profiles =
    options.cpuProfDir === null || raftree === null
      ? {}
      : profileSummaries(resolve(options.cpuProfDir), startedAt, raftree.nodeIdByPid);
  for (const [file, summary] of Object.entries(profiles))
    process.stdout.write(`\n${renderSummary(file, summary)}\n`);
  const outDir = resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const json = {
    schema: 1,
    startedAt: startedAt.toISOString(),
    argv: process.argv.slice(2),
    machine: { ...machine, loadAverageAtEnd: describeMachine().loadAverage },
    profile: options.profile,
    stores,
    comparison: compare(stores),
    profiles,
    errors,
  };
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`\nJSON: ${file}\n`);
  for (const error of errors) process.stderr.write(`bench: error: ${error}\n`);
  return errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
