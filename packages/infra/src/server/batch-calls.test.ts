import { describe, expect, it } from 'vitest';
import { parseBatchCalls } from './batch-calls.js';

/** What parseBatchCalls gives, or the message it refuses with. */
const outcome = (value: string) => {
  try {
    return parseBatchCalls(value, 1);
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
