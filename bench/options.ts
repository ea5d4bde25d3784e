/** Command-line options of `npm run bench`. */
import { parseArgs } from 'node:util';
import { FULL_PROFILE, QUICK_PROFILE, type BenchProfile } from './profile.js';
import { MAX_ROUNDS } from './rounds.js';
import { ROW_GROUPS, type RowGroup } from './run-stores.js';
import type { BenchClientKind } from './raftree-cluster.js';

export const USAGE = `Usage: npm run bench -- [options]

  --quick              a reduced set (short levels, 5k-key restart, one failover and election trial): under a minute per store
  --compare etcd       also run every workload against a three-node etcd cluster (needs an etcd binary)
  --install-etcd       with --compare etcd: install Debian's etcd-server with apt if etcd is missing
  --endpoints LIST     measure an existing raftree cluster (HOST:PORT,...) instead of starting one;
                       memory, CPU, restart, failover and the leader-kill election rows need processes the bench
                       starts, so they are skipped
  --seconds N          measured seconds per put / get / keepalive / lock level (default 8, --quick 1.2)
  --rounds N           run the put, get, watch, keep-alive and lock rows N times (at most ${MAX_ROUNDS}), the stores
                       alternating each time; each figure is the median over the rounds, each ratio the median of the
                       rounds' ratios with their range, e.g. 0.79x (0.73-0.87); every round is in the JSON
  --client KIND        the client raftree's KV and watch rows use: native (raftree's own) or etcd3 (through
                       the etcd-compatible API); default etcd3 with --compare etcd (same client on both sides), else native
  --raftree-cli PATH   the raftree build to run (default dist/raftree.mjs), e.g. another worktree's, for before / after
  --only GROUPS        some of: ${ROW_GROUPS.join(',')} (default: all)
  --out DIR            where the JSON goes (default bench-results)
  --cpu-prof DIR       run the raftree nodes under node --cpu-prof, profiles in DIR (written when they stop)
  --node-flags=FLAGS   extra flags for the raftree nodes' node process, space-separated, given with "=" as
                       they start with dashes: --node-flags="--max-semi-space-size=64" (a V8 trade-off of
                       memory for throughput; see docs/operations.md); recorded in the report
  --markdown           also print the comparison as a Markdown table (for docs/benchmarks.md)
  --log-level LEVEL    raftree nodes' log level (default info, as shipped)
  -h, --help           this text
`;

export interface BenchOptions {
  readonly profile: BenchProfile;
  readonly compareEtcd: boolean;
  readonly installEtcd: boolean;
  readonly endpoints: readonly string[] | null;
  readonly groups: ReadonlySet<RowGroup>;
  readonly outDir: string;
  readonly cpuProfDir: string | null;
  /** Extra flags for the raftree nodes' `node` process (V8 tuning), in order. */
  readonly nodeFlags: readonly string[];
  readonly logLevel: string;
  readonly raftreeCli: string | null;
  readonly client: BenchClientKind;
  readonly markdown: boolean;
  /** How many times the put, get, watch, keep-alive and lock rows run (see rounds.ts). */
  readonly rounds: number;
  readonly help: boolean;
}

export class UsageError extends Error {}

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean', default: false },
        compare: { type: 'string' },
        'install-etcd': { type: 'boolean', default: false },
        endpoints: { type: 'string' },
        only: { type: 'string' },
        out: { type: 'string', default: 'bench-results' },
        'cpu-prof': { type: 'string' },
        'node-flags': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        seconds: { type: 'string' },
        rounds: { type: 'string' },
        'raftree-cli': { type: 'string' },
        client: { type: 'string' },
        markdown: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.compare !== undefined && values.compare !== 'etcd')
    throw new UsageError(`--compare supports "etcd" only, got "${values.compare}"`);
  if (values['install-etcd'] && values.compare !== 'etcd')
    throw new UsageError('--install-etcd goes with --compare etcd');
  if (values.client !== undefined && values.client !== 'native' && values.client !== 'etcd3')
    throw new UsageError(`--client is native or etcd3, got "${values.client}"`);
  const client: BenchClientKind =
    (values.client as BenchClientKind | undefined) ?? (values.compare === 'etcd' ? 'etcd3' : 'native');
  const groups = values.only === undefined ? new Set<RowGroup>(ROW_GROUPS) : parseGroups(values.only);
  const endpoints =
    values.endpoints === undefined
      ? null
      : values.endpoints
          .split(',')
          .map((e) => e.trim())
          .filter((e) => e !== '');
  if (endpoints !== null && endpoints.length === 0)
    throw new UsageError('--endpoints needs at least one HOST:PORT');
  const baseProfile = values.quick ? QUICK_PROFILE : FULL_PROFILE;
  let profile: BenchProfile = baseProfile;
  if (values.seconds !== undefined) {
    const seconds = Number(values.seconds);
    if (!(seconds > 0 && seconds <= 600))
      throw new UsageError(`--seconds must be in (0, 600], got "${values.seconds}"`);
    profile = { ...baseProfile, levelDurationMs: seconds * 1000 };
  }
  let rounds = 1;
  if (values.rounds !== undefined) {
    rounds = Number(values.rounds);
    if (!/^\d+$/.test(values.rounds) || rounds < 1 || rounds > MAX_ROUNDS)
      throw new UsageError(`--rounds must be a whole number from 1 to ${MAX_ROUNDS}, got "${values.rounds}"`);
  }
  return {
    profile,
    compareEtcd: values.compare === 'etcd',
    installEtcd: values['install-etcd'],
    endpoints,
    groups,
    outDir: values.out,
    cpuProfDir: values['cpu-prof'] ?? null,
    nodeFlags: values['node-flags'] === undefined ? [] : parseNodeFlags(values['node-flags']),
    logLevel: values['log-level'],
    raftreeCli: values['raftree-cli'] ?? null,
    client,
    markdown: values.markdown,
    rounds,
    help: values.help,
  };
}

/**
 * Flags for `node` itself, space-separated. Each must be an option (`--name` or `--name=value`):
 * a bare word would be taken for the script to run instead of raftree's CLI.
 */
function parseNodeFlags(text: string): string[] {
  const flags = text.split(/\s+/).filter((flag) => flag !== '');
  if (flags.length === 0)
    throw new UsageError('--node-flags needs at least one flag, e.g. --node-flags=--max-semi-space-size=64');
  for (const flag of flags) {
    if (!/^--[a-z0-9][a-z0-9_-]*(=\S+)?$/i.test(flag))
      throw new UsageError(`--node-flags: "${flag}" is not a node option (--name or --name=value)`);
  }
  return flags;
}

function parseGroups(text: string): Set<RowGroup> {
  const groups = new Set<RowGroup>();
  for (const name of text.split(',').map((s) => s.trim())) {
    if (!(ROW_GROUPS as readonly string[]).includes(name))
      throw new UsageError(`--only: unknown group "${name}" (have ${ROW_GROUPS.join(', ')})`);
    groups.add(name as RowGroup);
  }
  return groups;
}
