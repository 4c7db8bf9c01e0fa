import type { IncomingMessage } from 'node:http';

/** How much of a refused body is read and dropped before the connection is cut: 64 MiB. */
export const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

/** What reading a request body gave. */
export type BodyRead =
  { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: 'too-large' | 'aborted' };

/** Options of {@link readRequestBody}. */
export interface ReadBodyOptions {
  /** Largest body kept, in bytes; more is `too-large`. */
  maxBytes: number;
  /** Bytes of a too-large body read and dropped after the answer. @default DISCARD_LIMIT_BYTES */
  discardBytes?: number;
}

/**
 * Reads a request body of at most `maxBytes` (declared by `content-length` or sent chunked) as
 * UTF-8 text. A larger body is `too-large` as soon as it is known to be, and the rest of it is
 * read and dropped while the answer goes out: a proxy in front then reads a 413 on a healthy
 * connection instead of a reset, which it would count against the instance. Past `discardBytes`
 * the socket is cut, so an endless body costs a bounded amount of reading.
 */
export function readRequestBody(req: IncomingMessage, options: ReadBodyOptions): Promise<BodyRead> {
  const { maxBytes, discardBytes = DISCARD_LIMIT_BYTES } = options;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = () => {
      refused = true;
      chunks.length = 0;
      resolve({ ok: false, reason: 'too-large' });
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBytes) refuse();
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        if (size > maxBytes + discardBytes) req.socket.destroy();
        return;
      }
      if (size > maxBytes) refuse();
      else chunks.push(chunk);
    });
    req.once('end', () => {
      if (!refused) resolve({ ok: true, text: Buffer.concat(chunks, size).toString('utf8') });
    });
    // A client gone mid-body: nobody is left to answer (resolving twice is a no-op).
    const aborted = () => {
      if (!refused) resolve({ ok: false, reason: 'aborted' });
    };
    req.once('error', aborted);
    req.once('close', () => {
      if (!req.complete) aborted();
    });
  });
}
