import { describe, expect, it } from 'vitest';
import { parseBenchOptions, UsageError } from '../../bench/options.js';

describe('npm run bench options: --node-flags', () => {
  it('passes no extra flags by default', () => {
    expect(parseBenchOptions([]).nodeFlags).toEqual([]);
  });

  it('splits the flags on spaces, in order', () => {
    // parseArgs takes a value that starts with a dash only in the --name=value form.
    const options = parseBenchOptions(['--node-flags= --max-semi-space-size=64   --trace-gc ']);
    expect(options.nodeFlags).toEqual(['--max-semi-space-size=64', '--trace-gc']);
  });

  it.each([
    ['', 'needs at least one flag'],
    ['script.js', '"script.js" is not a node option'],
    ['--max-semi-space-size=64 -e', '"-e" is not a node option'],
  ])('refuses %j with a usage error', (text, message) => {
    expect(() => parseBenchOptions([`--node-flags=${text}`])).toThrow(UsageError);
    expect(() => parseBenchOptions([`--node-flags=${text}`])).toThrow(message);
  });
});

describe('npm run bench options: --rounds', () => {
  it('runs every row once by default', () => {
    expect(parseBenchOptions([]).rounds).toBe(1);
  });

  it('takes a whole number of rounds', () => {
    expect(parseBenchOptions(['--rounds', '3']).rounds).toBe(3);
  });

  it.each(['0', '11', '2.5', 'three', '-1'])('refuses %j with a usage error', (text) => {
    expect(() => parseBenchOptions([`--rounds=${text}`])).toThrow(UsageError);
    expect(() => parseBenchOptions([`--rounds=${text}`])).toThrow(
      '--rounds must be a whole number from 1 to 10',
    );
  });
});
