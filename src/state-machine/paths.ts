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
