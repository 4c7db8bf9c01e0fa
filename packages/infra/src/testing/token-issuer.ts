import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { ACCESS_TOKEN } from '../auth/access-token.js';

/** A stand-in auth for one service's tests: real ES256 keys, a real JWKS over HTTP, real tokens. */
export interface TestTokenIssuer {
  readonly jwksUrl: string;
  /** An access token for `userId` (a UUID), as the auth service would issue it. */
  sign(userId: string, options?: { roles?: string[]; iat?: number }): Promise<string>;
  close(): Promise<void>;
}

/** Starts a JWKS server on a free loopback port and signs access tokens with its key. */
export async function startTestTokenIssuer(): Promise<TestTokenIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = `test-${randomUUID()}`;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] });
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  return {
    jwksUrl,
    sign: (userId, options = {}) => {
      const jwt = new SignJWT({ roles: options.roles ?? ['member'] })
        .setProtectedHeader({ alg: 'ES256', typ: ACCESS_TOKEN.typ, kid })
        .setSubject(userId)
        .setIssuer(ACCESS_TOKEN.issuer)
        .setAudience(ACCESS_TOKEN.audience)
        .setJti(randomUUID())
        .setExpirationTime(`${ACCESS_TOKEN.lifetimeSeconds}s`);
      return (options.iat !== undefined ? jwt.setIssuedAt(options.iat) : jwt.setIssuedAt()).sign(privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
