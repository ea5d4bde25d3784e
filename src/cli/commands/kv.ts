/** put, get, del and compact. */
import type { Command } from 'commander';
import { deleteJson, getHuman, getJson, putJson, type ValueEncoding } from '../output.js';
import {
  clientCommand,
  nonNegativeInteger,
  positiveInteger,
  print,
  readStdin,
  usage,
  withClient,
  type ClientCommandOptions,
} from './client-command.js';

interface GetOptions extends ClientCommandOptions {
  prefix?: boolean;
  children?: boolean;
  rev?: number;
  limit?: number;
  keysOnly?: boolean;
  countOnly?: boolean;
  serializable?: boolean;
  base64?: boolean;
}

interface DelOptions extends ClientCommandOptions {
  prefix?: boolean;
}

export function registerKvCommands(program: Command): void {
  clientCommand(program, 'put <key> [value]', 'store VALUE at KEY (VALUE from stdin when omitted)')
    .addHelpText('after', '\nExamples:\n  raftree put /config/a hello\n  echo hello | raftree put /config/a')
    .action(async (key: string, value: string | undefined, options: ClientCommandOptions) => {
      requireKey(key);
      const text = value ?? (process.stdin.isTTY ? undefined : await readStdin());
      if (text === undefined) throw usage('put needs a VALUE argument (or a value on stdin)');
      const result = await withClient(options, (client) => client.put(key, text));
      print(
        options,
        () => putJson(result),
        () => `OK (revision ${result.revision})\n`,
      );
    });

  clientCommand(program, 'get <key>', 'read a key, every key under a prefix, or the children of a path')
    .option('--prefix', 'every key starting with KEY')
    .option('--children', 'the direct children of the path KEY')
    .option('--rev <n>', 'read as of revision N (0 = current)', nonNegativeInteger)
    .option('--limit <n>', 'at most N keys', positiveInteger)
    .option('--keys-only', 'keys without values')
    .option('--count-only', 'only the number of matching keys')
    .option('--serializable', "read this node's local state: faster, possibly stale")
    .option('--base64', 'print values base64-encoded (for binary values)')
    .addHelpText(
      'after',
      '\nExamples:\n  raftree get /config/a\n  raftree get /config/ --prefix --json\n  raftree get /services --children',
    )
    .action(async (key: string, options: GetOptions) => {
      requireKey(key);
      if (options.prefix === true && options.children === true)
        throw usage('choose --prefix or --children, not both');
      const encoding: ValueEncoding = options.base64 === true ? 'base64' : 'utf8';
      const result = await withClient(options, (client) =>
        client.get(key, {
          prefix: options.prefix ?? false,
          children: options.children ?? false,
          revision: options.rev ?? 0,
          limit: options.limit ?? 0,
          keysOnly: options.keysOnly ?? false,
          countOnly: options.countOnly ?? false,
          serializable: options.serializable ?? false,
        }),
      );
      print(
        options,
        () =>
          getJson(result, {
            encoding,
            countOnly: options.countOnly ?? false,
            children: options.children ?? false,
          }),
        () =>
          getHuman(result, {
            keysOnly: options.keysOnly ?? false,
            countOnly: options.countOnly ?? false,
            encoding,
          }),
      );
      if (result.more && options.json !== true) {
        process.stderr.write(
          `raftree: ${result.count} keys match; showing the first ${options.limit ?? 0}\n`,
        );
      }
    });

  clientCommand(program, 'del <key>', 'delete a key, or every key under a prefix')
    .alias('delete')
    .option('--prefix', 'delete every key starting with KEY')
    .action(async (key: string, options: DelOptions) => {
      requireKey(key);
      const result = await withClient(options, (client) =>
        client.delete(key, { prefix: options.prefix ?? false }),
      );
      print(
        options,
        () => deleteJson(result),
        () =>
          `deleted ${result.deleted} key${result.deleted === 1 ? '' : 's'} (revision ${result.revision})\n`,
      );
    });

  clientCommand(program, 'compact <revision>', 'discard the history before REVISION').action(
    async (revision: string, options: ClientCommandOptions) => {
      let target: number;
      try {
        target = positiveInteger(revision);
      } catch {
        throw usage(`compact: REVISION must be a positive integer, got "${revision}"`);
      }
      const result = await withClient(options, (client) => client.compact(target));
      print(
        options,
        () => ({ revision: result.revision, compactRevision: target }),
        () => `compacted history before revision ${target} (current revision ${result.revision})\n`,
      );
    },
  );
}

export function requireKey(key: string): void {
  if (key === '') throw usage('KEY must not be empty');
}
