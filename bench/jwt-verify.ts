// S10 (part): the cost of verifying an access token with jose, per algorithm: the choice of EdDSA
// for access tokens rests on this (every request to every service verifies one).
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';

const quick = process.argv.includes('--quick');
const N = quick ? 500 : 5_000;
const ROUNDS = quick ? 2 : 5;

async function costOf(alg: 'EdDSA' | 'ES256' | 'RS256' | 'HS256'): Promise<number[]> {
  let verifyKey: Parameters<typeof jwtVerify>[1];
  let signKey: Parameters<SignJWT['sign']>[0];
  if (alg === 'HS256') {
    verifyKey = signKey = new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!');
  } else {
    const pair = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
    signKey = pair.privateKey;
    // Verify with a key imported from a JWK, as a service does from the JWKS.
    verifyKey = await importJWK({ ...(await exportJWK(pair.publicKey)), alg }, alg);
  }
  const token = await new SignJWT({ roles: ['member'] })
    .setProtectedHeader({ alg, typ: 'at+jwt' })
    .setSubject('u')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(signKey);
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await jwtVerify(token, verifyKey, { algorithms: [alg] });
    rounds.push(((performance.now() - t0) * 1000) / N);
  }
  return rounds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<string, number> = {};
for (const alg of ['EdDSA', 'ES256', 'RS256', 'HS256'] as const) results[alg] = median(await costOf(alg));
for (const [alg, us] of Object.entries(results))
  process.stdout.write(`${alg.padEnd(6)} verify: ${us.toFixed(1)} us (x${(us / results.EdDSA!).toFixed(2)} of EdDSA)\n`);
