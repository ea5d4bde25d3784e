/**
 * Debian's etcd tools for the compatibility tests: `etcdctl` (package etcd-client) run against
 * any endpoints, and a real `etcd` cluster (package etcd-server) to compare raftree with.
 *
 *   const tools = etcdTools();                       // null paths name the package to install
 *   const etcd = await startRealEtcd({ size: 3 });   // free ports, temp data, members n1..n3
 *   const result = await runEtcdctl(etcd.endpoints, ['put', 'k', 'v']);
 *   const watch = spawnEtcdctl(etcd.endpoints, ['watch', 'k']);
 *   await watch.waitFor('the watch', () => ...); await watch.stop();
 *   await etcd.stop();                               // SIGKILL, data removed (exit hook too)
 *
 * Every process is bounded in time and killed by stop(), by the timeout, or by the exit hook.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePorts } from './ports.js';
import { collectRun } from './cli-runner.js';

/** An executable named `name` on PATH (or in /usr/bin, /usr/local/bin), or null. */
export function findExecutable(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export interface EtcdTools {
  readonly etcdctl: string | null;
  readonly etcd: string | null;
  /** Why the comparison cannot run (names the Debian packages to install), or null. */
  readonly missing: string | null;
}

export function etcdTools(): EtcdTools {
  const etcdctl = findExecutable('etcdctl');
  const etcd = findExecutable('etcd');
  const packages = [
    etcdctl === null ? 'etcd-client (etcdctl)' : null,
    etcd === null ? 'etcd-server (etcd)' : null,
  ];
  const named = packages.filter((p): p is string => p !== null);
  return {
    etcdctl,
    etcd,
    missing: named.length === 0 ? null : `install the Debian package ${named.join(' and ')}`,
  };
}

/** Every live child, SIGKILLed if the test process exits before its owner stopped it. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveChildren) {
        try {
          c.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

function requireTool(path: string | null, name: string): string {
  if (path === null) throw new Error(`${name} is not installed (${etcdTools().missing ?? ''})`);
  return path;
}

/** etcdctl's environment: v3 API, and no ETCDCTL_* setting leaking in from the outer shell. */
function etcdctlEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('ETCDCTL_')) env[key] = value;
  env['ETCDCTL_API'] = '3';
  return env;
}

function etcdctlArgs(endpoints: readonly string[], args: readonly string[]): string[] {
  // Bounded dials and commands, so an unresponsive server fails a step instead of hanging it.
  return [`--endpoints=${endpoints.join(',')}`, '--dial-timeout=3s', '--command-timeout=8s', ...args];
}

export interface EtcdctlResult {
  /** Exit code; null when a signal ended it (the timeout). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface EtcdctlRunOptions {
  /** Written to stdin, which is then closed. */
  readonly input?: string;
  /** SIGKILL after this (default 15 s); the result then has code null. */
  readonly timeoutMs?: number;
}

/** Runs one etcdctl command to completion. */
export async function runEtcdctl(
  endpoints: readonly string[],
  args: readonly string[],
  options: EtcdctlRunOptions = {},
): Promise<EtcdctlResult> {
  const child = spawn(requireTool(etcdTools().etcdctl, 'etcdctl'), etcdctlArgs(endpoints, args), {
    env: etcdctlEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  track(child);
  return collectRun(child, options.input ?? '', options.timeoutMs ?? 15_000);
}

/** A long-running etcdctl (watch, lease keep-alive, elect, lock) read line by line. */
export class EtcdctlProcess {
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly closed: Promise<number | null>;
  private readonly deadline: NodeJS.Timeout;

  constructor(
    readonly child: ChildProcess,
    lifetimeMs: number,
  ) {
    track(child);
    const collect = (stream: NodeJS.ReadableStream | null, lines: string[]): void => {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        partial += chunk;
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts);
        this.wake();
      });
      stream?.on('end', () => {
        if (partial !== '') lines.push(partial);
        partial = '';
        this.wake();
      });
    };
    collect(child.stdout, this.stdoutLines);
    collect(child.stderr, this.stderrLines);
    this.closed = once(child, 'close').then(([code]) => code as number | null);
    // A forgotten process must not outlive its test by much.
    this.deadline = setTimeout(() => child.kill('SIGKILL'), lifetimeMs);
    void this.closed.then(() => {
      clearTimeout(this.deadline);
      this.wake();
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until `predicate` holds (checked on every new line and at exit). */
  async waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}\nstdout:\n${this.stdoutLines.join('\n')}\nstderr:\n${this.stderrLines.join('\n')}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Sends `signal`, waits for the exit (SIGKILL after `timeoutMs`), returns the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGINT', timeoutMs = 5_000): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.closed;
    clearTimeout(timer);
    return code;
  }

  exited(): Promise<number | null> {
    return this.closed;
  }
}

/** Starts etcdctl in the background (stdin closed); killed after `lifetimeMs` (default 30 s). */
export function spawnEtcdctl(
  endpoints: readonly string[],
  args: readonly string[],
  lifetimeMs = 30_000,
): EtcdctlProcess {
  const child = spawn(requireTool(etcdTools().etcdctl, 'etcdctl'), etcdctlArgs(endpoints, args), {
    env: etcdctlEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new EtcdctlProcess(child, lifetimeMs);
}

// --- A real etcd cluster --------------------------------------------------------------------------

export interface RealEtcdMember {
  /** n1..nN, as the in-process raftree harness names its nodes. */
  readonly name: string;
  /** 127.0.0.1:PORT of the client URL. */
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  process: ChildProcess | null;
}

export interface RealEtcdCluster {
  readonly members: readonly RealEtcdMember[];
  /** Client endpoints (HOST:PORT) in member order. */
  readonly endpoints: readonly string[];
  /** SIGKILLs one member and waits for its exit (its data stays until stop()). */
  stopMember(index: number): Promise<void>;
  /** SIGKILLs every member and removes the data. */
  stop(): Promise<void>;
}

export interface RealEtcdOptions {
  /** Members (default 3). */
  readonly size?: number;
  /** Bound on start-up (default 20 s). */
  readonly timeoutMs?: number;
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/**
 * A fresh etcd cluster from Debian's /usr/bin/etcd on free ports, each member's data in a temp
 * dir and its log in a file there; resolves when every member answers `endpoint health`.
 * Timing is shortened (50 ms heartbeats, 500 ms election timeout: up in about a second, yet no
 * spurious elections on a loaded machine).
 */
export async function startRealEtcd(options: RealEtcdOptions = {}): Promise<RealEtcdCluster> {
  const etcd = requireTool(etcdTools().etcd, 'etcd');
  const size = options.size ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'raftree-real-etcd-'));
  const ports = await freePorts(2 * size);
  const members: RealEtcdMember[] = Array.from({ length: size }, (_, i) => ({
    name: `n${i + 1}`,
    endpoint: `127.0.0.1:${ports[2 * i]}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
    dataDir: join(root, `n${i + 1}`),
    logFile: join(root, `n${i + 1}.log`),
    process: null,
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const cluster: RealEtcdCluster = {
    members,
    endpoints: members.map((m) => m.endpoint),
    async stopMember(index) {
      const member = members[index];
      if (member?.process) await killAndWait(member.process);
    },
    async stop() {
      await Promise.all(members.map((_, i) => cluster.stopMember(i)));
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (const member of members) {
      const log = openSync(member.logFile, 'w');
      const child = spawn(
        etcd,
        [
          `--name=${member.name}`,
          `--data-dir=${member.dataDir}`,
          `--listen-client-urls=http://${member.endpoint}`,
          `--advertise-client-urls=http://${member.endpoint}`,
          `--listen-peer-urls=${member.peerUrl}`,
          `--initial-advertise-peer-urls=${member.peerUrl}`,
          `--initial-cluster=${initialCluster}`,
          '--initial-cluster-state=new',
          `--initial-cluster-token=raftree-compare-${ports[0]}`,
          '--heartbeat-interval=50',
          '--election-timeout=500',
          '--log-level=warn',
        ],
        { stdio: ['ignore', log, log] },
      );
      closeSync(log);
      track(child);
      member.process = child;
    }
    const until = Date.now() + (options.timeoutMs ?? 20_000);
    for (;;) {
      const exited = members.find((m) => m.process?.exitCode !== null);
      if (exited) throw new Error(`etcd member ${exited.name} exited during start-up`);
      const health = await runEtcdctl(cluster.endpoints, ['endpoint', 'health'], { timeoutMs: 5_000 });
      if (health.code === 0) break;
      if (Date.now() > until)
        throw new Error(`etcd did not become healthy:\n${health.stdout}${health.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    const logs = members
      .map((m) => {
        try {
          return `--- ${m.name}\n${readFileSync(m.logFile, 'utf8').slice(-2_000)}`;
        } catch {
          return `--- ${m.name}: no log`;
        }
      })
      .join('\n');
    await cluster.stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`, { cause: error });
  }
  return cluster;
}

// --- Comparing what etcdctl prints against two servers --------------------------------------------

/** A cluster etcdctl talks to, and what tells its members apart in etcdctl's output. */
export interface Backend {
  /** 'etcd' or 'raftree', for messages. */
  readonly label: string;
  /** Client endpoints (HOST:PORT) in member order n1..nN. */
  readonly endpoints: readonly string[];
  /** Member names in endpoint order. */
  readonly names: readonly string[];
  /** Every HOST:PORT a member is known by (client and peer) → its name. */
  readonly addresses: ReadonlyMap<string, string>;
  /** Decimal member id → member name. */
  readonly members: ReadonlyMap<string, string>;
  /** Decimal cluster id. */
  readonly clusterId: string;
}

/**
 * Learns a cluster's member and cluster ids the way etcdctl sees them: a serializable `get -w
 * json` on each endpoint alone answers with that member's header. Needs only the KV service.
 */
export async function discoverBackend(
  label: string,
  endpoints: readonly string[],
  names: readonly string[],
  peerAddresses: readonly string[] = [],
): Promise<Backend> {
  const headers = await Promise.all(
    endpoints.map(async (endpoint) => {
      const result = await runEtcdctl(
        [endpoint],
        ['get', 'raftree-compare-probe', '--consistency=s', '-w', 'json'],
      );
      // Decimal uint64s exceed JSON numbers' precision: read them as text.
      const member = /"member_id":(\d+)/.exec(result.stdout)?.[1];
      const cluster = /"cluster_id":(\d+)/.exec(result.stdout)?.[1];
      if (result.code !== 0 || member === undefined || cluster === undefined) {
        throw new Error(`${label}: cannot read ${endpoint}'s header: ${result.stdout}${result.stderr}`);
      }
      return { member, cluster };
    }),
  );
  const clusterIds = new Set(headers.map((h) => h.cluster));
  if (clusterIds.size !== 1) throw new Error(`${label}: members disagree on the cluster id`);
  const addresses = new Map<string, string>();
  endpoints.forEach((endpoint, i) => addresses.set(endpoint, names[i]!));
  peerAddresses.forEach((address, i) => addresses.set(address, names[i]!));
  return {
    label,
    endpoints,
    names,
    addresses,
    members: new Map(headers.map((h, i) => [h.member, names[i]!])),
    clusterId: headers[0]!.cluster,
  };
}

/** One command's outcome as compared: exit code and normalised lines. */
export interface ComparedStep {
  readonly step: string;
  readonly code: number | string | null;
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
}

/** A last, command-specific pass over a step's normalised lines (sorting an unordered list...). */
export type StepHook = (lines: { stdout: string[]; stderr: string[] }) => {
  stdout: string[];
  stderr: string[];
};

interface RecordedStep {
  readonly label: string;
  readonly code: number | string | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The revision that revisions in this step's JSON are counted from. */
  readonly base: number;
  readonly hook: StepHook | undefined;
}

export interface StepOptions {
  /**
   * What the transcript calls the step, instead of the arguments, members and input; needed when
   * those hold something that differs between the backends (revisions, ids, paths).
   */
  readonly label?: string;
  /** stdin (then closed). */
  readonly input?: string;
  /** A subset of the endpoints, by member index (default: all). */
  readonly members?: readonly number[];
  readonly hook?: StepHook;
  readonly timeoutMs?: number;
}

/**
 * One scenario's etcdctl commands against one backend, recorded for comparison with the same
 * scenario against the other. Normalisation is explicit and narrow; anything it does not name
 * is compared verbatim:
 *   - member ids (decimal and hex) → `<member nX>` (the member's name; names are n1..nN on both
 *     sides); a response header's member_id → `<a member>` (which member answers is the
 *     client balancer's choice), except per-endpoint answers (endpoint status / hashkv);
 *   - the cluster id → `<cluster>`; HOST:PORT addresses of members → `<addr nX>`;
 *   - lease ids the scenario granted or learned, in that order → `<lease k>`;
 *   - revisions in JSON (header, create/mod/compact) → `rev+K`, relative to mark();
 *   - raft terms and indexes, db sizes, server version (must be 3.4.x), the Status leader,
 *     KV hashes, durations, timestamps and the retry logger's target → placeholders;
 *   - a lease's remaining TTL → `<remaining>` only when within 2 s under its granted TTL.
 */
export class CtlSession {
  private readonly steps: RecordedStep[] = [];
  private readonly leases: bigint[] = [];
  private base = 0;
  private readonly dirs: string[] = [];
  private readonly spawned: EtcdctlProcess[] = [];

  constructor(readonly backend: Backend) {}

  endpoints(members?: readonly number[]): string[] {
    const all = this.backend.endpoints;
    return members === undefined ? [...all] : members.map((i) => all[i]!);
  }

  /** Runs one command to completion and records it. */
  async run(args: readonly string[], options: StepOptions = {}): Promise<EtcdctlResult> {
    const runOptions: EtcdctlRunOptions = {
      ...(options.input === undefined ? {} : { input: options.input }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    };
    const result = await runEtcdctl(this.endpoints(options.members), args, runOptions);
    if (args[0] === 'lease' && args[1] === 'grant' && result.code === 0)
      this.learnGrantedLease(result.stdout);
    this.record(this.labelOf(args, options), result, options.hook);
    return result;
  }

  /** Starts a background command; record its output with finish(). */
  spawn(args: readonly string[], options: Pick<StepOptions, 'members'> = {}): EtcdctlProcess {
    const process = spawnEtcdctl(this.endpoints(options.members), args);
    this.spawned.push(process);
    return process;
  }

  /** Stops a background command (SIGINT unless it already exited) and records its output. */
  async finish(process: EtcdctlProcess, label: string, hook?: StepHook): Promise<void> {
    const code = await process.stop();
    this.record(
      label,
      {
        code: code ?? `signal ${process.child.signalCode ?? '?'}`,
        stdout: process.stdoutLines.map((l) => `${l}\n`).join(''),
        stderr: process.stderrLines.map((l) => `${l}\n`).join(''),
      },
      hook,
    );
  }

  /** Records a fact the scenario derived (compared like any step). */
  note(label: string, value: unknown): void {
    this.record(label, { code: 0, stdout: `${JSON.stringify(value)}\n`, stderr: '' });
  }

  /** The store's current revision (a serializable read would do; this one is linearizable). */
  async revision(): Promise<number> {
    const result = await runEtcdctl(this.endpoints(), ['get', 'raftree-compare-probe', '-w', 'json']);
    if (result.code !== 0) throw new Error(`${this.backend.label}: get failed: ${result.stderr}`);
    // An empty store's header omits revision (0 is protobuf's default).
    return Number(/"revision":(\d+)/.exec(result.stdout)?.[1] ?? 0);
  }

  /** From now on, revisions are compared relative to the current one; returns it. */
  async mark(): Promise<number> {
    this.base = await this.revision();
    return this.base;
  }

  /** The revision `k` writes after mark(). */
  rev(k: number): number {
    return this.base + k;
  }

  /** A temporary directory named `<dir>` in the transcript, removed by cleanup(). */
  tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'raftree-etcdctl-'));
    this.dirs.push(dir);
    return dir;
  }

  /** Kills what a failed scenario left running and removes the temporary directories. */
  async cleanup(): Promise<void> {
    await Promise.all(this.spawned.map((p) => p.stop('SIGKILL')));
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }

  /** Learns the lease ids in election / lock keys `<prefix>/<hex>` printed on `lines`. */
  learnLeasesFromKeys(prefix: string, lines: readonly string[]): void {
    for (const line of lines) {
      const hex = line.startsWith(`${prefix}/`) ? line.slice(prefix.length + 1) : '';
      if (/^[0-9a-f]+$/.test(hex)) this.learnLease(BigInt(`0x${hex}`));
    }
  }

  learnLease(id: bigint): void {
    if (!this.leases.includes(id)) this.leases.push(id);
  }

  private learnGrantedLease(stdout: string): void {
    const hex = /^lease ([0-9a-f]{16}) granted/m.exec(stdout)?.[1];
    const decimal = /"ID":(\d+)/.exec(stdout)?.[1];
    if (hex !== undefined) this.learnLease(BigInt(`0x${hex}`));
    else if (decimal !== undefined) this.learnLease(BigInt(decimal));
  }

  private labelOf(args: readonly string[], options: StepOptions): string {
    // A given label stands alone: it replaces what differs between the backends (revisions...).
    if (options.label !== undefined) return options.label;
    const label = args.join(' ');
    const members =
      options.members === undefined
        ? ''
        : ` [${options.members.map((i) => this.backend.names[i]).join(',')}]`;
    return `${label}${members}${options.input === undefined ? '' : ` <<< ${JSON.stringify(options.input)}`}`;
  }

  private record(
    label: string,
    result: { code: number | string | null; stdout: string; stderr: string },
    hook?: StepHook,
  ): void {
    this.steps.push({ label, ...result, base: this.base, hook });
  }

  /** Every step, normalised (lease ids learned later in the scenario count too). */
  transcript(): ComparedStep[] {
    return this.steps.map((step) => {
      const lines = {
        stdout: this.normaliseOutput(step.stdout, step.base),
        stderr: this.normaliseOutput(step.stderr, step.base),
      };
      const shaped = step.hook ? step.hook(lines) : lines;
      return { step: this.normaliseText(step.label), code: step.code, ...shaped };
    });
  }

  private normaliseOutput(text: string, base: number): string[] {
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.map((line) => this.normaliseLine(line, base));
  }

  private normaliseLine(line: string, base: number): string {
    const trimmed = line.trim();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      // Integers past 2^53 (ids) would lose digits as JSON numbers: read them as strings.
      const quoted = trimmed.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"');
      let parsed: unknown;
      try {
        parsed = JSON.parse(quoted);
      } catch {
        return this.normaliseText(line);
      }
      return JSON.stringify(this.normaliseJson(parsed, null, null, false, base));
    }
    return this.normaliseText(line);
  }

  private leaseName(id: bigint): string | undefined {
    const index = this.leases.indexOf(id);
    return index === -1 ? undefined : `<lease ${index + 1}>`;
  }

  /** Replaces ids, addresses, durations and temp paths in a line of plain text. */
  normaliseText(text: string): string {
    let out = text;
    for (const [address, name] of this.backend.addresses) {
      out = out.replace(new RegExp(`${escapeRegExp(address)}(?![0-9])`, 'g'), `<addr ${name}>`);
    }
    for (const [decimal, name] of this.backend.members) {
      out = out.replace(new RegExp(`\\b${BigInt(decimal).toString(16)}\\b`, 'g'), `<member ${name}>`);
    }
    out = out.replace(new RegExp(`\\b${BigInt(this.backend.clusterId).toString(16)}\\b`, 'g'), '<cluster>');
    this.leases.forEach((id, i) => {
      // etcdctl prints lease ids as %016x; election and lock keys end in %x.
      out = out.replace(new RegExp(`\\b${id.toString(16).padStart(16, '0')}\\b`, 'g'), `<lease ${i + 1}>`);
      out = out.replace(new RegExp(`/${id.toString(16)}$`), `/<lease ${i + 1}>`);
    });
    for (const dir of this.dirs) out = out.split(dir).join('<dir>');
    out = out.replace(/took = [0-9.]+[a-zµ]+/g, 'took = <duration>');
    const granted = /TTL\((\d+)s\), remaining\((-?\d+)s\)/.exec(out);
    if (granted && withinTwoSecondsUnder(Number(granted[2]), Number(granted[1]))) {
      out = out.replace(/remaining\(-?\d+s\)/, 'remaining(<remaining>)');
    }
    return out;
  }

  private normaliseJson(
    value: unknown,
    key: string | null,
    parent: Record<string, unknown> | null,
    endpointScoped: boolean,
    base: number,
  ): unknown {
    if (Array.isArray(value))
      return value.map((v) => this.normaliseJson(v, key, parent, endpointScoped, base));
    if (value !== null && typeof value === 'object') {
      const object = value as Record<string, unknown>;
      const scoped = endpointScoped || 'Endpoint' in object;
      // The retry logger's lines: when and through which connection are not the server's doing.
      const isLog = 'level' in object && 'caller' in object;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(object)) {
        if (isLog && (k === 'ts' || k === 'took')) out[k] = `<${k}>`;
        else if (isLog && k === 'target') out[k] = '<target>';
        else if (isLog && k === 'size') out[k] = '<size>';
        else out[k] = this.normaliseJson(v, k, object, scoped, base);
      }
      return out;
    }
    if (typeof value === 'number' || typeof value === 'string') {
      return this.normaliseScalar(value, key, parent, endpointScoped, base);
    }
    return value;
  }

  private normaliseScalar(
    value: number | string,
    key: string | null,
    parent: Record<string, unknown> | null,
    endpointScoped: boolean,
    base: number,
  ): unknown {
    const text = String(value);
    const isInteger = /^-?\d+$/.test(text);
    if (isInteger) {
      const member = this.backend.members.get(text);
      if (member !== undefined) {
        if (key === 'member_id' && !endpointScoped) return '<a member>';
        if (key === 'leader' && parent !== null && 'raftIndex' in parent) return '<leader>';
        return `<member ${member}>`;
      }
      if (text === this.backend.clusterId) return '<cluster>';
      if (key === 'ID' || key === 'id' || key === 'lease') {
        const lease = text === '0' ? undefined : this.leaseName(BigInt(text));
        if (lease !== undefined) return lease;
      }
    }
    const n = Number(text);
    if (typeof value === 'number' && key !== null) {
      if (REVISION_KEYS.has(key) && n > 0) return `rev${n - base >= 0 ? '+' : ''}${n - base}`;
      if ((key === 'raft_term' || key === 'raftTerm') && n > 0) return '<term>';
      if ((key === 'raftIndex' || key === 'raftAppliedIndex') && n > 0) return '<index>';
      if ((key === 'dbSize' || key === 'dbSizeInUse') && n > 0) return '<bytes>';
      if (key === 'hash' && parent !== null && 'compact_revision' in parent) return '<hash>';
      if (key === 'ttl' && parent !== null && typeof parent['granted-ttl'] === 'number') {
        if (withinTwoSecondsUnder(n, parent['granted-ttl'])) return '<remaining>';
      }
    }
    if (typeof value === 'string') {
      if (
        key === 'version' &&
        parent !== null &&
        'raftIndex' in parent &&
        /^3\.4\.\d+(\+[\w.-]+)?$/.test(value)
      ) {
        return '<3.4.x>';
      }
      if (key === 'took' && /^[0-9.]+[a-zµ]+$/.test(value)) return '<duration>';
      return this.normaliseText(value);
    }
    return value;
  }
}

const REVISION_KEYS = new Set(['revision', 'create_revision', 'mod_revision', 'compact_revision']);

/** A live lease's remaining TTL a moment after it was granted or renewed (-1, expired, is not). */
function withinTwoSecondsUnder(remaining: number, granted: number): boolean {
  return granted > 0 && remaining > 0 && remaining <= granted && remaining >= granted - 2;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Step hooks for output etcd itself prints in no fixed order. */
export const hooks = {
  /** Sorts stdout and stderr lines (endpoint health prints in completion order). */
  sortLines: ((lines) => ({
    stdout: [...lines.stdout].sort(),
    stderr: [...lines.stderr].sort(),
  })) as StepHook,
  /** Sorts stdout after its first line (lease list: etcd walks a Go map). */
  sortAfterFirst: ((lines) => ({
    stdout: [...lines.stdout.slice(0, 1), ...lines.stdout.slice(1).sort()],
    stderr: lines.stderr,
  })) as StepHook,
  /** Sorts a lease's attached keys (lease timetolive --keys: etcd walks a Go map). */
  sortLeaseKeys: ((lines) => ({
    stdout: lines.stdout.map((line) => {
      if (line.startsWith('{')) {
        const parsed = JSON.parse(line) as { keys?: string[] | null };
        parsed.keys?.sort();
        return JSON.stringify(parsed);
      }
      return line.replace(
        /attached keys\(\[(.*)\]\)$/,
        (_, keys: string) => `attached keys([${keys.split(' ').sort().join(' ')}])`,
      );
    }),
    stderr: lines.stderr,
  })) as StepHook,
} as const;
