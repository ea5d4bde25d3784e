import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly nodeId: string;
  readonly level?: string;
}

/**
 * Structured JSON logs on stderr, written synchronously: a node killed with SIGKILL must not
 * lose the lines that explain what it was doing (pino's async destinations can).
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    { level: options.level ?? process.env['RAFTREE_LOG_LEVEL'] ?? 'info', base: { node: options.nodeId } },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
