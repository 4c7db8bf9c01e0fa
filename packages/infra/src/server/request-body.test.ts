import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRequestBody, type BodyRead } from './request-body.js';

let server: Server;
let url: URL;
const reads: BodyRead[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    void readRequestBody(req, { maxBytes: 1024, discardBytes: 64 * 1024 }).then((read) => {
      reads.push(read);
      res.writeHead(read.ok ? 200 : 413, { 'content-type': 'text/plain' }).end(read.ok ? String(read.text.length) : 'too large');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

/** Sends a body on the agent's connection; resolves with the status, the socket's local port, or the error. */
function post(agent: Agent, body: Buffer, chunked: boolean): Promise<{ status?: number; port?: number; error?: string }> {
  return new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, method: 'POST', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, port: req.socket?.localPort }));
    });
    req.on('error', (err) => resolve({ error: err.message }));
    if (!chunked) req.setHeader('content-length', body.length);
    if (chunked) for (let at = 0; at < body.length; at += 4096) req.write(body.subarray(at, at + 4096));
    req.end(chunked ? undefined : body);
  });
}

describe('readRequestBody', () => {
  it('returns a body within the limit as text, declared or chunked', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect(await post(agent, Buffer.from('x'.repeat(1024)), false)).toMatchObject({ status: 200 });
    expect(await post(agent, Buffer.from('é'.repeat(200)), true)).toMatchObject({ status: 200 });
    expect(reads.at(-1)).toEqual({ ok: true, text: 'é'.repeat(200) });
    agent.destroy();
  });

  it('refuses a body over the limit, reads the rest, and keeps the connection for the next request', async () => {
    for (const chunked of [false, true]) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const refused = await post(agent, Buffer.alloc(32 * 1024, 'a'), chunked);
      expect(refused.status).toBe(413);
      expect(reads.at(-1)).toEqual({ ok: false, reason: 'too-large' });
      // The same socket answers the next request: the refused body was read to its end.
      const next = await post(agent, Buffer.from('ok'), false);
      expect(next).toEqual({ status: 200, port: refused.port });
      agent.destroy();
    }
  });

  it('cuts the connection when a refused body goes on past the discard bound', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const closed = new Promise<void>((resolve) => agent.once('free', (socket) => socket.once('close', () => resolve())));
    const answer = await post(agent, Buffer.alloc(1024 * 1024, 'a'), true);
    // The 413 may or may not reach the client before the cut; the connection ends either way.
    if (answer.status !== undefined) {
      expect(answer.status).toBe(413);
      await closed;
    } else {
      expect(answer.error).toMatch(/ECONNRESET|EPIPE|socket hang up/);
    }
    agent.destroy();
  });
});
