import type { Command } from 'commander';
import { registerServe } from './serve.js';
import { registerKvCommands } from './kv.js';
import { registerTxnCommand } from './txn.js';
import { registerWatchCommand } from './watch.js';
import { registerClusterCommands } from './cluster.js';

export function registerCommands(program: Command): void {
  registerServe(program);
  registerKvCommands(program);
  registerTxnCommand(program);
  registerWatchCommand(program);
  registerClusterCommands(program);
}
