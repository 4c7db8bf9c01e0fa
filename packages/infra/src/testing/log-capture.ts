import { Writable } from 'node:stream';

/** A pino destination that keeps every line, parsed, for assertions on logs. */
export interface LogCapture {
  readonly stream: Writable;
  /** Every line so far, parsed as JSON. */
  lines(): Array<Record<string, unknown>>;
  /** The raw text so far. */
  text(): string;
}

/** Captures a logger's output in memory: `createLogger({ service, destination: capture.stream })`. */
export function captureLogs(): LogCapture {
  let raw = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw += chunk.toString('utf8');
      callback();
    },
  });
  return {
    stream,
    text: () => raw,
    lines: () =>
      raw
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
