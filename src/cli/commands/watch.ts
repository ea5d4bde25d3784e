/** `raftree watch`: prints each event until Ctrl-C (or until the watch fails for good). */
import type { Command } from 'commander';
import { RaftreeClient, type WatchEvent } from '../../client/index.js';
import { CliError } from '../cli-error.js';
import { oneLine, watchEventHuman, watchEventJson, type ValueEncoding } from '../output.js';
import {
  clientCommand,
  nonNegativeInteger,
  parseEndpoints,
  toCliError,
  usage,
  type ClientCommandOptions,
} from './client-command.js';
import { requireKey } from './kv.js';

interface WatchOptions extends ClientCommandOptions {
  prefix?: boolean;
  children?: boolean;
  rev?: number;
  prevKv?: boolean;
  base64?: boolean;
}

export function registerWatchCommand(program: Command): void {
  clientCommand(
    program,
    'watch <key>',
    'print changes to a key, a prefix or the children of a path, until Ctrl-C',
  )
    .option('--prefix', 'every key starting with KEY')
    .option('--children', 'the direct children of the path KEY')
    .option('--rev <n>', 'replay history from revision N first (0 = from now)', nonNegativeInteger)
    .option('--prev-kv', "include each key's previous value")
    .option('--base64', 'print values base64-encoded')
    .addHelpText(
      'after',
      '\nOne line per event; with --json one JSON object per line. The watch resumes on another\n' +
        'node when the one it uses fails, without missing or repeating events.\n\n' +
        'Examples:\n  raftree watch /config/ --prefix\n  raftree watch /a --rev 1 --prev-kv --json',
    )
    .action(async (key: string, options: WatchOptions) => {
      requireKey(key);
      if (options.prefix === true && options.children === true)
        throw usage('choose --prefix or --children, not both');
      await runWatch(key, options);
    });
}

async function runWatch(key: string, options: WatchOptions): Promise<void> {
  const encoding: ValueEncoding = options.base64 === true ? 'base64' : 'utf8';
  const client = new RaftreeClient({
    endpoints: parseEndpoints(options.endpoints),
    deadlineMs: options.timeout,
  });
  const watcher = client.watch(key, {
    prefix: options.prefix ?? false,
    children: options.children ?? false,
    startRevision: options.rev ?? 0,
    prevKv: options.prevKv ?? false,
  });
  const stop = () => watcher.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A reader that went away (| head) ends the watch quietly.
  process.stdout.on('error', stop);
  // Diagnostics go to stderr in both modes: stdout carries only events.
  let announced = false;
  watcher.on('created', (info) => {
    if (announced) return;
    announced = true;
    process.stderr.write(
      `raftree: watching ${key} on ${info.endpoint} (store at revision ${info.headerRevision})\n`,
    );
  });
  watcher.on('reconnecting', (info) => {
    process.stderr.write(
      `raftree: watch lost ${info.failedEndpoint} (${oneLine(info.error.message)}); resuming\n`,
    );
  });
  const line = (event: WatchEvent) =>
    options.json === true
      ? `${JSON.stringify(watchEventJson(event, encoding))}\n`
      : watchEventHuman(event, encoding);
  try {
    for await (const event of watcher) process.stdout.write(line(event));
  } catch (error) {
    const cliError = toCliError(error);
    throw cliError instanceof CliError ? cliError : error;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    client.close();
  }
}
