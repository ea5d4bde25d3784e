/**
 * A cluster of real `raftree serve` processes whose peer links all pass through a ProxyMesh.
 * Built code only (`npm run build`). Logs go to one file per node and survive restarts, so a
 * failed run can keep them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RaftreeClient, type NodeStatus } from '../../src/client/index.js';
import { freePorts } from '../support/ports.js';
import { ProxyMesh } from './proxy-mesh.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const DEFAULT_CLI_MAIN = join(REPO_ROOT, 'dist', 'raftree.mjs');

export interface ChaosClusterOptions {
  readonly size: number;
  readonly tickMs: number;
  /** Snapshot every N entries: small, so snapshots and InstallSnapshot happen during the run. */
  readonly snapshotEntries: number;
  /** The built CLI to run (default: this checkout's dist). */
  readonly cliMain?: string;
  readonly logLevel?: string;
}

export interface ChaosNode {
  readonly id: string;
  readonly port: number;
  readonly address: string;
  readonly dataDir: string;
  readonly logFile: string;
  process: ChildProcess | null;
  paused: boolean;
  /** The harness is killing it: its exit is no crash. */
  exitExpected: boolean;
}

/** A node that exited although nobody killed it. */
export interface Crash {
  readonly id: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Date.now() when it happened. */
  readonly at: number;
}

/** Every child of every chaos cluster in this process: killed on exit whatever happens. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

export class ChaosCluster {
  private readonly byId = new Map<string, ChaosNode>();
  private readonly statusClients = new Map<string, RaftreeClient>();
  /** Nodes that died on their own: always a finding. */
  readonly crashes: Crash[] = [];
  private stopped = false;

  private constructor(
    readonly root: string,
    nodes: readonly ChaosNode[],
    readonly mesh: ProxyMesh,
    private readonly options: ChaosClusterOptions,
  ) {
    for (const node of nodes) {
      this.byId.set(node.id, node);
      // One attempt, short deadlines: the nemesis must see a dead node as dead, quickly.
      this.statusClients.set(
        node.id,
        new RaftreeClient({ endpoints: [node.address], retry: { maxAttempts: 1 }, connectTimeoutMs: 300 }),
      );
    }
  }

  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const cliMain = options.cliMain ?? DEFAULT_CLI_MAIN;
    if (!existsSync(cliMain)) throw new Error(`${cliMain} is missing: run "npm run build" first`);
    const ports = await freePorts(options.size);
    const root = mkdtempSync(join(tmpdir(), 'raftree-chaos-'));
    const nodes: ChaosNode[] = ports.map((port, i) => ({
      id: `n${i + 1}`,
      port,
      address: `127.0.0.1:${port}`,
      dataDir: join(root, `n${i + 1}`),
      logFile: join(root, `n${i + 1}.log`),
      process: null,
      paused: false,
      exitExpected: false,
    }));
    const mesh = await ProxyMesh.start(new Map(nodes.map((n) => [n.id, n.port])));
    const cluster = new ChaosCluster(root, nodes, mesh, options);
    for (const node of nodes) cluster.spawn(node);
    return cluster;
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }

  node(id: string): ChaosNode {
    const node = this.byId.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Real client endpoints (no proxy in between). */
  endpoints(): string[] {
    return [...this.byId.values()].map((n) => n.address);
  }

  isRunning(id: string): boolean {
    const child = this.node(id).process;
    return child !== null && child.exitCode === null && child.signalCode === null;
  }

  /** Running and not paused. */
  isServing(id: string): boolean {
    return this.isRunning(id) && !this.node(id).paused;
  }

  async kill(id: string): Promise<void> {
    const node = this.node(id);
    const child = node.process;
    if (child === null || !this.isRunning(id)) return;
    const exited = once(child, 'exit');
    node.exitExpected = true;
    child.kill('SIGKILL');
    await exited;
    node.paused = false;
  }

  async restart(id: string): Promise<void> {
    await this.kill(id);
    this.spawn(this.node(id));
  }

  pause(id: string): void {
    const node = this.node(id);
    if (!this.isRunning(id) || node.paused) return;
    node.process!.kill('SIGSTOP');
    node.paused = true;
  }

  resume(id: string): void {
    const node = this.node(id);
    if (!this.isRunning(id) || !node.paused) return;
    node.process!.kill('SIGCONT');
    node.paused = false;
  }

  /** Resumes every paused node and starts every dead one. */
  async reviveAll(): Promise<void> {
    for (const id of this.ids) {
      if (!this.isRunning(id)) this.spawn(this.node(id));
      else this.resume(id);
    }
  }

  async status(id: string, timeoutMs = 800): Promise<NodeStatus | null> {
    if (!this.isServing(id)) return null;
    try {
      return await this.statusClients.get(id)!.status(undefined, { deadlineMs: timeoutMs });
    } catch {
      return null;
    }
  }

  async statuses(timeoutMs = 800): Promise<Map<string, NodeStatus>> {
    const answers = await Promise.all(
      this.ids.map(async (id) => [id, await this.status(id, timeoutMs)] as const),
    );
    return new Map(answers.filter((a): a is [string, NodeStatus] => a[1] !== null));
  }

  /** The node that says it leads in the highest term any node reports, if any. */
  async leader(): Promise<string | undefined> {
    const statuses = [...(await this.statuses()).values()];
    const leaders = statuses.filter((s) => s.role === 'leader').sort((a, b) => b.term - a.term);
    return leaders[0]?.id;
  }

  logs(id: string): string {
    try {
      return readFileSync(this.node(id).logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGKILLs every node, closes every proxy; removes the data unless `keepData`. Idempotent. */
  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const client of this.statusClients.values()) client.close();
    await Promise.all(this.ids.map((id) => this.kill(id)));
    await this.mesh.close();
    if (options.keepData !== true) rmSync(this.root, { recursive: true, force: true });
  }

  private peersFlagFor(self: string): string {
    return [...this.byId.values()]
      .map((n) => `${n.id}=${n.id === self ? n.address : this.mesh.addressFor(self, n.id)}`)
      .join(',');
  }

  private spawn(node: ChaosNode): void {
    const args = [
      this.options.cliMain ?? DEFAULT_CLI_MAIN,
      'serve',
      ...['--id', node.id],
      ...['--listen', node.address],
      ...['--http', 'off'],
      ...['--peers', this.peersFlagFor(node.id)],
      ...['--data', node.dataDir],
      ...['--tick-ms', String(this.options.tickMs)],
      ...['--snapshot-entries', String(this.options.snapshotEntries)],
      ...['--log-level', this.options.logLevel ?? 'info'],
    ];
    const log = openSync(node.logFile, 'a');
    try {
      const env = { ...process.env };
      // Flags name everything: stray RAFTREE_* settings must not leak in.
      for (const key of Object.keys(env)) if (key.startsWith('RAFTREE_')) delete env[key];
      const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', log, log] });
      liveChildren.add(child);
      child.once('exit', (code, signal) => {
        liveChildren.delete(child);
        if (!node.exitExpected) this.crashes.push({ id: node.id, code, signal, at: Date.now() });
      });
      node.process = child;
      node.paused = false;
      node.exitExpected = false;
    } finally {
      closeSync(log);
    }
  }
}
