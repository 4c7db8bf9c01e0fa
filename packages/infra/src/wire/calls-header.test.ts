import { describe, expect, it } from 'vitest';
import { decodeCalls, encodeCalls, type CallFields } from './calls-header.js';

/** What decodeCalls gives, or the message it refuses with. */
const outcome = (value: string, calls = 1) => {
  try {
    return decodeCalls(value, calls);
  } catch (error) {
    return (error as Error).message;
  }
};

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('x-switchyard-calls: what the client encodes, the server decodes', () => {
  it.each<[string, CallFields[]]>([
    ['a call alone with an id', [{ requestId: 'alone-call-0001' }]],
    ['an id, a budget and a key', [{ requestId: 'alone-call-0001', budgetMs: 4999, idempotencyKey: 'alone-call-0001.key' }]],
    ['a trace', [{ requestId: 'alone-call-0001', trace: { traceparent, tracestate: 'a=b' } }]],
    [
      'a batch with different fields per call',
      [
        { requestId: 'batch-call-0001', budgetMs: 10 },
        {},
        { requestId: 'batch-call-0003', idempotencyKey: 'batch-call-0003.key' },
      ],
    ],
  ])('%s', (_, calls) => {
    const value = encodeCalls(calls)!;
    const decoded = decodeCalls(value, calls.length);
    expect(decoded).toEqual(
      calls.map((c) => ({ requestId: c.requestId, budgetMs: c.budgetMs, trace: c.trace, idempotencyKey: c.idempotencyKey })),
    );
  });

  it('leaves out what the callee would refuse or what says nothing', () => {
    expect(encodeCalls([{}, {}])).toBeUndefined();
    expect(encodeCalls([{ requestId: 'bad id!', budgetMs: 0, trace: {} }])).toBeUndefined();
    expect(encodeCalls([{ requestId: 'alone-call-0001', budgetMs: 12.7 }])).toBe('[{"r":"alone-call-0001","d":12}]');
  });
});

describe('x-switchyard-calls refused', () => {
  it.each([
    ['[{"r":"short"}]', 1, /^x-switchyard-calls: entry 0: "r" \(request id\) must be 8-128 characters/],
    [`[{"r":"${'x'.repeat(129)}"}]`, 1, /entry 0: "r"/],
    ['[{"r":"alone-call-0001","d":-1}]', 1, /entry 0: "d" \(budget\) must be a whole number/],
    ['[{"r":"alone-call-0001","d":1.5}]', 1, /entry 0: "d"/],
    ['[{"r":"alone-call-0001","d":01}]', 1, /^x-switchyard-calls: is not JSON$/],
    ['[{"r":"alone-call-0001","k":"bad key!"}]', 1, /entry 0: "k" \(idempotency key\)/],
    ['[{"r":"alone-call-0001","t":{"Bad Key":"x"}}]', 1, /entry 0: "t" \(trace\)/],
    ['[{"r":"alone-call-0001"},{}]', 1, /^x-switchyard-calls: has 2 entries for 1 calls$/],
    ['{"r":"alone-call-0001"}', 1, /must be a JSON array/],
    ['[1]', 1, /entry 0 must be an object/],
  ])('%s', (value, calls, message) => {
    expect(outcome(value, calls)).toMatch(message);
  });

  it('refuses the header sent twice', () => {
    expect(() => decodeCalls(['[{}]', '[{}]'], 1)).toThrow(/^x-switchyard-calls: must be sent once$/);
  });
});
