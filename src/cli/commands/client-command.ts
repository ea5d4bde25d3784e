/**
 * What every client command shares: --endpoints / --json / --timeout, one-line usage errors
 * with exit code 2, a client that is always closed, and RaftreeErrors turned into one-line
 * CliErrors (exit code 1).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { RaftreeClient, RaftreeError } from '../../client/index.js';
import { CliError } from '../cli-error.js';
import { oneLine } from '../output.js';

export const DEFAULT_ENDPOINTS = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';
export const USAGE_EXIT_CODE = 2;

export interface ClientCommandOptions {
  endpoints: string;
  json?: boolean;
  timeout: number;
}

/** Adds the shared options and one-line usage errors to a client (leaf) command. */
export function clientCommand(parent: Command, nameAndArgs: string, description: string): Command {
  const command = parent.command(nameAndArgs).description(description);
  usageErrorsExitWith2(command);
  return command
    .addOption(
      new Option('--endpoints <list>', 'comma-separated HOST:PORT of cluster members')
        .env('RAFTREE_ENDPOINTS')
        .default(DEFAULT_ENDPOINTS),
    )
    .option('--json', 'print JSON (for scripts)')
    .addOption(
      new Option('--timeout <ms>', 'deadline of each request, retries included')
        .argParser(positiveInteger)
        .default(5_000),
    );
}

/** Usage errors: one line on stderr naming the problem and where to look, exit code 2. */
export function usageErrorsExitWith2(command: Command): Command {
  return command
    .showHelpAfterError(false)
    .configureOutput({
      outputError: (text, write) =>
        write(
          `raftree: ${oneLine(text.replace(/^error: /, ''))} (see 'raftree ${commandPath(command)} --help')\n`,
        ),
    })
    .exitOverride((error) => {
      // --help and --version are not errors.
      if (error.exitCode === 0) throw error;
      throw new CommanderError(USAGE_EXIT_CODE, error.code, error.message);
    });
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null && c.parent !== null; c = c.parent)
    names.unshift(c.name());
  return names.join(' ');
}

export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('expected a positive integer.');
  }
  return Number(value);
}

export function nonNegativeInteger(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('expected a non-negative integer.');
  }
  return Number(value);
}

export function parseEndpoints(list: string): string[] {
  const endpoints = list
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (endpoints.length === 0) throw new CliError('--endpoints is empty: list HOST:PORT,...', USAGE_EXIT_CODE);
  for (const endpoint of endpoints) {
    if (!/^[^\s:]+:\d{1,5}$/.test(endpoint) && !/^\[[^\]]+\]:\d{1,5}$/.test(endpoint)) {
      throw new CliError(
        `--endpoints: "${endpoint}" is not HOST:PORT (e.g. 127.0.0.1:7001)`,
        USAGE_EXIT_CODE,
      );
    }
  }
  return endpoints;
}

/** Runs `body` with a client for the command's --endpoints, closing it afterwards. */
export async function withClient<T>(
  options: ClientCommandOptions,
  body: (client: RaftreeClient) => Promise<T>,
): Promise<T> {
  const client = new RaftreeClient({
    endpoints: parseEndpoints(options.endpoints),
    deadlineMs: options.timeout,
  });
  try {
    return await body(client);
  } catch (error) {
    throw toCliError(error);
  } finally {
    client.close();
  }
}

export function toCliError(error: unknown): unknown {
  if (error instanceof RaftreeError) {
    const exitCode = error.code === 'INVALID_ARGUMENT' && error.endpoint === undefined ? USAGE_EXIT_CODE : 1;
    return new CliError(oneLine(error.message), exitCode);
  }
  return error;
}

export function usage(message: string): CliError {
  return new CliError(message, USAGE_EXIT_CODE);
}

/** Prints one JSON document (a line) or human text. */
export function print(options: { json?: boolean }, json: () => unknown, human: () => string): void {
  process.stdout.write(options.json === true ? `${JSON.stringify(json())}\n` : human());
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
