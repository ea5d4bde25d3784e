/** `raftree txn`: compares and ops from --if/--then/--else, or a script on stdin. */
import type { Command } from 'commander';
import type { TxnRequest } from '../../client/index.js';
import { txnHuman, txnJson, type ValueEncoding } from '../output.js';
import { parseTxnArgs, parseTxnScript, TxnSyntaxError } from '../txn-syntax.js';
import {
  clientCommand,
  print,
  readStdin,
  usage,
  withClient,
  type ClientCommandOptions,
} from './client-command.js';

interface TxnOptions extends ClientCommandOptions {
  if: string[];
  then: string[];
  else: string[];
  base64?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const HELP = `
Compares: TARGET(KEY) OP VALUE
  TARGET  value | version | create | mod      OP  = | != | < | >
  e.g.    version(/a) = 0    value(/a) != "some text"    mod(/a) < 42
Ops:
  put KEY VALUE
  get KEY [--prefix|--children] [--rev N] [--limit N] [--keys-only] [--count-only]
  del KEY [--prefix]
Quote values with spaces ("double" with JSON escapes, or 'single').

Without --if/--then/--else the transaction is read from stdin: compares, a blank line,
success ops, a blank line, failure ops (one per line, # starts a comment).

Examples:
  raftree txn --if 'version(/a) = 0' --then 'put /a 1' --else 'get /a'
  printf 'value(/a) = "1"\\n\\nput /a 2\\n\\nget /a\\n' | raftree txn
`;

export function registerTxnCommand(program: Command): void {
  clientCommand(
    program,
    'txn',
    'compare-and-swap: if every compare holds run the --then ops, else the --else ops',
  )
    .option('--if <compare>', 'a compare (repeatable; all must hold)', collect, [])
    .option('--then <op>', 'an op to run when the compares hold (repeatable)', collect, [])
    .option('--else <op>', 'an op to run otherwise (repeatable)', collect, [])
    .option('--base64', 'print values base64-encoded')
    .addHelpText('after', HELP)
    .action(async (options: TxnOptions) => {
      const request = await readRequest(options);
      const encoding: ValueEncoding = options.base64 === true ? 'base64' : 'utf8';
      const result = await withClient(options, (client) => client.txn(request));
      print(
        options,
        () => txnJson(result, encoding),
        () => txnHuman(result, encoding),
      );
    });
}

async function readRequest(options: TxnOptions): Promise<TxnRequest> {
  const fromArgs = options.if.length + options.then.length + options.else.length > 0;
  try {
    if (fromArgs) return parseTxnArgs(options.if, options.then, options.else);
    if (process.stdin.isTTY) {
      throw usage("txn needs --if/--then/--else, or a script on stdin (see 'raftree txn --help')");
    }
    const request = parseTxnScript(await readStdin());
    if ((request.success?.length ?? 0) + (request.failure?.length ?? 0) === 0) {
      throw usage(
        'txn: the script on stdin has no ops (compares, blank line, success ops, blank line, failure ops)',
      );
    }
    return request;
  } catch (error) {
    if (error instanceof TxnSyntaxError) throw usage(`txn: ${error.message}`);
    throw error;
  }
}
