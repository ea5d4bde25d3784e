import { Command, Option } from 'commander';
import {
  ConfigError,
  DEFAULT_AUTO_COMPACT_RETENTION,
  DEFAULT_SNAPSHOT_EVERY_ENTRIES,
  defaultLimits,
  defaultTiming,
  parsePeers,
  type NodeConfig,
} from '../../node/node-config.js';
import type { RaftreeNode } from '../../node/raftree-node.js';
import { CliError } from '../cli-error.js';

const LOCAL_PEERS = 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003';

function nonNegative(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new CliError(`${flag} must be a whole number (0 or more), got "${value}"`);
    return n;
  };
}

function integer(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new CliError(`${flag} must be a positive integer, got "${value}"`);
    return n;
  };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run a raftree node')
    .addOption(new Option('--id <id>', "this node's id").env('RAFTREE_ID').default('n1'))
    .addOption(new Option('--listen <host:port>', 'gRPC address for clients and peers').env('RAFTREE_LISTEN'))
    .addOption(
      new Option('--http <host:port>', 'HTTP side port (/health, /status, /metrics); "off" for none').env(
        'RAFTREE_HTTP',
      ),
    )
    .addOption(
      new Option('--peers <list>', 'founding members as ID=HOST:PORT,...')
        .env('RAFTREE_PEERS')
        .default(LOCAL_PEERS),
    )
    .addOption(new Option('--data <dir>', 'data directory').env('RAFTREE_DATA_DIR'))
    .addOption(
      new Option('--tick-ms <ms>', 'Raft tick period')
        .env('RAFTREE_TICK_MS')
        .argParser(integer('--tick-ms'))
        .default(defaultTiming.tickMs),
    )
    .addOption(
      new Option('--election-ticks <n>', 'election timeout in ticks (randomized up to 2x)')
        .env('RAFTREE_ELECTION_TICKS')
        .argParser(integer('--election-ticks'))
        .default(defaultTiming.electionTicks),
    )
    .addOption(
      new Option('--heartbeat-ticks <n>', 'heartbeat period in ticks')
        .env('RAFTREE_HEARTBEAT_TICKS')
        .argParser(integer('--heartbeat-ticks'))
        .default(defaultTiming.heartbeatTicks),
    )
    .addOption(
      new Option(
        '--snapshot-entries <n>',
        'snapshot and compact the log after at most N applied entries (sooner while the state is small)',
      )
        .env('RAFTREE_SNAPSHOT_ENTRIES')
        .argParser(integer('--snapshot-entries'))
        .default(DEFAULT_SNAPSHOT_EVERY_ENTRIES),
    )
    .addOption(
      new Option(
        '--auto-compact-retention <revisions>',
        'keep this many revisions of history; 0 disables automatic compaction',
      )
        .env('RAFTREE_AUTO_COMPACT_RETENTION')
        .argParser(nonNegative('--auto-compact-retention'))
        .default(DEFAULT_AUTO_COMPACT_RETENTION),
    )
    .addOption(
      new Option(
        '--join',
        'join an existing cluster (after `raftree cluster add`) instead of founding one',
      ).env('RAFTREE_JOIN'),
    )
    .addOption(
      new Option('--max-txn-ops <n>', 'most operations in one txn')
        .env('RAFTREE_MAX_TXN_OPS')
        .argParser(integer('--max-txn-ops'))
        .default(defaultLimits.maxTxnOps),
    )
    .addOption(
      new Option('--log-level <level>', 'fatal, error, warn, info, debug or trace')
        .env('RAFTREE_LOG_LEVEL')
        .default('info'),
    )
    .action(async (opts: ServeOptions) => {
      await runUntilSignal(buildConfig(opts));
    });
}

interface ServeOptions {
  id: string;
  listen?: string;
  http?: string;
  peers: string;
  data?: string;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotEntries: number;
  autoCompactRetention: number;
  join?: boolean;
  maxTxnOps: number;
  logLevel: string;
}

function buildConfig(opts: ServeOptions): NodeConfig {
  try {
    const peers = parsePeers(opts.peers);
    const listen = opts.listen ?? peers.get(opts.id);
    if (!listen) throw new ConfigError(`--listen is required: ${opts.id} is not in --peers`);
    const defaultHttp = listen.replace(/:(\d+)$/, (_, port: string) => `:${Number(port) + 1000}`);
    const http = opts.http === 'off' ? null : (opts.http ?? defaultHttp);
    return {
      id: opts.id,
      listen,
      http,
      peers,
      dataDir: opts.data ?? `./data/${opts.id}`,
      tickMs: opts.tickMs,
      electionTicks: opts.electionTicks,
      heartbeatTicks: opts.heartbeatTicks,
      snapshotEveryEntries: opts.snapshotEntries,
      autoCompactRetention: opts.autoCompactRetention,
      join: opts.join === true,
      logLevel: opts.logLevel,
      limits: { ...defaultLimits, maxTxnOps: opts.maxTxnOps },
    };
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 2);
    throw error;
  }
}

async function runUntilSignal(config: NodeConfig): Promise<void> {
  // The node's modules load only when a node runs, so every client command starts without them.
  const [{ createLogger }, { RaftreeNode }, { nodeExtensions }] = await Promise.all([
    import('../../common/logger.js'),
    import('../../node/raftree-node.js'),
    import('../../node/extensions.js'),
  ]);
  const logger = createLogger({ nodeId: config.id, level: config.logLevel });
  let node: RaftreeNode;
  try {
    node = await RaftreeNode.start(config, { logger, extensions: nodeExtensions(config) });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 2);
    throw error;
  }
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      void node.stop().then(resolve);
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    node.replica.once('fatal', () => {
      process.exitCode = 1;
      resolve();
    });
  });
}
