/**
 * The `raftree txn` language, one compare or op per string:
 *
 *   compares   value(/a) = "hello"     version(/a) = 0     create(/a) > 5     mod(/a) != 7
 *              targets: value, version, create (createRevision), mod (modRevision)
 *              operators: =  ==  !=  <  >
 *   ops        put /a "hello world"
 *              get /a [--prefix | --children] [--rev N] [--limit N] [--keys-only] [--count-only]
 *              del /a [--prefix]                (also: delete)
 *
 * Words split on spaces; "double quotes" allow spaces and JSON escapes (\" \\ \n \t \u00e9),
 * 'single quotes' are literal. Keys in a compare may be quoted too: value("/odd key") = x.
 *
 * From stdin (etcdctl's layout): compares, a blank line, success ops, a blank line, failure
 * ops; one per line; lines starting with # are comments.
 */
import type {
  Compare,
  CompareOperator,
  CompareTarget,
  TxnGetOptions,
  TxnOp,
  TxnRequest,
} from '../client/index.js';

export class TxnSyntaxError extends Error {
  override readonly name = 'TxnSyntaxError';
}

/** Splits a line into words, honouring quotes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    const ch = line[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    let word = '';
    while (i < line.length && !/\s/.test(line[i]!)) {
      const c = line[i]!;
      if (c === '"') {
        const { text, end } = readDoubleQuoted(line, i);
        word += text;
        i = end;
      } else if (c === "'") {
        const close = line.indexOf("'", i + 1);
        if (close < 0) throw new TxnSyntaxError(`unterminated ' quote in: ${line}`);
        word += line.slice(i + 1, close);
        i = close + 1;
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
  return words;
}

/** Reads a "..." string starting at `start` (the quote); returns its text and the index after it. */
function readDoubleQuoted(line: string, start: number): { text: string; end: number } {
  let i = start + 1;
  while (i < line.length && line[i] !== '"') i += line[i] === '\\' ? 2 : 1;
  if (i >= line.length) throw new TxnSyntaxError(`unterminated " quote in: ${line}`);
  const literal = line.slice(start, i + 1);
  try {
    return { text: JSON.parse(literal) as string, end: i + 1 };
  } catch {
    throw new TxnSyntaxError(`bad escape in ${literal} (use JSON escapes: \\" \\\\ \\n \\t \\uXXXX)`);
  }
}

const TARGETS: Record<string, CompareTarget> = {
  value: 'value',
  version: 'version',
  create: 'createRevision',
  createrevision: 'createRevision',
  create_revision: 'createRevision',
  mod: 'modRevision',
  modrevision: 'modRevision',
  mod_revision: 'modRevision',
};

const OPERATORS: Record<string, CompareOperator> = { '=': '=', '==': '=', '!=': '!=', '<': '<', '>': '>' };

const COMPARE_SHAPE =
  /^\s*([A-Za-z_]+)\s*\(\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^)]*?)\s*\)\s*(==|!=|=|<|>)\s*(.*?)\s*$/;

export function parseCompare(text: string): Compare {
  const match = COMPARE_SHAPE.exec(text);
  if (!match) {
    throw new TxnSyntaxError(
      `"${text}" is not a compare; expected TARGET(KEY) OP VALUE, e.g. version(/a) = 0 or value(/a) != "x"`,
    );
  }
  const [, rawTarget, rawKey, rawOperator, rawValue] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  const target = TARGETS[rawTarget.toLowerCase()];
  if (target === undefined) {
    throw new TxnSyntaxError(
      `"${text}": unknown compare target "${rawTarget}" (expected value, version, create or mod)`,
    );
  }
  if (rawKey === '') throw new TxnSyntaxError(`"${text}": the key is empty`);
  const key = singleWord(rawKey, `"${text}": key`);
  if (key === '') throw new TxnSyntaxError(`"${text}": the key is empty`);
  const operator = OPERATORS[rawOperator]!;
  if ((operator === '<' || operator === '>') && rawValue.startsWith('=')) {
    throw new TxnSyntaxError(`"${text}": ${rawOperator}= is not an operator; use =, !=, < or >`);
  }
  if (rawValue === '') throw new TxnSyntaxError(`"${text}": nothing to compare with after "${rawOperator}"`);
  const value = singleWord(rawValue, `"${text}": value`);
  if (target === 'value') return { key, target, operator, value };
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new TxnSyntaxError(`"${text}": ${rawTarget} compares with a non-negative integer, not "${value}"`);
  }
  return { key, target, operator, value: Number(value) };
}

function singleWord(text: string, what: string): string {
  const words = splitWords(text);
  if (words.length !== 1) {
    throw new TxnSyntaxError(`${what} must be one word; quote it if it contains spaces ("like this")`);
  }
  return words[0]!;
}

export function parseOp(text: string): TxnOp {
  const words = splitWords(text);
  const [verb, ...rest] = words;
  if (verb === undefined) throw new TxnSyntaxError('empty op; expected put, get or del');
  const flags = rest.filter((w) => w.startsWith('--'));
  const args = rest.filter((w) => !w.startsWith('--'));
  switch (verb.toLowerCase()) {
    case 'put': {
      if (flags.length > 0)
        throw new TxnSyntaxError(`"${text}": put takes no flags (got ${flags.join(' ')})`);
      if (args.length !== 2)
        throw new TxnSyntaxError(`"${text}": expected put KEY VALUE (quote a value with spaces)`);
      return { type: 'put', key: args[0]!, value: args[1]! };
    }
    case 'get':
      return parseGet(text, rest);
    case 'del':
    case 'delete': {
      if (args.length !== 1) throw new TxnSyntaxError(`"${text}": expected del KEY [--prefix]`);
      const unknown = flags.filter((f) => f !== '--prefix');
      if (unknown.length > 0)
        throw new TxnSyntaxError(`"${text}": del accepts only --prefix (got ${unknown.join(' ')})`);
      return flags.length > 0
        ? { type: 'delete', key: args[0]!, prefix: true }
        : { type: 'delete', key: args[0]! };
    }
    default:
      throw new TxnSyntaxError(`"${text}": unknown op "${verb}" (expected put, get or del)`);
  }
}

function parseGet(text: string, words: readonly string[]): TxnOp {
  let key: string | undefined;
  const options: { -readonly [K in keyof TxnGetOptions]: TxnGetOptions[K] } = {};
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const number = (flag: string): number => {
      const value = words[++i];
      if (value === undefined || !/^\d+$/.test(value)) {
        throw new TxnSyntaxError(`"${text}": ${flag} needs a non-negative integer`);
      }
      return Number(value);
    };
    if (word === '--prefix') options.prefix = true;
    else if (word === '--children') options.children = true;
    else if (word === '--keys-only') options.keysOnly = true;
    else if (word === '--count-only') options.countOnly = true;
    else if (word === '--rev') options.revision = number('--rev');
    else if (word === '--limit') options.limit = number('--limit');
    else if (word.startsWith('--')) throw new TxnSyntaxError(`"${text}": unknown get flag ${word}`);
    else if (key === undefined) key = word;
    else throw new TxnSyntaxError(`"${text}": expected get KEY [flags], got a second key "${word}"`);
  }
  if (key === undefined) throw new TxnSyntaxError(`"${text}": expected get KEY [flags]`);
  if (options.prefix === true && options.children === true) {
    throw new TxnSyntaxError(`"${text}": choose --prefix or --children, not both`);
  }
  return Object.keys(options).length === 0 ? { type: 'get', key } : { type: 'get', key, options };
}

export function parseTxnArgs(
  compares: readonly string[],
  success: readonly string[],
  failure: readonly string[],
): TxnRequest {
  return {
    compare: compares.map(parseCompare),
    success: success.map(parseOp),
    failure: failure.map(parseOp),
  };
}

/**
 * etcdctl's stdin layout: compares, blank line, success ops, blank line, failure ops. Every
 * blank line ends a section (so a script starting with a blank line has no compares); blank
 * lines at the end do nothing.
 */
export function parseTxnScript(script: string): TxnRequest {
  const lines = script
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => !line.startsWith('#'));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const sections: string[][] = [[]];
  for (const line of lines) {
    if (line === '') sections.push([]);
    else sections[sections.length - 1]!.push(line);
  }
  if (sections.length > 3) {
    throw new TxnSyntaxError(
      'too many blank-line separated sections: expected compares, blank line, success ops, blank line, failure ops',
    );
  }
  const [compares = [], success = [], failure = []] = sections;
  return parseTxnArgs(compares, success, failure);
}
