import type { Command } from 'commander';
import { registerServe } from './serve.js';

export function registerCommands(program: Command): void {
  registerServe(program);
}
