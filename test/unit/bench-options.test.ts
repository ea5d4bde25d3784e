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
