/**
 * `npm start`: a local three-node cluster, each node its own OS process running the built CLI
 * (`node dist/raftree.mjs serve`), their logs merged and prettified on this terminal.
 * Ctrl-C (or SIGTERM) stops all three: SIGTERM first, SIGKILL for stragglers.
 *
 * It writes the same pid files as scripts/cluster.sh, so `scripts/cluster.sh status|leader|kill`
 * work against this cluster too (the kill-the-leader walkthrough).
 *
 * Environment: RAFTREE_DATA (default ./data), RAFTREE_HOST (127.0.0.1), RAFTREE_BASE_PORT
 * (7001: gRPC of n1, n2, n3 on consecutive ports), RAFTREE_HTTP_BASE_PORT (gRPC base + 1000);
 * the nodes also read every other RAFTREE_* variable of `raftree serve` (RAFTREE_TICK_MS, …).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'raftree.mjs');
const IDS = ['n1', 'n2', 'n3'] as const;
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

interface NodeSpec {
  readonly id: string;
  readonly grpc: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly http: string;
  readonly dataDir: string;
  readonly pidFile: string;
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0 || port > 65_535 - IDS.length) {
    fail(`${name}="${raw}" is not a usable port number`);
  }
  return port;
}

function fail(message: string): never {
  process.stderr.write(`start-local-cluster: ${message}\n`);
  process.exit(1);
}

function clusterLayout(): { nodes: NodeSpec[]; dataRoot: string; host: string } {
  const host = process.env['RAFTREE_HOST'] || '127.0.0.1';
  const dataRoot = resolve(process.env['RAFTREE_DATA'] || join(process.cwd(), 'data'));
  const grpcBase = portFromEnv('RAFTREE_BASE_PORT', 7001);
  const httpBase = portFromEnv('RAFTREE_HTTP_BASE_PORT', grpcBase + 1000);
  const nodes = IDS.map((id, i) => ({
    id,
    grpc: `${host}:${grpcBase + i}`,
    grpcPort: grpcBase + i,
    httpPort: httpBase + i,
    http: `${host}:${httpBase + i}`,
    dataDir: join(dataRoot, id),
    pidFile: join(dataRoot, 'run', `${id}.pid`),
  }));
  return { nodes, dataRoot, host };
}

// ---------------------------------------------------------------------------------------------
// Preflight

function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const probe = createServer();
    probe.once('error', () => resolvePort(false));
    probe.listen(port, host, () => probe.close(() => resolvePort(true)));
  });
}

async function checkPorts(nodes: readonly NodeSpec[], host: string): Promise<void> {
  const busy: string[] = [];
  for (const node of nodes) {
    if (!(await portIsFree(host, node.grpcPort))) busy.push(`${node.grpcPort} (${node.id} gRPC)`);
    if (!(await portIsFree(host, node.httpPort))) busy.push(`${node.httpPort} (${node.id} HTTP)`);
  }
  if (busy.length > 0) {
    fail(
      `port${busy.length > 1 ? 's' : ''} already in use on ${host}: ${busy.join(', ')}.\n` +
        '  Is a cluster already running? Try `scripts/cluster.sh status` / `scripts/cluster.sh stop`,\n' +
        '  or pick other ports with RAFTREE_BASE_PORT and RAFTREE_HTTP_BASE_PORT.',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Logs: pino JSON lines → "n1 12:34:56.789 INFO  message key=value"

const useColor = process.stdout.isTTY === true && !process.env['NO_COLOR'];
const paint = (code: number, text: string) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);
const NODE_COLORS = [36, 35, 33];
const LEVELS: Record<number, [string, number]> = {
  10: ['TRACE', 90],
  20: ['DEBUG', 90],
  30: ['INFO ', 32],
  40: ['WARN ', 33],
  50: ['ERROR', 31],
  60: ['FATAL', 41],
};
/** Fields every line carries, or that the prefix already shows. */
const NOISE = new Set(['level', 'time', 'pid', 'hostname', 'node', 'msg']);

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  if (value !== null && typeof value === 'object' && 'message' in value) return JSON.stringify(value.message);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function prettyLogLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object') return line;
    record = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof record['time'] === 'number' ? new Date(record['time']).toISOString().slice(11, 23) : '';
  const [levelName, levelColor] = LEVELS[Number(record['level'])] ?? ['?    ', 0];
  const fields = Object.entries(record)
    .filter(([key]) => !NOISE.has(key))
    .map(([key, value]) => `${paint(90, `${key}=`)}${fieldText(value)}`);
  return [paint(90, time), paint(levelColor, levelName), String(record['msg'] ?? ''), ...fields].join(' ');
}

function pipeLogs(child: ChildProcess, id: string, index: number): void {
  const prefix = paint(NODE_COLORS[index % NODE_COLORS.length]!, id.padEnd(3));
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) =>
      process.stdout.write(`${prefix} ${prettyLogLine(line)}\n`),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

function isServeProcess(pid: number, id: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes('serve') && args[args.indexOf('--id') + 1] === id;
  } catch {
    return true; // no /proc (not Linux): trust the signal probe
  }
}

function pidFromFile(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function startNode(node: NodeSpec, peers: string, index: number): ChildProcess {
  mkdirSync(node.dataDir, { recursive: true });
  mkdirSync(dirname(node.pidFile), { recursive: true });
  const args = ['serve', '--id', node.id, '--listen', node.grpc, '--http', node.http, '--peers', peers];
  const child = spawn(process.execPath, [CLI, ...args, '--data', node.dataDir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C reaches only this launcher, which stops the nodes in order.
    detached: true,
  });
  if (child.pid !== undefined) writeFileSync(node.pidFile, `${child.pid}\n`);
  pipeLogs(child, node.id, index);
  return child;
}

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM everything, wait, SIGKILL what is left; includes nodes restarted by scripts/cluster.sh. */
async function stopAll(nodes: readonly NodeSpec[], children: Map<string, ChildProcess>): Promise<void> {
  const targets = new Map<string, number>();
  for (const node of nodes) {
    const child = children.get(node.id);
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null)
      targets.set(node.id, child.pid);
    else {
      const pid = pidFromFile(node.pidFile);
      if (pid !== null && isServeProcess(pid, node.id)) targets.set(node.id, pid);
    }
  }
  for (const pid of targets.values()) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  while ([...targets.values()].some(alive) && Date.now() < deadline) await sleep(50);
  for (const [id, pid] of targets) {
    if (!alive(pid)) continue;
    process.stdout.write(`${id} did not stop within ${STOP_GRACE_MS / 1000} s: SIGKILL\n`);
    process.kill(pid, 'SIGKILL');
  }
  for (const node of nodes) {
    const pid = pidFromFile(node.pidFile);
    if (pid !== null && !alive(pid)) rmSync(node.pidFile, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Readiness and the banner

interface StatusSummary {
  readonly id: string;
  readonly role: string;
  readonly leader: string | null;
}

async function fetchStatus(node: NodeSpec): Promise<StatusSummary | null> {
  try {
    const response = await fetch(`http://${node.http}/status`, { signal: AbortSignal.timeout(1_000) });
    return response.ok ? ((await response.json()) as StatusSummary) : null;
  } catch {
    return null;
  }
}

/** Resolves with the leader's id once every node answers /status and they agree on one leader. */
async function waitForLeader(
  nodes: readonly NodeSpec[],
  stillStarting: () => boolean,
): Promise<string | null> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && stillStarting()) {
    const statuses = await Promise.all(nodes.map(fetchStatus));
    const leaders = new Set(statuses.map((s) => s?.leader ?? null));
    const [leader] = leaders;
    if (statuses.every((s) => s !== null) && leaders.size === 1 && leader) return leader;
    await sleep(200);
  }
  return null;
}

/** A path as the user would type it: relative below the working directory, absolute elsewhere. */
function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

function banner(nodes: readonly NodeSpec[], dataRoot: string, leader: string | null): string {
  const endpoints = nodes.map((n) => n.grpc).join(',');
  const defaultPorts = endpoints === '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';
  const defaultData = shownPath(dataRoot) === 'data';
  // The CLI and cluster.sh default to the standard ports and ./data; say so when these differ.
  const exports = [
    ...(defaultPorts
      ? []
      : [
          `RAFTREE_ENDPOINTS=${endpoints}`,
          `RAFTREE_BASE_PORT=${nodes[0]!.grpcPort}`,
          `RAFTREE_HTTP_BASE_PORT=${nodes[0]!.httpPort}`,
        ]),
    ...(defaultData ? [] : [`RAFTREE_DATA=${shownPath(dataRoot)}`]),
  ];
  const lines = [
    '',
    paint(
      1,
      `raftree local cluster is up${leader ? ` (leader: ${leader})` : ' (no leader yet)'} — endpoints:`,
    ),
    ...nodes.map(
      (n) =>
        `  ${n.id}  gRPC ${n.grpc.padEnd(16)}  dashboard http://${n.http}/  (/status /health /metrics)  data ${shownPath(n.dataDir)}`,
    ),
    `  client endpoints: ${endpoints}`,
    '',
    'Try, in another terminal:',
    ...(exports.length > 0 ? [`  export ${exports.join(' ')}`] : []),
    '  npx raftree put /hello world',
    '  npx raftree get /hello',
    '  npx raftree watch /hello --prefix',
    '  npx raftree cluster status',
    '',
    'Kill the leader and watch a new one take over (about a second):',
    '  scripts/cluster.sh leader',
    '  scripts/cluster.sh kill $(scripts/cluster.sh leader)',
    '  scripts/cluster.sh status',
    '  scripts/cluster.sh restart <the node you killed>',
    '',
    'Ctrl-C stops all three nodes.',
    '',
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!existsSync(CLI)) fail(`${relative(process.cwd(), CLI)} is missing: run \`npm run build\` first`);
  const { nodes, dataRoot, host } = clusterLayout();
  await checkPorts(nodes, host);
  const peers = nodes.map((n) => `${n.id}=${n.grpc}`).join(',');
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  let exitCode = 0;

  const shutdown = async (reason: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    process.stdout.write(`\n${reason}: stopping the cluster…\n`);
    await stopAll(nodes, children);
    process.stdout.write('all nodes stopped\n');
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGHUP', () => void shutdown('SIGHUP', 0));

  let starting = true;
  nodes.forEach((node, index) => {
    const child = startNode(node, peers, index);
    children.set(node.id, child);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (starting) {
        void shutdown(`${node.id} exited during startup (${how}); see its log above`, 1);
      } else {
        process.stdout.write(
          `${node.id} exited (${how}). The others carry on; bring it back with: scripts/cluster.sh restart ${node.id}\n`,
        );
      }
    });
    child.on('error', (error) => void shutdown(`${node.id} could not be started: ${error.message}`, 1));
  });

  const leader = await waitForLeader(nodes, () => !stopping);
  starting = false;
  if (stopping) return;
  if (!leader) process.stdout.write(`no leader after ${READY_TIMEOUT_MS / 1000} s; the nodes keep trying\n`);
  process.stdout.write(banner(nodes, dataRoot, leader));
}

await main();
