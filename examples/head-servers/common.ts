/**
 * What the head-server example's programs share: the tree layout (the seed's ZooKeeper
 * layout, on raftree), a tiny flag parser and the JSON the head servers write.
 *
 *   /distributed_file_grid/
 *   ├── head_servers/<id>      ephemeral: one per live head server (its session)
 *   ├── monitors/<id>          ephemeral: one per running monitor
 *   ├── leader                 ephemeral: the elected head server (written by the leader itself)
 *   └── health_reports/<id>    the latest health report of each head server
 *
 * The election itself is raftree's (the ZooKeeper recipe under /_election/distributed_file_grid:
 * sequential ephemeral candidates, the lowest leads, each waiter watches only its predecessor).
 */
import { RaftreeError } from '../../src/client/index.js';

export const ROOT = '/distributed_file_grid';
export const HEAD_SERVERS = `${ROOT}/head_servers`;
export const MONITORS = `${ROOT}/monitors`;
export const LEADER = `${ROOT}/leader`;
export const HEALTH_REPORTS = `${ROOT}/health_reports`;
/** The election's name (candidates live under /_election/distributed_file_grid). */
export const ELECTION = 'distributed_file_grid';
/** The service name head servers register under in the service registry. */
export const SERVICE = 'head_servers';

export const DEFAULT_ENDPOINTS = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';

export interface HeadServerInfo {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly startedAt: string;
}

export interface LeaderInfo {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** The election candidate's create revision: it only grows from one leader to the next. */
  readonly fencingToken: number;
  readonly since: string;
}

export interface HealthReport {
  readonly id: string;
  readonly role: 'leader' | 'follower';
  readonly leader: string | null;
  readonly uptimeSeconds: number;
  readonly rssBytes: number;
  readonly loadAverage: number;
  readonly reportedAt: string;
  readonly sequence: number;
}

/** `--name value` / `--flag` pairs; unknown flags are an error naming the known ones. */
export function parseFlags(
  argv: readonly string[],
  known: Readonly<Record<string, 'string' | 'boolean'>>,
): Record<string, string | boolean> {
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
    const name = arg.slice(2);
    const kind = known[name];
    if (kind === undefined) {
      throw new Error(
        `unknown flag --${name}; known: ${Object.keys(known)
          .map((k) => `--${k}`)
          .join(' ')}`,
      );
    }
    if (kind === 'boolean') {
      flags[name] = true;
    } else {
      const value = argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      flags[name] = value;
    }
  }
  return flags;
}

export function positive(value: string | boolean | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`${what} must be a positive number, got ${String(value)}`);
  return n;
}

export function parseJson<T>(bytes: Uint8Array): T | undefined {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

export function isCode(error: unknown, code: RaftreeError['code']): boolean {
  return error instanceof RaftreeError && error.code === code;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
