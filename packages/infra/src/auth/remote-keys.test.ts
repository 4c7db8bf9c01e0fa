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

  it('refuses the token when no instance answers', async () => {
    const verify = createAccessTokenVerifier({ jwksUrl: [stopped, stopped] });
    await expect(verify(await issuer.sign(randomUUID()))).rejects.toBeInstanceOf(TokenRejectedError);
  });
});
