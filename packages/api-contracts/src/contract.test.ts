import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_TIMEOUT_MS, defineContract } from './contract.js';

const hello = (timeoutMs: number) => ({
  hello: { type: 'query' as const, input: z.object({}), output: z.object({}), access: 'public' as const, timeoutMs },
});

describe('defineContract', () => {
  it('takes a timeout up to the longest Node timer, and names the procedure and field of one it refuses', () => {
    expect(defineContract(hello(MAX_TIMEOUT_MS)).hello.timeoutMs).toBe(2 ** 31 - 1);
    // One more would make Node's setTimeout fire after 1 ms: the call would time out at once.
    for (const bad of [MAX_TIMEOUT_MS + 1, 0, -5, 1.5, Number.NaN]) {
      expect(() => defineContract(hello(bad)), String(bad)).toThrow(
        /^Contract procedure "hello": timeoutMs must be a positive integer of at most 2147483647/,
      );
    }
  });
});
