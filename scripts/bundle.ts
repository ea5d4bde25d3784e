/**
 * Bundles the compiled CLI (dist/src/cli/main.js) and its dependencies into one file,
 * dist/raftree.mjs, which is what `raftree`, `npm start`, the tests and the bench run.
 *
 * Why: Node spends most of a process's start resolving and reading hundreds of module files.
 * From one file, a node on an empty data directory answers /status 0.31-0.41 s after spawn
 * instead of 0.52-0.62 s, and a node restarting alone on 100,000 keys serves ~120 ms sooner
 * (median; docs/benchmarks.md). Client commands gain little more than serve's lazy import of
 * the node already gives them. classic-level stays outside (a native addon, loaded from
 * node_modules). The code is neither minified nor renamed, so stack traces keep their function
 * names; the source map (run with --enable-source-maps) gives the original lines.
 */
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'main.js')],
  outfile: join(root, 'dist', 'raftree.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['classic-level'],
  sourcemap: 'linked',
  logLevel: 'warning',
  // The CommonJS dependencies (grpc-js, protobufjs, ...) call require(); an ES module has none.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
});
