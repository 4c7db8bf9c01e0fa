import { pino, type Logger } from 'pino';
import { bypassOn } from './switches.js';

/** Marks the loggers {@link createLogger} makes (children inherit it through their prototype). */
export const MESH_LOGGER = Symbol.for('switchyard.meshLogger');

const { chindingsSym, levelValSym, streamSym, timeSym } = pino.symbols;

/** pino's `info`, in the default levels a logger of {@link createLogger} keeps. */
const INFO = 30;

type Internals = Record<symbol, unknown>;

/** pino's isoTime, the function whose field {@link isoTimeNow} makes itself (when it is on). */
const isoTime = bypassOn('isoTimeNow') ? pino.stdTimeFunctions.isoTime : undefined;
let cachedMs = -1;
let cachedTime = '';
let minuteStart = -1;
let minutePrefix = '';
/** The last ms whose ISO text is `YYYY-MM-DDTHH:MM:` plus seconds: 9999-12-31T23:59:59.999Z. */
const LAST_SHORT_YEAR_MS = 253_402_300_799_999;

/**
 * pino's isoTime field, made once per millisecond (a busy service writes many lines in one), and
 * its date, hour and minute once per minute (Date's toISOString formats in C++).
 */
export function isoTimeNow(ms = Date.now()): string {
  if (ms !== cachedMs) {
    cachedMs = ms;
    let inMinute = ms - minuteStart;
    if (inMinute < 0 || inMinute >= 60_000 || minuteStart < 0) {
      if (!(ms >= 0 && ms <= LAST_SHORT_YEAR_MS && Number.isInteger(ms))) {
        minuteStart = -1;
        return (cachedTime = `,"time":"${new Date(ms).toISOString()}"`);
      }
      minuteStart = ms - (ms % 60_000);
      minutePrefix = `,"time":"${new Date(minuteStart).toISOString().slice(0, 17)}`;
      inMinute = ms - minuteStart;
    }
    const seconds = Math.floor(inMinute / 1000);
    const milli = inMinute - seconds * 1000;
    cachedTime = `${minutePrefix}${seconds < 10 ? '0' : ''}${seconds}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z"`;
  }
  return cachedTime;
}

/**
 * Writes one info line with `msg` and pre-encoded fields, as `logger.info(fields, msg)` would write
 * it for a logger of {@link createLogger}, without pino's per-line object walk and redaction pass.
 * `fields` is a JSON fragment of `,"key":value` pairs whose values the caller encoded with
 * `JSON.stringify` and knows to hold no secret (procedure names, outcome codes, durations), and
 * `bindings` the same for child bindings not made into a child logger (e.g. the request id).
 * A logger from anywhere else gets `logger.info`, so its own options apply.
 */
export function writeInfoLine(
  logger: Logger,
  bindings: string,
  fields: string,
  msg: string,
  fallback: () => object,
  holder?: object,
): void {
  const internals = logger as unknown as Internals;
  let timeOf: () => string;
  let stream: Stream;
  if (logger === lastLogger) {
    timeOf = lastTime;
    stream = lastStream;
  } else {
    if (internals[MESH_LOGGER] !== true) {
      logger.info(fallback(), msg);
      return;
    }
    timeOf = internals[timeSym] as () => string;
    stream = internals[streamSym] as Stream;
    lastLogger = logger;
    lastTime = timeOf;
    lastStream = stream;
  }
  // isLevelEnabled('info'), as pino compares levels by default (ascending).
  if ((internals[levelValSym] as number) > INFO) return;
  const time = timeOf === isoTime ? isoTimeNow() : timeOf();
  const chindings = internals[chindingsSym] as string;
  // The line's start and end repeat from line to line: made once, not concatenated per line.
  if (time !== lastPrefixTime || chindings !== lastPrefixChindings) {
    lastPrefixTime = time;
    lastPrefixChindings = chindings;
    lastPrefix = `{"level":"info"${time}${chindings}`;
  }
  if (msg !== lastMsg) {
    lastMsg = msg;
    lastSuffix = `,"msg":${JSON.stringify(msg)}}\n`;
  }
  const line = `${lastPrefix}${bindings}${fields}${lastSuffix}`;
  const held = holder as Held | undefined;
  if (held?.[HELD] !== undefined) {
    held[HELD] += line;
    held[HELD_STREAM] = stream;
    return;
  }
  stream.write(line);
}

/**
 * The logger writeInfoLine wrote to last, and what of it never changes: its time function and
 * stream (its level and bindings, which setLevel and setBindings change, are read per line). A
 * pino root logger and two of its prototypes are dictionary-mode objects, so each read of them
 * from optimized code is a generic property lookup; most lines come from one logger, the
 * service's, so these are read once for it.
 */
let lastLogger: Logger | undefined;
let lastTime: () => string;
let lastStream: Stream;
/** The last line's start (`{"level":"info"`, time and the logger's bindings) and end (`"msg"`), and what made them. */
let lastPrefixTime: string | undefined;
let lastPrefixChindings: string | undefined;
let lastPrefix = '';
let lastMsg: string | undefined;
let lastSuffix = '';

type Stream = { write(line: string): unknown };
const HELD = Symbol('switchyard.heldLines');
const HELD_STREAM = Symbol('switchyard.heldLinesStream');
type Held = { [HELD]?: string; [HELD_STREAM]?: Stream };

/**
 * Lines written with `holder` (see {@link writeInfoLine}) are kept until {@link releaseLines}, then
 * written in one piece: a batch of calls is one write to the log stream instead of one per call
 * (pino's SonicBoom measures its whole pending buffer on every write).
 */
export function holdLines(holder: object): void {
  (holder as Held)[HELD] = '';
}

/** Writes the lines held for `holder` in one piece, and stops holding. */
export function releaseLines(holder: object): void {
  const held = holder as Held;
  const text = held[HELD];
  const stream = held[HELD_STREAM];
  held[HELD] = undefined;
  if (text && stream) stream.write(text);
}
