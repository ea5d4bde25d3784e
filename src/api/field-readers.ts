/**
 * Readers for fields of decoded proto requests. proto-loader fills defaults, but a hand-rolled
 * client can still send a field of the wrong type: each reader turns that into INVALID_ARGUMENT
 * naming the field, and an absent field into its proto default.
 */
import { invalidArgument } from './errors.js';

export function text(value: unknown, what: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalidArgument(`${what} must be a string`);
  return value;
}

export function flag(value: unknown, what: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw invalidArgument(`${what} must be a boolean`);
  return value;
}

export function bytes(value: unknown, what: string): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (!(value instanceof Uint8Array)) throw invalidArgument(`${what} must be bytes`);
  return value;
}

export function integer(value: unknown, what: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalidArgument(`${what} must be an integer of magnitude below 2^53, got ${String(value)}`);
  }
  return value;
}
