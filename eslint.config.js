// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The pure layers: no I/O, no timers, no wall clock, no unseeded randomness. */
const purityFence = {
  files: ['src/raft/**/*.ts', 'src/state-machine/**/*.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          { group: ['node:*', 'fs', 'net', 'http', 'http2', 'child_process', 'dgram', 'timers', 'os'], message: 'The pure core does no I/O.' },
          { group: ['@grpc/*', 'classic-level', 'pino', 'prom-client'], message: 'The pure core does no I/O.' },
        ],
      },
    ],
    'no-restricted-properties': [
      'error',
      { object: 'Math', property: 'random', message: 'Inject a seeded Random.' },
      { object: 'Date', property: 'now', message: 'Time is ticks, injected by the host.' },
      { object: 'performance', property: 'now', message: 'Time is ticks, injected by the host.' },
      { object: 'process', property: 'hrtime', message: 'Time is ticks, injected by the host.' },
    ],
    'no-restricted-globals': [
      'error',
      { name: 'setTimeout', message: 'The core has no timers.' },
      { name: 'setInterval', message: 'The core has no timers.' },
      { name: 'setImmediate', message: 'The core has no timers.' },
      { name: 'Date', message: 'Time is ticks, injected by the host.' },
      { name: 'process', message: 'The core does not touch the process.' },
    ],
    'no-restricted-syntax': [
      'error',
      { selector: ':function[async=true]', message: 'The core is synchronous: it never suspends.' },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'bench-results/**', 'chaos-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  purityFence,
);
