/**
 * Key ordering and the path vocabulary of the tree view (`/a/b/c`: parent `/a/b`, child name `c`).
 */

/**
 * Orders keys by Unicode code point, which equals the byte order of their UTF-8 encoding (the
 * order etcd and any byte-oriented client use). Plain `<` compares UTF-16 code units and
 * disagrees only when a surrogate (U+D800..U+DFFF, half of a character above U+FFFF) meets a
 * unit in U+E000..U+FFFF, so only that case is remapped.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = remapHighUnit(x);
        y = remapHighUnit(y);
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Moves surrogates above U+E000..U+FFFF while keeping each group's internal order. */
function remapHighUnit(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** The prefix every direct child of `path` starts with: `path` plus a trailing `/` (once). */
export function childPrefixOf(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}

/**
 * The child prefix of the path `key` sits directly under (`/a/b/c` → `/a/b/`), or undefined when
 * `key` has no `/` or ends with one (it names no child).
 */
export function parentPrefixOf(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  if (slash === -1 || slash === key.length - 1) return undefined;
  return key.slice(0, slash + 1);
}

/**
 * The smallest string that sorts after every key starting with `prefix + '/'`: `/` is 0x2F and
 * `0` is 0x30, so seeking here skips a whole subtree in one step.
 */
export function afterSubtree(prefix: string): string {
  return `${prefix}0`;
}

// ---------------------------------------------------------------------------------------------
// Tree paths (ZooKeeper semantics, for create and deleteNode)

/** The tree's root. It always exists, is never ephemeral and cannot be created or deleted. */
export const ROOT_PATH = '/';

/**
 * Why `path` is not a well-formed absolute node path, or undefined if it is one: it starts with
 * `/`, is not `/` itself, does not end with `/`, and has no empty, `.` or `..` segment and no NUL.
 */
export function pathProblem(path: string): string | undefined {
  if (path.length === 0) return 'a path must not be empty';
  if (!path.startsWith('/')) return "a path must be absolute (start with '/')";
  if (path === ROOT_PATH) return "the root '/' always exists and cannot be created or deleted";
  if (path.endsWith('/')) return "a path must not end with '/'";
  if (path.includes('\u0000')) return 'a path must not contain the NUL character';
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') return "a path must not contain an empty segment ('//')";
    if (segment === '.' || segment === '..') return `a path must not contain a '${segment}' segment`;
  }
  return undefined;
}

/** The parent of a well-formed path: `/a/b` → `/a`, `/a` → `/`. */
export function parentPathOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? ROOT_PATH : path.slice(0, slash);
}

/** Digits of a sequential node's suffix (zero-padded; a counter past 9 999 999 999 just gets longer). */
export const SEQUENCE_DIGITS = 10;

/** `base` with the counter `sequence` appended: (`/locks/lock-`, 7) → `/locks/lock-0000000007`. */
export function sequentialPath(base: string, sequence: number): string {
  return base + String(sequence).padStart(SEQUENCE_DIGITS, '0');
}
