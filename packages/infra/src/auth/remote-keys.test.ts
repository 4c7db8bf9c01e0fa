import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestTokenIssuer, type TestTokenIssuer } from '../testing/token-issuer.js';
import { createAccessTokenVerifier, TokenRejectedError } from './access-token.js';

// A real JWKS server, and the address of one that has stopped (its port refuses connections).
let issuer: TestTokenIssuer;
let stopped = '';
beforeAll(async () => {
  issuer = await startTestTokenIssuer();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stopped = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  await new Promise((resolve) => server.close(resolve));
});
afterAll(() => issuer.close());

describe('the JWKS of several auth instances', () => {
  it('verifies a token with the keys of the next instance when the first is down', async () => {
    const verify = createAccessTokenVerifier({ jwksUrl: [stopped, issuer.jwksUrl] });
    const userId = randomUUID();
    expect((await verify(await issuer.sign(userId))).user.id).toBe(userId);
  });

  it('asks the instance that answered last first, so a failing one is asked once, not per token', async () => {
    let asked = 0;
    const failing = createServer((_req, res) => {
      asked++;
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/.well-known/jwks.json`;
      const verify = createAccessTokenVerifier({ jwksUrl: [url, issuer.jwksUrl] });
      for (let n = 0; n < 3; n++) {
        const userId = randomUUID();
        expect((await verify(await issuer.sign(userId))).user.id).toBe(userId);
      }
      expect(asked).toBe(1);
    } finally {
      await new Promise((resolve) => failing.close(resolve));
    }
  });

  it('refuses the token when no instance answers', async () => {
    const verify = createAccessTokenVerifier({ jwksUrl: [stopped, stopped] });
    await expect(verify(await issuer.sign(randomUUID()))).rejects.toBeInstanceOf(TokenRejectedError);
  });
});
