import type { Command } from 'commander';
import { registerServe } from './serve.js';
import { registerKvCommands } from './kv.js';
import { registerTxnCommand } from './txn.js';
import { registerWatchCommand } from './watch.js';
import { registerClusterCommands } from './cluster.js';
import { registerSessionCommands } from './session.js';
import { registerTreeCommands } from './tree.js';
import { registerElectCommand } from './elect.js';
import { registerLockCommand } from './lock.js';
import { registerServiceCommands } from './service.js';

export function registerCommands(program: Command): void {
  registerServe(program);
  registerKvCommands(program);
  registerTxnCommand(program);
  registerWatchCommand(program);
  registerClusterCommands(program);
  registerSessionCommands(program);
  registerTreeCommands(program);
  registerElectCommand(program);
  registerLockCommand(program);
  registerServiceCommands(program);
}
