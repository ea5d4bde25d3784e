/** `raftree session grant|keepalive|revoke|list|info`. */
import type { Command } from 'commander';
import { RaftreeClient, type SessionInfo } from '../../client/index.js';
import { CliError } from '../cli-error.js';
import { oneLine, renderTable } from '../output.js';
import {
  clientCommand,
  parseEndpoints,
  print,
  toCliError,
  usage,
  usageErrorsExitWith2,
  withClient,
  type ClientCommandOptions,
} from './client-command.js';
import { onInterrupt } from './interrupt.js';

/**
 * A duration: plain seconds (`10`, `1.5`) or with a unit (`10s`, `1500ms`, `2m`). Returns ms.
 * Zero, negative and malformed values are usage errors.
 */
export function parseDuration(text: string, what: string): number {
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (match === null) {
    throw usage(`${what} "${text}" is not a duration: give seconds (10), or a unit (10s, 1500ms, 2m)`);
  }
  const amount = Number(match[1]);
  const unit = match[2] ?? 's';
  const ms = Math.round(amount * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000));
  if (!(ms > 0)) throw usage(`${what} must be positive, got "${text}"`);
  return ms;
}

/** A session id argument. */
export function parseSessionId(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw usage(
      `session ID must be a positive integer (as printed by 'raftree session grant'), got "${text}"`,
    );
  }
  return Number(text);
}

/** 10000 → "10s", 1500 → "1.5s". */
export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(ms % 100 === 0 ? 1 : 3)}s`;
}

function sessionJson(info: SessionInfo): object {
  return { id: info.id, ttlMs: info.ttlMs, remainingMs: info.remainingMs, keys: info.keys };
}

function sessionsHuman(sessions: readonly SessionInfo[]): string {
  return renderTable(
    ['ID', 'TTL', 'REMAINING', 'KEYS'],
    sessions.map((s) => [String(s.id), formatMs(s.ttlMs), formatMs(s.remainingMs), s.keys.join(' ') || '-']),
  );
}

export function registerSessionCommands(program: Command): void {
  const session = program
    .command('session')
    .description('sessions (leases): grant, keep alive, revoke, list; ephemeral nodes die with them');
  usageErrorsExitWith2(session);

  clientCommand(session, 'grant <ttl>', 'open a session with time-to-live TTL (seconds: 10, 10s, 1500ms, 2m)')
    .addHelpText(
      'after',
      '\nThe session expires TTL after its last keep-alive; nobody keeps it alive until\n' +
        "'raftree session keepalive ID' runs (or a client does).\n\n" +
        'Examples:\n  raftree session grant 10\n  raftree session grant 30s --json   # {"id":7,"ttlMs":30000}',
    )
    .action(async (ttl: string, options: ClientCommandOptions) => {
      const ttlMs = parseDuration(ttl, 'TTL');
      const granted = await withClient(options, (client) => client.grantSession(ttlMs));
      print(
        options,
        () => ({ id: granted.id, ttlMs: granted.ttlMs }),
        () => `session ${granted.id} granted with TTL ${formatMs(granted.ttlMs)}\n`,
      );
    });

  clientCommand(session, 'keepalive <id>', 'keep session ID alive until Ctrl-C').action(
    async (id: string, options: ClientCommandOptions) => {
      await keepAlive(parseSessionId(id), options);
    },
  );

  clientCommand(session, 'revoke <id>', 'close session ID: its ephemeral nodes are deleted at once')
    .alias('close')
    .action(async (id: string, options: ClientCommandOptions) => {
      const sessionId = parseSessionId(id);
      const deleted = await withClient(options, (client) => client.revokeSession(sessionId));
      print(
        options,
        () => ({ id: sessionId, deletedKeys: deleted }),
        () =>
          `session ${sessionId} revoked (${deleted.length} ephemeral key${deleted.length === 1 ? '' : 's'} deleted)\n`,
      );
    });

  clientCommand(session, 'list', 'every open session with its TTL, remaining time and keys').action(
    async (options: ClientCommandOptions) => {
      const sessions = await withClient(options, (client) => client.sessions());
      print(
        options,
        () => ({ sessions: sessions.map(sessionJson) }),
        () => (sessions.length === 0 ? 'no open sessions\n' : sessionsHuman(sessions)),
      );
    },
  );

  clientCommand(session, 'info <id>', "one session's TTL, remaining time and ephemeral keys").action(
    async (id: string, options: ClientCommandOptions) => {
      const sessionId = parseSessionId(id);
      const info = await withClient(options, (client) => client.sessionInfo(sessionId));
      print(
        options,
        () => sessionJson(info),
        () => sessionsHuman([info]),
      );
    },
  );
}

async function keepAlive(id: number, options: ClientCommandOptions): Promise<void> {
  const client = new RaftreeClient({
    endpoints: parseEndpoints(options.endpoints),
    deadlineMs: options.timeout,
  });
  try {
    const session = await client.sessionById(id).catch((error: unknown) => {
      throw toCliError(error);
    });
    session.on('keepalive', (info) =>
      print(
        options,
        () => ({ id, ttlMs: info.ttlMs }),
        () => `session ${id} kept alive with TTL ${formatMs(info.ttlMs)}\n`,
      ),
    );
    session.on('reconnecting', (info) =>
      process.stderr.write(
        `raftree: keep-alive lost ${info.endpoint} (${oneLine(info.error.message)}); reconnecting\n`,
      ),
    );
    const interrupt = onInterrupt();
    const outcome = await Promise.race([
      interrupt.signalled.then(() => 'interrupted' as const),
      session.whenLost(),
    ]);
    interrupt.dispose();
    // Ctrl-C stops keeping it alive; it then expires after its TTL (revoke ends it at once).
    session.stopLocally();
    if (outcome !== 'interrupted') throw new CliError(`session ${id} lost: ${oneLine(outcome.message)}`);
  } finally {
    client.close();
  }
}
