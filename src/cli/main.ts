#!/usr/bin/env node
/**
 * The `raftree` command: `serve` runs a node; the other commands are clients of a cluster.
 * Each command lives in its own module under ./commands and registers itself here.
 */
import { Command, CommanderError } from 'commander';
import { raftreeVersion } from '../api/version.js';
import { registerCommands } from './commands/index.js';
import { CliError } from './cli-error.js';

const program = new Command();
program
  .name('raftree')
  .description('A strongly consistent, Raft-replicated key-value and coordination store')
  .version(raftreeVersion(), '-V, --version', "print raftree's version")
  .showHelpAfterError()
  .exitOverride();
registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else if (error instanceof CliError) {
    process.stderr.write(`raftree: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`raftree: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
