import { pino, type Logger } from 'pino';

/** Marks the loggers {@link createLogger} makes (children inherit it through their prototype). */
export const MESH_LOGGER = Symbol.for('switchyard.meshLogger');

const { chindingsSym, levelValSym, streamSym, timeSym } = pino.symbols;

/** pino's `info`, in the default levels a logger of {@link createLogger} keeps. */
const INFO = 30;

type Internals = Record<symbol, unknown>;

/**
 * `JSON.stringify(value)` for a string, without its cost when nothing needs escaping: each
 * JSON.stringify call enters C++ and builds a serializer (~1,400 instructions under callgrind for
 * a short string), while request ids, procedure names and messages are plain ASCII. Anything
 * else (quotes, backslashes, control characters, non-ASCII) goes through JSON.stringify.
 */
export function jsonString(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(value);
  }
  return `"${value}"`;
}

const isoTime = pino.stdTimeFunctions.isoTime;
let cachedMs = -1;
let cachedTime = '';
/** pino's isoTime field, made once per millisecond (a busy service writes many lines in one). */
function isoTimeNow(): string {
  const ms = Date.now();
  if (ms !== cachedMs) {
    cachedMs = ms;
    cachedTime = `,"time":"${new Date(ms).toISOString()}"`;
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
  const line = `{"level":"info"${time}${chindings}${bindings}${fields},"msg":${jsonString(msg)}}\n`;
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
 * from optimized code is a generic property lookup (~130 instructions): the mesh mark, the time
 * function and the stream were three per line more, and isLevelEnabled made its own. Most lines
 * come from one logger, the service's. (Most of an access line's generic lookups, ~29, were
 * string methods: see restoreFastStringPrototype in redis-client.ts.)
 */
let lastLogger: Logger | undefined;
let lastTime: () => string;
let lastStream: Stream;

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
