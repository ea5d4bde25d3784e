import { describe, expect, it } from 'vitest';
import {
  parseCompare,
  parseOp,
  parseTxnArgs,
  parseTxnScript,
  splitWords,
  TxnSyntaxError,
} from '../../../src/cli/txn-syntax.js';

describe('splitWords', () => {
  it('splits on spaces and honours both kinds of quotes', () => {
    expect(splitWords('put /a 1')).toEqual(['put', '/a', '1']);
    expect(splitWords('  put   /a   "two words" ')).toEqual(['put', '/a', 'two words']);
    expect(splitWords(`put /a 'it''s' "a\\"b\\n"`)).toEqual(['put', '/a', 'its', 'a"b\n']);
    expect(splitWords('put /a ""')).toEqual(['put', '/a', '']);
    expect(splitWords('x"y z"w')).toEqual(['xy zw']);
  });

  it('reports unterminated quotes and bad escapes', () => {
    expect(() => splitWords('put /a "open')).toThrow(TxnSyntaxError);
    expect(() => splitWords("put /a 'open")).toThrow(/unterminated/);
    expect(() => splitWords('put /a "\\q"')).toThrow(/bad escape/);
  });
});

describe('parseCompare', () => {
  it('parses every target, with or without spaces', () => {
    expect(parseCompare('version(/a) = 0')).toEqual({
      key: '/a',
      target: 'version',
      operator: '=',
      value: 0,
    });
    expect(parseCompare('version(/a)=0')).toEqual({ key: '/a', target: 'version', operator: '=', value: 0 });
    expect(parseCompare('value(/a) != "two words"')).toEqual({
      key: '/a',
      target: 'value',
      operator: '!=',
      value: 'two words',
    });
    expect(parseCompare('create(/a) > 5')).toMatchObject({
      target: 'createRevision',
      operator: '>',
      value: 5,
    });
    expect(parseCompare('mod(/a) < 7')).toMatchObject({ target: 'modRevision', operator: '<', value: 7 });
    expect(parseCompare('MOD_REVISION(/a) == 7')).toMatchObject({ target: 'modRevision', operator: '=' });
    expect(parseCompare('value( "/odd key)" ) = x')).toMatchObject({ key: '/odd key)', value: 'x' });
    expect(parseCompare('value(/a) = ""')).toMatchObject({ value: '' });
  });

  it('explains what is wrong', () => {
    expect(() => parseCompare('versio(/a) = 0')).toThrow(/unknown compare target "versio"/);
    expect(() => parseCompare('version /a = 0')).toThrow(/TARGET\(KEY\) OP VALUE/);
    expect(() => parseCompare('version(/a) >= 0')).toThrow(/>= is not an operator/);
    expect(() => parseCompare('version(/a) <= 0')).toThrow(/<= is not an operator/);
    expect(() => parseCompare('version(/a) = x')).toThrow(/non-negative integer/);
    expect(() => parseCompare('version(/a) = -1')).toThrow(/non-negative integer/);
    expect(() => parseCompare('version() = 1')).toThrow(/key is empty/);
    expect(() => parseCompare('value(/a) =')).toThrow(/nothing to compare/);
    expect(() => parseCompare('value(/a) = two words')).toThrow(/one word/);
  });
});

describe('parseOp', () => {
  it('parses put, get and del', () => {
    expect(parseOp('put /a "hello world"')).toEqual({ type: 'put', key: '/a', value: 'hello world' });
    expect(parseOp('get /a')).toEqual({ type: 'get', key: '/a' });
    expect(parseOp('get /a --prefix --limit 3 --rev 9 --keys-only')).toEqual({
      type: 'get',
      key: '/a',
      options: { prefix: true, limit: 3, revision: 9, keysOnly: true },
    });
    expect(parseOp('get /a --children --count-only')).toMatchObject({
      options: { children: true, countOnly: true },
    });
    expect(parseOp('del /a')).toEqual({ type: 'delete', key: '/a' });
    expect(parseOp('DELETE /a --prefix')).toEqual({ type: 'delete', key: '/a', prefix: true });
  });

  it('explains what is wrong', () => {
    expect(() => parseOp('')).toThrow(/empty op/);
    expect(() => parseOp('set /a 1')).toThrow(/unknown op "set"/);
    expect(() => parseOp('put /a')).toThrow(/put KEY VALUE/);
    expect(() => parseOp('put /a b c')).toThrow(/quote a value/);
    expect(() => parseOp('put /a 1 --prefix')).toThrow(/no flags/);
    expect(() => parseOp('get')).toThrow(/get KEY/);
    expect(() => parseOp('get /a /b')).toThrow(/second key/);
    expect(() => parseOp('get /a --limit')).toThrow(/--limit needs/);
    expect(() => parseOp('get /a --prefix --children')).toThrow(/not both/);
    expect(() => parseOp('get /a --bogus')).toThrow(/unknown get flag/);
    expect(() => parseOp('del /a --children')).toThrow(/only --prefix/);
  });
});

describe('whole transactions', () => {
  it('from arguments', () => {
    expect(parseTxnArgs(['version(/a) = 0'], ['put /a 1'], ['get /a'])).toEqual({
      compare: [{ key: '/a', target: 'version', operator: '=', value: 0 }],
      success: [{ type: 'put', key: '/a', value: '1' }],
      failure: [{ type: 'get', key: '/a' }],
    });
  });

  it('from an etcdctl-style script', () => {
    const script = '# set /a once\nversion(/a) = 0\nvalue(/b) = "x"\n\nput /a 1\nput /b 2\n\nget /a\n\n\n';
    const request = parseTxnScript(script);
    expect(request.compare).toHaveLength(2);
    expect(request.success).toEqual([
      { type: 'put', key: '/a', value: '1' },
      { type: 'put', key: '/b', value: '2' },
    ]);
    expect(request.failure).toEqual([{ type: 'get', key: '/a' }]);
  });

  it('a script starting with a blank line has no compares', () => {
    expect(parseTxnScript('\nput /a 1\n')).toEqual({
      compare: [],
      success: [{ type: 'put', key: '/a', value: '1' }],
      failure: [],
    });
  });

  it('refuses a fourth section', () => {
    expect(() => parseTxnScript('version(/a) = 0\n\nput /a 1\n\nget /a\n\nget /b')).toThrow(/too many/);
  });
});
