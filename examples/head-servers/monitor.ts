/**
 * The seed's interactive head-server monitor, on raftree. Commands on stdin:
 *
 *   register <id> <host> <port>   register a head server by hand: an ephemeral node under
 *                                 /distributed_file_grid/head_servers (owned by this monitor's
 *                                 session) and a registry entry with a TCP health check that the
 *                                 cluster runs
 *   status                        head servers, their health (from the cluster's checks) and
 *                                 their latest health reports
 *   leader                        the elected head server
 *   watch                         print leader changes as they happen (until "unwatch")
 *   help, quit
 *
 *   npx tsx examples/head-servers/monitor.ts [--endpoints LIST] [--ttl MS] [--id ID]
 *   echo status | npx tsx examples/head-servers/monitor.ts     (commands from a pipe work too)
 */
import { createInterface } from 'node:readline';
import { RaftreeClient, type LeaderObserver, type Session } from '../../src/client/index.js';
import {
  DEFAULT_ENDPOINTS,
  describeError,
  ELECTION,
  HEAD_SERVERS,
  HEALTH_REPORTS,
  LEADER,
  MONITORS,
  parseFlags,
  parseJson,
  positive,
  SERVICE,
  type HeadServerInfo,
  type HealthReport,
  type LeaderInfo,
} from './common.js';

const flags = parseFlags(process.argv.slice(2), { endpoints: 'string', ttl: 'string', id: 'string' });
const endpoints = (
  typeof flags['endpoints'] === 'string'
    ? flags['endpoints']
    : (process.env['RAFTREE_ENDPOINTS'] ?? DEFAULT_ENDPOINTS)
)
  .split(',')
  .map((e) => e.trim())
  .filter(Boolean);
const ttlMs = positive(flags['ttl'], 10_000, '--ttl');
const monitorId = typeof flags['id'] === 'string' ? flags['id'] : `monitor_${process.pid}`;

const client = new RaftreeClient({ endpoints, deadlineMs: 5_000 });
let session: Session | null = null;
let observer: LeaderObserver | null = null;
const out = (text: string): void => void process.stdout.write(`${text}\n`);

async function ownSession(): Promise<Session> {
  if (session === null || !session.isAlive) {
    session = await client.session({ ttlMs });
    await client.create(`${MONITORS}/${monitorId}`, JSON.stringify({ id: monitorId, pid: process.pid }), {
      session,
      parents: true,
    });
  }
  return session;
}

async function register(args: string[]): Promise<void> {
  const [id, host, portText] = args;
  const port = Number(portText);
  if (id === undefined || host === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
    out('usage: register <id> <host> <port>   e.g. register head_server_1 127.0.0.1 9669');
    return;
  }
  const owner = await ownSession();
  const info: HeadServerInfo = { id, host, port, pid: 0, startedAt: new Date().toISOString() };
  await client.create(`${HEAD_SERVERS}/${id}`, JSON.stringify(info), { session: owner, parents: true });
  await client.register({
    name: SERVICE,
    id,
    host,
    port,
    tags: ['manual'],
    session: owner,
    checks: [{ kind: 'tcp', host, port, intervalMs: 2_000, timeoutMs: 1_000, failuresBeforeCritical: 1 }],
  });
  out(
    `registered ${HEAD_SERVERS}/${id} (${host}:${port}); the cluster checks it over TCP (ephemeral: it goes when this monitor quits)`,
  );
}

function age(iso: string | undefined): string {
  if (iso === undefined) return '-';
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  return Number.isFinite(seconds) ? `${seconds.toFixed(1)}s ago` : '-';
}

async function status(): Promise<void> {
  const [nodes, reports, services, leader] = await Promise.all([
    client.get(`${HEAD_SERVERS}/`, { prefix: true }),
    client.get(`${HEALTH_REPORTS}/`, { prefix: true }),
    client.discover(SERVICE),
    client.get(LEADER),
  ]);
  const leaderInfo = leader.kvs[0] === undefined ? undefined : parseJson<LeaderInfo>(leader.kvs[0].value);
  const health = new Map(services.instances.map((i) => [i.id, i]));
  const reportById = new Map<string, HealthReport>();
  for (const kv of reports.kvs) {
    const report = parseJson<HealthReport>(kv.value);
    if (report !== undefined) reportById.set(report.id, report);
  }
  out(`head servers (${nodes.kvs.length}) at revision ${nodes.revision}:`);
  if (nodes.kvs.length === 0) out('  (none registered)');
  for (const kv of nodes.kvs) {
    const info = parseJson<HeadServerInfo>(kv.value);
    const name = kv.key.slice(HEAD_SERVERS.length + 1);
    const instance = health.get(name);
    const report = reportById.get(name);
    const checks = instance?.health.checks.map((c) => `${c.name}=${c.status}`).join(',') ?? 'not in registry';
    out(
      `  ${name}${leaderInfo?.id === name ? ' (LEADER)' : ''}  ${info?.host ?? '?'}:${info?.port ?? '?'}  ` +
        `health=${instance?.health.status ?? 'unknown'} [${checks}]  last report ${age(report?.reportedAt)}` +
        (report === undefined ? '' : ` (uptime ${report.uptimeSeconds}s, role ${report.role})`),
    );
  }
  const stale = [...reportById.keys()].filter((name) => !nodes.kvs.some((kv) => kv.key.endsWith(`/${name}`)));
  if (stale.length > 0) out(`  reports from departed head servers: ${stale.join(', ')}`);
}

async function leader(): Promise<void> {
  const [elected, node] = await Promise.all([client.election(ELECTION).leader(), client.get(LEADER)]);
  if (elected === undefined) {
    out('no leader (no head server is campaigning)');
    return;
  }
  const info = node.kvs[0] === undefined ? undefined : parseJson<LeaderInfo>(node.kvs[0].value);
  out(
    `leader: ${elected.text()} (fencing token ${elected.fencingToken}, candidate ${elected.key})` +
      (info === undefined
        ? `; ${LEADER} not written yet`
        : `; ${LEADER}: ${info.host}:${info.port} since ${info.since}`),
  );
}

function watchLeader(): void {
  if (observer !== null) {
    out('already watching; "unwatch" stops');
    return;
  }
  observer = client.election(ELECTION).observe();
  observer.on('leader', (l) =>
    out(`[watch] leader: ${l === null ? '(none)' : `${l.text()} (fencing token ${l.fencingToken})`}`),
  );
  observer.on('error', (error) => out(`[watch] ended: ${describeError(error)}`));
  out('watching leader changes; "unwatch" stops');
}

const HELP = 'commands: register <id> <host> <port> | status | leader | watch | unwatch | help | quit';

async function run(line: string): Promise<boolean> {
  const [command, ...args] = line.trim().split(/\s+/);
  switch (command) {
    case undefined:
    case '':
      return true;
    case 'register':
      await register(args);
      return true;
    case 'status':
      await status();
      return true;
    case 'leader':
      await leader();
      return true;
    case 'watch':
      watchLeader();
      return true;
    case 'unwatch':
      observer?.close();
      observer = null;
      return true;
    case 'help':
      out(HELP);
      return true;
    case 'quit':
    case 'exit':
      return false;
    default:
      out(`unknown command ${JSON.stringify(command)}; ${HELP}`);
      return true;
  }
}

async function quit(): Promise<never> {
  observer?.close();
  try {
    // Ends this monitor's ephemeral nodes (and anything it registered by hand) right away.
    if (session !== null) await session.close({ deadlineMs: 2_000 });
  } catch (error) {
    out(`could not close the session (${describeError(error)}); it expires after ${ttlMs} ms`);
  }
  client.close();
  process.exit(0);
}

async function main(): Promise<void> {
  const interactive = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
  if (interactive) {
    out(`raftree head-server monitor (${endpoints.join(',')}); ${HELP}`);
    rl.setPrompt('> ');
    rl.prompt();
  }
  for await (const line of rl) {
    try {
      if (!(await run(line))) break;
    } catch (error) {
      out(`error: ${describeError(error)}`);
    }
    if (interactive) rl.prompt();
  }
  rl.close();
  await quit();
}

process.once('SIGINT', () => void quit());
void main();
