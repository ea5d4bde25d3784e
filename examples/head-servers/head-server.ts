/**
 * One head server of the seed's "distributed file grid", coordinated through raftree:
 *
 *   1. opens a session (kept alive by the client; it ends --ttl ms after this process dies);
 *   2. registers itself as an ephemeral node /distributed_file_grid/head_servers/<id>, and in
 *      the service registry (service "head_servers", tied to the session) with an HTTP health
 *      check of its own /health endpoint, which the cluster's leader probes;
 *   3. campaigns for leadership (raftree's election: sequential ephemeral candidates, the lowest
 *      leads, no herd effect); when elected it writes /distributed_file_grid/leader (ephemeral,
 *      with its fencing token) and prints a line containing "elected";
 *   4. writes a health report to /distributed_file_grid/health_reports/<id> every --report ms.
 *
 * Kill the leading process (kill -9) and another head server prints "elected" once the dead
 * one's session expires — within its TTL plus a little.
 *
 *   npx tsx examples/head-servers/head-server.ts --id head_server_1 --port 9669
 *   flags: --id ID --host HOST --port PORT --endpoints LIST --ttl MS --report MS
 */
import { createServer } from 'node:http';
import { hostname, loadavg } from 'node:os';
import { RaftreeClient, type Leadership, type Session } from '../../src/client/index.js';
import {
  DEFAULT_ENDPOINTS,
  describeError,
  ELECTION,
  HEAD_SERVERS,
  HEALTH_REPORTS,
  isCode,
  LEADER,
  parseFlags,
  positive,
  SERVICE,
  type HeadServerInfo,
  type HealthReport,
  type LeaderInfo,
} from './common.js';

const flags = parseFlags(process.argv.slice(2), {
  id: 'string',
  host: 'string',
  port: 'string',
  endpoints: 'string',
  ttl: 'string',
  report: 'string',
});
const id = typeof flags['id'] === 'string' ? flags['id'] : `head_server_${process.pid}`;
const host = typeof flags['host'] === 'string' ? flags['host'] : '127.0.0.1';
const requestedPort = positive(flags['port'], 0, '--port') || 0;
const endpoints = (
  typeof flags['endpoints'] === 'string'
    ? flags['endpoints']
    : (process.env['RAFTREE_ENDPOINTS'] ?? DEFAULT_ENDPOINTS)
)
  .split(',')
  .map((e) => e.trim())
  .filter(Boolean);
const ttlMs = positive(flags['ttl'], 5_000, '--ttl');
const reportMs = positive(flags['report'], 1_000, '--report');

const log = (message: string): void => {
  process.stdout.write(`${new Date().toISOString()} [${id}] ${message}\n`);
};

const client = new RaftreeClient({ endpoints, deadlineMs: 5_000 });
const startedAt = new Date();
let role: HealthReport['role'] = 'follower';
let currentLeader: string | null = null;
let leadership: Leadership | null = null;
let session: Session | null = null;
let sequence = 0;
let stopping = false;

/** The head server's own service: /health answers 200 while it runs. */
const server = createServer((request, response) => {
  const body = JSON.stringify({ id, role, leader: currentLeader, uptimeSeconds: uptime() });
  response.writeHead(request.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
  response.end(body);
});

function uptime(): number {
  return Math.round((Date.now() - startedAt.getTime()) / 1000);
}

async function createEphemeral(path: string, value: string, owner: Session): Promise<void> {
  for (;;) {
    try {
      await client.create(path, value, { session: owner, parents: true });
      return;
    } catch (error) {
      // A previous incarnation's node lingers until its session expires: wait it out.
      if (!isCode(error, 'ALREADY_EXISTS') || stopping) throw error;
      log(`${path} still exists (an earlier session?); retrying until it expires`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, ttlMs / 2)));
    }
  }
}

async function writeReport(): Promise<void> {
  const report: HealthReport = {
    id,
    role,
    leader: currentLeader,
    uptimeSeconds: uptime(),
    rssBytes: process.memoryUsage().rss,
    loadAverage: loadavg()[0] ?? 0,
    reportedAt: new Date().toISOString(),
    sequence: ++sequence,
  };
  await client.put(`${HEALTH_REPORTS}/${id}`, JSON.stringify(report));
}

async function main(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(requestedPort, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  log(`serving on ${host}:${port} (${hostname()}); cluster ${endpoints.join(',')}`);

  session = await client.session({ ttlMs });
  const owner = session;
  log(`session ${owner.id} opened (TTL ${ttlMs} ms)`);
  owner.on('lost', (error) => {
    if (stopping) return;
    // Without its session this process may no longer act as leader: stop, let a supervisor restart it.
    log(`session lost (${describeError(error)}); exiting`);
    process.exit(2);
  });

  const info: HeadServerInfo = { id, host, port, pid: process.pid, startedAt: startedAt.toISOString() };
  await createEphemeral(`${HEAD_SERVERS}/${id}`, JSON.stringify(info), owner);
  log(`registered ${HEAD_SERVERS}/${id}`);
  await client.register({
    name: SERVICE,
    id,
    host,
    port,
    tags: ['head'],
    metadata: { pid: String(process.pid) },
    session: owner,
    checks: [
      {
        kind: 'http',
        url: `http://${host}:${port}/health`,
        intervalMs: 1_000,
        timeoutMs: 500,
        failuresBeforeCritical: 2,
      },
    ],
  });
  log(`registered in the service registry as ${SERVICE}/${id}`);

  const reports = setInterval(() => {
    writeReport().catch((error: unknown) => log(`health report failed: ${describeError(error)}`));
  }, reportMs);
  reports.unref();
  await writeReport();

  // Follow who leads (for reports and logs) while campaigning.
  const election = client.election(ELECTION);
  const observer = election.observe();
  observer.on('leader', (leader) => {
    const next = leader === null ? null : leader.text();
    if (next !== currentLeader) log(`leader is now ${next ?? '(none)'}`);
    currentLeader = next;
  });
  observer.on('error', (error) => log(`leader observation ended: ${describeError(error)}`));

  log('campaigning for leadership');
  leadership = await election.campaign(id, owner);
  role = 'leader';
  currentLeader = id;
  const leaderInfo: LeaderInfo = {
    id,
    host,
    port,
    fencingToken: leadership.fencingToken,
    since: new Date().toISOString(),
  };
  await createEphemeral(LEADER, JSON.stringify(leaderInfo), owner);
  log(`elected leader (fencing token ${leadership.fencingToken}); wrote ${LEADER}`);
  await writeReport();
}

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`${signal}: resigning and closing the session`);
  try {
    if (leadership !== null) await leadership.resign({ deadlineMs: 2_000 });
    // Closing the session deletes every ephemeral node of this head server at once.
    if (session !== null) await session.close({ deadlineMs: 2_000 });
  } catch (error) {
    log(`clean shutdown failed (${describeError(error)}); the session will expire after its TTL`);
  }
  client.close();
  server.close();
  process.exit(0);
}

process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));

main().catch((error: unknown) => {
  if (stopping) return;
  log(`failed: ${describeError(error)}`);
  process.exit(1);
});
