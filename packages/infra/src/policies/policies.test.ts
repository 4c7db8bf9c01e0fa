import { describe, expect, it } from 'vitest';
import { fullJitterDelay, parseRetryAfter } from './backoff.js';
import { parseDeadlineHeader } from './deadline.js';
import { RetryBudget } from './retry-budget.js';
import { TargetPolicies } from './target-policies.js';

describe('RetryBudget (fake clock)', () => {
  it('allows ratio * calls + floor retries per window, then refuses, then recovers as the window moves', () => {
    let t = 0;
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 1, windowMs: 10_000 }, () => t);
    for (let i = 0; i < 100; i++) budget.recordCall();
    let granted = 0;
    while (budget.tryRetry()) granted++;
    expect(granted).toBe(0.2 * 100 + 10);
    t += 5_000;
    expect(budget.tryRetry()).toBe(false);
    t += 5_001;
    // The window has moved past every call and retry.
    let later = 0;
    while (budget.tryRetry()) later++;
    expect(later).toBe(10);
  });

  it('counts a call at the time its caller read, when given', () => {
    let t = 0;
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 1, windowMs: 10_000 }, () => t);
    for (let i = 0; i < 100; i++) budget.recordCall();
    budget.recordCall(10_001);
    t = 10_001;
    // The window has moved past the first 100 calls; the one counted at 10,001 ms remains.
    let granted = 0;
    while (budget.tryRetry()) granted++;
    expect(granted).toBe(11);
  });

  it('refuses bad options at construction', () => {
    expect(() => new RetryBudget({ ratio: -1 })).toThrow(RangeError);
    expect(() => new RetryBudget({ windowMs: 10 })).toThrow(RangeError);
  });
});

describe('TargetPolicies options', () => {
  it('refuses a timeout Node cannot time (over 2^31-1 ms it would fire after 1 ms), naming the option', () => {
    const classify = () => ({ kind: 'other' }) as const;
    expect(() => new TargetPolicies({ timeoutMs: 2 ** 31 - 1, perTryTimeoutMs: 1 }, classify)).not.toThrow();
    expect(() => new TargetPolicies({ timeoutMs: 2 ** 31 }, classify)).toThrow(
      /^policies: timeoutMs must be .* at most 2147483647/,
    );
    expect(() => new TargetPolicies({ perTryTimeoutMs: 0 }, classify)).toThrow(/^policies: perTryTimeoutMs must be more than 0/);
    expect(() => new TargetPolicies({ perTryTimeoutMs: Number.NaN }, classify)).toThrow(RangeError);
  });
});

describe('backoff', () => {
  it('full jitter stays within [0, min(cap, base * 2^attempt))', () => {
    const options = { baseMs: 25, capMs: 1_000 };
    expect(fullJitterDelay(0, options, () => 0.999)).toBeLessThan(25);
    expect(fullJitterDelay(3, options, () => 0.5)).toBe(100);
    expect(fullJitterDelay(10, options, () => 0.999)).toBeLessThan(1_000);
    expect(fullJitterDelay(10, options, () => 0)).toBe(0);
  });

  it.each([
    ['3', 3_000],
    [' 0 ', 0],
    ['Wed, 25 Nov 2026 00:00:10 GMT', 10_000],
    ['soon', undefined],
    ['-1', undefined],
    [null, undefined],
  ])('parses Retry-After %j', (value, expected) => {
    expect(parseRetryAfter(value, Date.parse('Wed, 25 Nov 2026 00:00:00 GMT'))).toBe(expected);
  });
});

describe('deadline header', () => {
  it.each([
    ['250', 250],
    ['0', 0],
    ['999999999', 300_000],
    ['-5', undefined],
    ['1.5', undefined],
    ['abc', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('parses %j', (value, expected) => {
    expect(parseDeadlineHeader(value)).toBe(expected);
  });
});
