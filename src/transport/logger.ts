/**
 * The slice of a pino logger the transport uses. A `pino.Logger` satisfies it; so does a
 * hand-rolled test spy. The default is silent: a library should not write to stdout unasked.
 */
export interface TransportLogger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

const ignore = (): void => {};

export const silentLogger: TransportLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
