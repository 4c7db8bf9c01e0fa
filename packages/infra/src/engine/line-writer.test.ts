import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { captureLogs } from '../testing/log-capture.js';
import { holdLines, isoTimeNow, releaseLines, writeInfoLine } from './line-writer.js';
import { createLogger } from '../logging/logger.js';

/** A line without its time, which differs by nature; the key order is kept. */
const withoutTime = (line: string) => {
  const { time, ...rest } = JSON.parse(line) as Record<string, unknown>;
  expect(typeof time).toBe('string');
  return JSON.stringify(rest);
};

describe('writeInfoLine', () => {
  it('writes the line logger.info would write, bindings and key order included', () => {
    const capture = captureLogs();
    const root = createLogger({ service: 'lines', destination: capture.stream });
    const child = root.child({ requestId: 'r-1' });
    child.info({ procedure: 'notes.get', type: 'query', outcome: 'OK', durationMs: 0.125 }, 'call');
    writeInfoLine(child, '', ',"procedure":"notes.get","type":"query","outcome":"OK","durationMs":0.125', 'call', () => ({}));
    // Bindings not made into a child logger give the same line as the child.
    writeInfoLine(
      root,
      ',"requestId":"r-1"',
      ',"procedure":"notes.get","type":"query","outcome":"OK","durationMs":0.125',
      'call',
      () => ({}),
    );
    const [viaPino, viaLine, viaBindings] = capture.text().trim().split('\n');
    expect(withoutTime(viaLine!)).toBe(withoutTime(viaPino!));
    expect(withoutTime(viaBindings!)).toBe(withoutTime(viaPino!));
    expect(JSON.parse(viaLine!)).toMatchObject({ level: 'info', service: 'lines', requestId: 'r-1', msg: 'call' });
  });

  it('honours the level: nothing below it is written', () => {
    const capture = captureLogs();
    const logger = createLogger({ service: 'lines', level: 'warn', destination: capture.stream });
    writeInfoLine(logger, '', ',"a":1', 'call', () => ({ a: 1 }));
    logger.level = 'info';
    writeInfoLine(logger, '', ',"a":2', 'call', () => ({ a: 2 }));
    expect(capture.lines().map((l) => l.a)).toEqual([2]);
  });

  it('the same logger written to again reads its level and bindings each time', () => {
    const capture = captureLogs();
    const logger = createLogger({ service: 'lines', destination: capture.stream });
    writeInfoLine(logger, '', ',"a":1', 'call', () => ({}));
    logger.setBindings({ tenant: 't-1' });
    writeInfoLine(logger, '', ',"a":2', 'call', () => ({}));
    logger.level = 'error';
    writeInfoLine(logger, '', ',"a":3', 'call', () => ({}));
    logger.level = 'debug';
    writeInfoLine(logger, '', ',"a":4', 'call', () => ({}));
    expect(capture.lines().map((l) => [l.a, l.tenant])).toEqual([
      [1, undefined],
      [2, 't-1'],
      [4, 't-1'],
    ]);
  });

  it('lines of loggers with different bindings, interleaved, each carry their own', () => {
    const capture = captureLogs();
    const root = createLogger({ service: 'lines', destination: capture.stream });
    const one = root.child({ requestId: 'r-1' });
    const two = root.child({ requestId: 'r-2' });
    for (const [logger, n] of [
      [one, 1],
      [one, 2],
      [two, 3],
      [root, 4],
      [two, 5],
      [two, 6],
      [one, 7],
    ] as const)
      writeInfoLine(logger, '', `,"n":${n}`, 'call', () => ({}));
    expect(capture.lines().map((l) => [l.n, l.requestId])).toEqual([
      [1, 'r-1'],
      [2, 'r-1'],
      [3, 'r-2'],
      [4, undefined],
      [5, 'r-2'],
      [6, 'r-2'],
      [7, 'r-1'],
    ]);
  });

  it('a logger made elsewhere gets logger.info with the fallback fields, so its own options apply', () => {
    const capture = captureLogs();
    const logger = pino({ base: null, redact: ['a'], timestamp: false }, capture.stream);
    writeInfoLine(logger, ',"never":1', ',"never":1', 'call', () => ({ a: 'secret', b: 2 }));
    expect(capture.lines()).toEqual([{ level: 30, a: '[Redacted]', b: 2, msg: 'call' }]);
  });

  it('lines held for a request are written in one piece, in order, when released', () => {
    const writes: string[] = [];
    const logger = createLogger({ service: 'lines', destination: { write: (chunk: string) => writes.push(chunk) } });
    const request = {};
    holdLines(request);
    for (const n of [1, 2, 3]) writeInfoLine(logger, '', `,"n":${n}`, 'call', () => ({}), request);
    expect(writes).toEqual([]);
    releaseLines(request);
    expect(writes).toHaveLength(1);
    expect(
      writes[0]!
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { n: number }).n),
    ).toEqual([1, 2, 3]);
    // Released: the next line goes straight out.
    writeInfoLine(logger, '', ',"n":4', 'call', () => ({}), request);
    expect(writes).toHaveLength(2);
  });
});

describe('isoTimeNow', () => {
  it("gives pino's isoTime field for every ms of two minutes, across minutes, days, years and backwards", () => {
    const field = (ms: number) => `,"time":"${new Date(ms).toISOString()}"`;
    const wrong: number[] = [];
    const start = Date.UTC(2026, 11, 31, 23, 59, 0, 0);
    for (let ms = start; ms < start + 120_000; ms++) if (isoTimeNow(ms) !== field(ms)) wrong.push(ms);
    expect(wrong).toEqual([]);
    for (const ms of [
      0,
      59_999,
      60_000,
      1,
      Date.UTC(2000, 1, 29, 12, 0, 5, 7),
      start - 1,
      253_402_300_799_999,
      253_402_300_800_000,
      8.64e15,
      Date.now(),
    ])
      expect(isoTimeNow(ms), String(ms)).toBe(field(ms));
  });
});
