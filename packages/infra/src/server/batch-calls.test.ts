import { describe, expect, it } from 'vitest';
import { parseBatchCalls } from './batch-calls.js';

/** What parseBatchCalls gives, or the message it refuses with. */
const outcome = (value: string, calls = 1) => {
  try {
    return parseBatchCalls(value, calls);
  } catch (error) {
    return (error as Error).message;
  }
};

describe('x-switchyard-calls of a call alone', () => {
  // A leading space is still JSON but never the quick form: both readings must agree.
  it.each([
    '[{"r":"alone-call-0001"}]',
    '[{"r":"alone-call-0001","d":0}]',
    '[{"r":"alone-call-0001","d":4999}]',
    '[{"r":"alone-call-0001","d":999999999999999}]',
    '[{"r":"alone-call-0001","d":4999,"k":"alone-call-0001.key"}]',
    '[{"r":"alone-call-0001","k":"alone-call-0001.key"}]',
    '[{"r":"short"}]',
    `[{"r":"${'x'.repeat(129)}"}]`,
    '[{"r":"alone-call-0001","d":-1}]',
    '[{"r":"alone-call-0001","d":1.5}]',
    '[{"r":"alone-call-0001","d":01}]',
    '[{"r":"alone-call-0001","k":"bad key!"}]',
    '[{"r":"alone call 0001"}]',
    '[{"r":"alone-call-0001"},{}]',
    '[{"d":5000}]',
  ])('%s: the quick reading and JSON.parse agree', (value) => {
    expect(outcome(value)).toEqual(outcome(` ${value}`));
  });

  it('reads the quick form: id, budget capped at 300 s, key', () => {
    expect(parseBatchCalls('[{"r":"alone-call-0001","d":999999999,"k":"alone-call-0001.key"}]', 1)).toEqual([
      { requestId: 'alone-call-0001', budgetMs: 300_000, otel: undefined, idempotencyKey: 'alone-call-0001.key' },
    ]);
    expect(outcome('[{"r":"alone-call-0001","d":01}]')).toBe('x-switchyard-calls: is not JSON');
    expect(outcome('[{"r":"short"}]')).toMatch(/^x-switchyard-calls: entry 0: "r" \(request id\)/);
  });
});

describe('x-switchyard-calls of a batch', () => {
  const a = '{"r":"batch-call-0001","d":4999}';
  const b = '{"r":"batch-call-0002","d":300001,"k":"batch-call-0002.key"}';
  const c = '{"r":"batch-call-0003"}';
  // As above: the quick reading (entries as the mesh client writes them) and JSON.parse agree.
  it.each([
    [`[${a},${b},${c}]`, 3],
    [`[${a},${b},${c}]`, 2],
    [`[${a},${b},${c}]`, 4],
    [`[${a},${a}]`, 2],
    [`[${a},{}]`, 2],
    [`[${a},{"r":"short"}]`, 2],
    [`[${a},{"r":"batch-call-0002","d":-1}]`, 2],
    [`[${a},{"r":"batch-call-0002","d":01}]`, 2],
    [`[${a},{"r":"batch-call-0002","k":"bad key!"}]`, 2],
    [`[${a},{"r":"batch-call-0002","t":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}]`, 2],
    [`[${a},]`, 1],
    [`[${a}${a}]`, 2],
  ])('%s for %i calls: the quick reading and JSON.parse agree', (value, calls) => {
    expect(outcome(value, calls)).toEqual(outcome(` ${value}`, calls));
  });

  it('reads each entry: ids, budgets capped at 300 s, keys', () => {
    expect(parseBatchCalls(`[${a},${b},${c}]`, 3)).toEqual([
      { requestId: 'batch-call-0001', budgetMs: 4999, otel: undefined, idempotencyKey: undefined },
      { requestId: 'batch-call-0002', budgetMs: 300_000, otel: undefined, idempotencyKey: 'batch-call-0002.key' },
      { requestId: 'batch-call-0003', budgetMs: undefined, otel: undefined, idempotencyKey: undefined },
    ]);
    expect(outcome(`[${a},${b},${c}]`, 2)).toBe('x-switchyard-calls: has 3 entries for 2 calls');
    expect(outcome(`[${a},{"r":"short"}]`, 2)).toMatch(/^x-switchyard-calls: entry 1: "r" \(request id\)/);
  });
});
