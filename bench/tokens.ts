// Access tokens for the benchmarks' sy-* servers: they trust this process's key pair's public half
// (BENCH_PUBLIC_JWK in their environment), and each measurement sends a fresh token signed with the
// private half (tokens live five minutes).
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { ACCESS_TOKEN } from '../packages/infra/src/auth/access-token.js';

const keys = await generateKeyPair('ES256');

/** The public key, as the servers read it from BENCH_PUBLIC_JWK. */
export const PUBLIC_JWK = JSON.stringify(await exportJWK(keys.publicKey));

/** A new access token for a random user, valid for five minutes. */
export const freshToken = (): Promise<string> =>
  new SignJWT({ roles: [] })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench' })
    .setSubject(randomUUID())
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('5m')
    .setIssuer(ACCESS_TOKEN.issuer)
    .setAudience(ACCESS_TOKEN.audience)
    .sign(keys.privateKey);
