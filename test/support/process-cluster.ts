/**
 * A real cluster of `raftree serve` OS processes for end-to-end tests (built code: run
 * `npm run build` first; `npm test` does). Free ports, a temp data root, logs per node in
 * files, leader discovery through the Status RPC. Always call stop() in afterAll: it SIGKILLs
 * whatever is left and removes the data; a process 'exit' hook does the same if a test run
 * dies first.
 *
 *   const cluster = await ProcessCluster.start();          // 3 nodes, waits for a leader
 *   const leader = await cluster.waitForLeader();
 *   await cluster.kill(leader);                             // SIGKILL, waits for the exit
 *   await cluster.restart(leader);
 *   await cluster.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RaftreeClient, type NodeStatus } from '../../src/client/index.js';
import { freePorts } from './ports.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI_MAIN = join(REPO_ROOT, 'dist', 'raftree.mjs');

export interface ProcessClusterOptions {
  /** Number of nodes, named n1..nN (default 3). */
  readonly size?: number;
  /** --tick-ms (default 20: elections in a few hundred ms). */
  readonly tickMs?: number;
  /** Extra `serve` flags for every node. */
  readonly extraArgs?: readonly string[];
  readonly logLevel?: string;
  /** Wait for a leader before returning (default true). */
  readonly waitForLeader?: boolean;
  /** Bound on that wait (default 20 s). */
  readonly leaderTimeoutMs?: number;
}

export interface ClusterNode {
  readonly id: string;
  readonly port: number;
  /** HOST:PORT, for clients and peers. */
  readonly address: string;
  readonly dataDir: string;
  readonly logFile: string;
  process: ChildProcess | null;
  /** SIGSTOPped and not yet continued. */
  paused: boolean;
}

/** Every live child of every cluster in this process, for the exit hook. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export class ProcessCluster {
  readonly root: string;
  private readonly nodes = new Map<string, ClusterNode>();
  private readonly statusClient: RaftreeClient;
  private stopped = false;

  private constructor(
    root: string,
    nodes: readonly ClusterNode[],
    private readonly options: ProcessClusterOptions,
  ) {
    this.root = root;
    for (const node of nodes) this.nodes.set(node.id, node);
    // One attempt per question: the helper polls, and must see a dead node as dead.
    this.statusClient = new RaftreeClient({
      endpoints: nodes.map((n) => n.address),
      retry: { maxAttempts: 1 },
      connectTimeoutMs: 500,
    });
  }

  static async start(options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: run "npm run build" first`);
    installExitHook();
    const size = options.size ?? 3;
    const ports = await freePorts(size);
    const root = mkdtempSync(join(tmpdir(), 'raftree-e2e-'));
    const nodes: ClusterNode[] = ports.map((port, i) => ({
      id: `n${i + 1}`,
      port,
      address: `127.0.0.1:${port}`,
      dataDir: join(root, `n${i + 1}`),
      logFile: join(root, `n${i + 1}.log`),
      process: null,
      paused: false,
    }));
    const cluster = new ProcessCluster(root, nodes, options);
    try {
      for (const node of nodes) cluster.spawn(node);
      if (options.waitForLeader !== false)
        await cluster.waitForLeader({ timeoutMs: options.leaderTimeoutMs ?? 20_000 });
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get ids(): string[] {
    return [...this.nodes.keys()];
  }

  node(id: string): ClusterNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id} (have ${this.ids.join(', ')})`);
    return node;
  }

  address(id: string): string {
    return this.node(id).address;
  }

  /** The id of the node at `address` (HOST:PORT). */
  idAt(address: string): string {
    const node = [...this.nodes.values()].find((n) => n.address === address);
    if (node === undefined) throw new Error(`no node at ${address}`);
    return node.id;
  }

  /** Client endpoints of the given nodes (default: all). */
  endpoints(ids: readonly string[] = this.ids): string[] {
    return ids.map((id) => this.address(id));
  }

  /** `--peers` value naming every node. */
  get peersFlag(): string {
    return [...this.nodes.values()].map((n) => `${n.id}=${n.address}`).join(',');
  }

  isRunning(id: string): boolean {
    const child = this.node(id).process;
    return child !== null && child.exitCode === null && child.signalCode === null;
  }

  runningIds(): string[] {
    return this.ids.filter((id) => this.isRunning(id));
  }

  /** Sends `signal`; for signals that end the process, waits until it has exited. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(id);
    const child = node.process;
    if (child === null || !this.isRunning(id)) return;
    if (signal === 'SIGSTOP') {
      child.kill('SIGSTOP');
      node.paused = true;
      return;
    }
    if (signal === 'SIGCONT') {
      child.kill('SIGCONT');
      node.paused = false;
      return;
    }
    const exited = once(child, 'exit');
    // A stopped process only handles SIGTERM/SIGINT after it runs again.
    if (node.paused && signal !== 'SIGKILL') child.kill('SIGCONT');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    node.paused = false;
  }

  pause(id: string): Promise<void> {
    return this.kill(id, 'SIGSTOP');
  }

  resume(id: string): Promise<void> {
    return this.kill(id, 'SIGCONT');
  }

  /** Starts a node again on its data directory (SIGKILLs it first if it is running). */
  async restart(id: string): Promise<void> {
    if (this.isRunning(id)) await this.kill(id, 'SIGKILL');
    this.spawn(this.node(id));
  }

  /** One node's Status, or null if it does not answer within `timeoutMs`. */
  async status(id: string, timeoutMs = 1_000): Promise<NodeStatus | null> {
    if (!this.isRunning(id) || this.node(id).paused) return null;
    try {
      return await this.statusClient.status(this.address(id), { deadlineMs: timeoutMs });
    } catch {
      return null;
    }
  }

  /** The leader a majority of the cluster agrees on (same term), if any. */
  async leader(): Promise<string | undefined> {
    const statuses = (await Promise.all(this.ids.map((id) => this.status(id)))).filter(
      (s): s is NodeStatus => s !== null,
    );
    const majority = Math.floor(this.nodes.size / 2) + 1;
    for (const candidate of statuses) {
      if (candidate.role !== 'leader') continue;
      const agreeing = statuses.filter((s) => s.leader === candidate.id && s.term === candidate.term);
      if (agreeing.length >= majority) return candidate.id;
    }
    return undefined;
  }

  /** Waits until a majority agrees on a leader (optionally not one of `exclude`); returns its id. */
  async waitForLeader(options: { timeoutMs?: number; exclude?: readonly string[] } = {}): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    for (;;) {
      const leader = await this.leader();
      if (leader !== undefined && !(options.exclude ?? []).includes(leader)) return leader;
      if (Date.now() > deadline) {
        throw new Error(
          `no leader within ${options.timeoutMs ?? 20_000} ms (running: ${this.runningIds().join(', ')}); ` +
            `last log lines:\n${this.ids.map((id) => `--- ${id}\n${this.tail(id, 5)}`).join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Waits until EVERY running node answers and names the same leader in the same term (e.g.
   * after a restart, before a test that looks at all nodes); returns the leader's id.
   */
  async waitForAgreement(options: { timeoutMs?: number } = {}): Promise<string> {
    const timeoutMs = options.timeoutMs ?? 20_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.runningIds().filter((id) => !this.node(id).paused);
      const statuses = await Promise.all(running.map((id) => this.status(id)));
      const first = statuses[0];
      if (
        first !== undefined &&
        first !== null &&
        first.leader !== '' &&
        statuses.every((s) => s !== null && s.leader === first.leader && s.term === first.term) &&
        statuses.some((s) => s!.id === first.leader && s!.role === 'leader')
      ) {
        return first.leader;
      }
      if (Date.now() > deadline) {
        const seen = statuses.map(
          (s, i) =>
            `${running[i]}: ${s === null ? 'no answer' : `${s.role}, leader ${s.leader || '-'}, term ${s.term}`}`,
        );
        throw new Error(
          `the running nodes did not agree on a leader within ${timeoutMs} ms (${seen.join('; ')})`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A node's log so far (pino JSON lines). */
  logs(id: string): string {
    try {
      return readFileSync(this.node(id).logFile, 'utf8');
    } catch {
      return '';
    }
  }

  tail(id: string, lines: number): string {
    return this.logs(id).trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** SIGKILLs every node, waits for the exits, removes the data. Idempotent. */
  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.statusClient.close();
    await Promise.all(this.ids.map((id) => this.kill(id, 'SIGKILL')));
    // RAFTREE_E2E_KEEP_DATA=1 keeps data and logs for a post-mortem.
    if (options.keepData === true || process.env['RAFTREE_E2E_KEEP_DATA'] === '1') {
      process.stderr.write(`process cluster data and logs kept in ${this.root}\n`);
    } else {
      rmSync(this.root, { recursive: true, force: true });
    }
  }

  private spawn(node: ClusterNode): void {
    const args = [
      CLI_MAIN,
      'serve',
      '--id',
      node.id,
      '--listen',
      node.address,
      '--http',
      'off',
      '--peers',
      this.peersFlag,
      '--data',
      node.dataDir,
      '--tick-ms',
      String(this.options.tickMs ?? 20),
      '--log-level',
      this.options.logLevel ?? 'info',
      ...(this.options.extraArgs ?? []),
    ];
    const log = openSync(node.logFile, 'a');
    try {
      const env = { ...process.env };
      // Flags name everything; stray RAFTREE_* settings of the developer must not leak in.
      for (const key of Object.keys(env)) if (key.startsWith('RAFTREE_')) delete env[key];
      const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', log, log] });
      liveChildren.add(child);
      child.once('exit', () => liveChildren.delete(child));
      node.process = child;
      node.paused = false;
    } finally {
      closeSync(log);
    }
  }
}
