import { describe, expect, it } from 'vitest';
import { RaftreeError } from '../../../src/client/errors.js';
import { compare, compareToWire, op, opToWire, rangeModeOf, TxnBuilder } from '../../../src/client/txn.js';

const bytes = (text: string) => Buffer.from(text);

describe('txn helpers', () => {
  it('build compares for every target and operator', () => {
    expect(compare.version('/a').equals(0)).toEqual({
      key: '/a',
      target: 'version',
      operator: '=',
      value: 0,
    });
    expect(compare.value('/a').notEquals('x')).toEqual({
      key: '/a',
      target: 'value',
      operator: '!=',
      value: 'x',
    });
    expect(compare.createRevision('/a').lessThan(5).operator).toBe('<');
    expect(compare.modRevision('/a').greaterThan(5).target).toBe('modRevision');
    expect(compare.modRevision('/a').is('>', 9)).toEqual(compare.modRevision('/a').greaterThan(9));
  });

  it('convert compares to the wire', () => {
    expect(compareToWire(compare.value('/a').equals('hé'))).toEqual({
      key: '/a',
      target: 'VALUE',
      result: 'EQUAL',
      value: bytes('hé'),
    });
    expect(compareToWire(compare.version('/a').greaterThan(2))).toEqual({
      key: '/a',
      target: 'VERSION',
      result: 'GREATER',
      number: 2,
    });
    expect(compareToWire(compare.modRevision('/a').notEquals(7)).target).toBe('MOD_REVISION');
    expect(compareToWire(compare.createRevision('/a').lessThan(7)).result).toBe('LESS');
  });

  it('refuse ill-typed compares with INVALID_ARGUMENT', () => {
    const wrong = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        expect(error).toBeInstanceOf(RaftreeError);
        expect((error as RaftreeError).code).toBe('INVALID_ARGUMENT');
        return (error as RaftreeError).message;
      }
      throw new Error('expected an error');
    };
    expect(wrong(() => compareToWire({ key: '/a', target: 'value', operator: '=', value: 3 }))).toMatch(
      /text or bytes/,
    );
    expect(wrong(() => compareToWire({ key: '/a', target: 'version', operator: '=', value: 'x' }))).toMatch(
      /non-negative integer/,
    );
    expect(wrong(() => compareToWire({ key: '/a', target: 'version', operator: '=', value: -1 }))).toMatch(
      /non-negative integer/,
    );
    expect(wrong(() => compareToWire({ key: '/a', target: 'version', operator: '=', value: 1.5 }))).toMatch(
      /non-negative integer/,
    );
    expect(wrong(() => rangeModeOf({ prefix: true, children: true }, 'get /a'))).toMatch(
      /prefix or children/,
    );
  });

  it('convert ops to the wire', () => {
    expect(opToWire(op.put('/a', 'v'))).toEqual({ put: { key: '/a', value: bytes('v'), prevKv: false } });
    expect(opToWire(op.delete('/a', { prefix: true }))).toEqual({
      delete: { key: '/a', prefix: true, prevKv: false },
    });
    expect(opToWire(op.get('/a', { children: true, limit: 3 }))).toEqual({
      range: { key: '/a', mode: 'CHILDREN', revision: 0, limit: 3, keysOnly: false, countOnly: false },
    });
    expect(opToWire(op.get('/a'))).toMatchObject({ range: { key: '/a', mode: 'EXACT' } });
  });

  it('the builder collects compares and both branches', async () => {
    const seen: unknown[] = [];
    const builder = new TxnBuilder(async (request) => {
      seen.push(request);
      return 'done';
    });
    const result = await builder
      .if(compare.version('/a').equals(0), compare.value('/b').equals('x'))
      .then(op.put('/a', '1'))
      .else(op.get('/a'), op.delete('/b'))
      .commit();
    expect(result).toBe('done');
    expect(seen).toEqual([
      {
        compare: [compare.version('/a').equals(0), compare.value('/b').equals('x')],
        success: [op.put('/a', '1')],
        failure: [op.get('/a'), op.delete('/b')],
      },
    ]);
  });
});
