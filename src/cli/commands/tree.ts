/** `raftree create`, `raftree ls`, `raftree stat`: the ZooKeeper-style tree. */
import type { Command } from 'commander';
import { encodeValue } from '../output.js';
import {
  clientCommand,
  positiveInteger,
  print,
  readStdin,
  usage,
  withClient,
  type ClientCommandOptions,
} from './client-command.js';

interface CreateOptions extends ClientCommandOptions {
  ephemeral?: number;
  sequential?: boolean;
  parents?: boolean;
}

interface ReadOptions extends ClientCommandOptions {
  serializable?: boolean;
}

function requirePath(path: string): void {
  if (path === '') throw usage('PATH must not be empty: give an absolute path like /app/config');
}

export function registerTreeCommands(program: Command): void {
  clientCommand(
    program,
    'create <path> [value]',
    'create a node: its parent must exist (or --parents); optionally ephemeral and sequential',
  )
    .option('--ephemeral <session>', 'owned by session ID: deleted when the session ends', positiveInteger)
    .option('--sequential', 'append a 10-digit, per-parent, increasing counter to the name')
    .option('--parents', 'create missing ancestors (like mkdir -p)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  raftree create /app/config "{}" --parents\n' +
        '  raftree create /workers/w- host-a --ephemeral 7 --sequential   # /workers/w-0000000003',
    )
    .action(async (path: string, value: string | undefined, options: CreateOptions) => {
      requirePath(path);
      const text = value ?? (process.stdin.isTTY ? '' : await readStdin());
      const result = await withClient(options, (client) =>
        client.create(path, text, {
          ...(options.ephemeral !== undefined ? { session: options.ephemeral } : {}),
          sequential: options.sequential ?? false,
          parents: options.parents ?? false,
        }),
      );
      print(
        options,
        () => ({ path: result.path, createRevision: result.createRevision, revision: result.revision }),
        () => `created ${result.path} (revision ${result.revision})\n`,
      );
    });

  clientCommand(program, 'ls <path>', 'list the children of PATH, sorted')
    .option('--serializable', "read this node's local state: faster, possibly stale")
    .action(async (path: string, options: ReadOptions) => {
      requirePath(path);
      const names = await withClient(options, (client) =>
        client.children(path, { serializable: options.serializable ?? false }),
      );
      print(
        options,
        () => ({ path, children: names }),
        () => (names.length === 0 ? '' : `${names.join('\n')}\n`),
      );
    });

  clientCommand(program, 'stat <path>', "a node's versions, owner session, children count and value")
    .option('--serializable', "read this node's local state: faster, possibly stale")
    .action(async (path: string, options: ReadOptions) => {
      requirePath(path);
      const stat = await withClient(options, (client) =>
        client.stat(path, { serializable: options.serializable ?? false }),
      );
      print(
        options,
        () =>
          stat === undefined
            ? { path, exists: false }
            : {
                path,
                exists: true,
                createRevision: stat.createRevision,
                modRevision: stat.modRevision,
                version: stat.version,
                sessionId: stat.sessionId,
                numChildren: stat.numChildren,
                dataLength: stat.dataLength,
                value: encodeValue(stat.value, 'utf8'),
              },
        () =>
          stat === undefined
            ? `${path} does not exist\n`
            : [
                `path:           ${path}`,
                `createRevision: ${stat.createRevision}`,
                `modRevision:    ${stat.modRevision}`,
                `version:        ${stat.version}`,
                `ephemeral:      ${stat.ephemeral ? `yes (session ${stat.sessionId})` : 'no'}`,
                `children:       ${stat.numChildren}`,
                `dataLength:     ${stat.dataLength}`,
                `value:          ${encodeValue(stat.value, 'utf8')}`,
                '',
              ].join('\n'),
      );
    });
}
