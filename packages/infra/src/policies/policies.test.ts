import { describe, expect, it } from 'vitest';
import { fullJitterDelay, parseRetryAfter } from '../policy-core/backoff.js';
import { FailureRatio } from './breaker.js';
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

describe('FailureRatio (fake clock)', () => {
  it('opens once the window holds the minimum of calls and more than the ratio failed', () => {
    const ratio = new FailureRatio(0.5, 10_000, 20, () => 0);
    // 9 successes and 10 failures: 19 calls, under the minimum.
    for (let i = 0; i < 9; i++) ratio.success();
    for (let i = 0; i < 9; i++) expect(ratio.failure()).toBe(false);
    expect(ratio.failure()).toBe(false);
    // The 20th call: 11 of 20 failed.
    expect(ratio.failure()).toBe(true);
  });

  it('does not open at exactly the ratio, and forgets calls older than the window', () => {
    let t = 0;
    const ratio = new FailureRatio(0.5, 10_000, 20, () => t);
    for (let i = 0; i < 10; i++) ratio.success();
    for (let i = 0; i < 9; i++) ratio.failure();
    expect(ratio.failure()).toBe(false); // 10 of 20: not more than half
    t = 10_500;
    // Every call above has left the window: 15 failures alone are under the minimum...
    for (let i = 0; i < 14; i++) expect(ratio.failure()).toBe(false);
    for (let i = 0; i < 5; i++) ratio.success(t);
    // ...and the 20th call of the new window opens it (15 of 20).
    expect(ratio.failure()).toBe(true);
  });

  it('counts a success in the bucket of the time given, or a later one; reset forgets all', () => {
    let t = 0;
    const ratio = new FailureRatio(0.5, 1_000, 4, () => t);
    ratio.success(0);
    ratio.failure();
    t = 950;
    ratio.failure(); // the window moves to its last bucket
    ratio.success(100); // an attempt started earlier: counted in the current bucket, not lost
    expect(ratio.failure()).toBe(true); // 3 of 5
    ratio.reset();
    for (let i = 0; i < 3; i++) expect(ratio.failure()).toBe(false); // 3 calls: under the minimum
  });

  it('refuses a ratio outside (0, 1) or a tiny window', () => {
    expect(() => new FailureRatio(1, 10_000, 20)).toThrow(/failureRatio must be between 0 and 1/);
    expect(() => new FailureRatio(0, 10_000, 20)).toThrow(RangeError);
    expect(() => new FailureRatio(0.5, 10, 20)).toThrow(/windowMs must be at least 100/);
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
