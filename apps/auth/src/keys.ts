import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type pg from 'pg';
import { ACCESS_TOKEN } from '@switchyard/infra/auth';

interface KeyRow {
  kid: string;
  public_jwk: JWK;
  private_jwk_sealed: string;
  created_at: Date;
  retired_at: Date | null;
}

function sealer(secret: string) {
  const key = createHash('sha256').update(secret).digest();
  return {
    seal(plain: string): string {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
    },
    open(sealed: string): string {
      const [iv, tag, body] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
      const decipher = createDecipheriv('aes-256-gcm', key, iv!);
      decipher.setAuthTag(tag!);
      return Buffer.concat([decipher.update(body!), decipher.final()]).toString('utf8');
    },
  };
}

/**
 * The signing keys, in the auth database so every instance shares them and they survive restarts
 * (private halves sealed with AUTH_KEY_SECRET). The newest key signs; a retired key stays in the
 * JWKS until the last token it signed has expired.
 */
export function createKeyStore(pool: pg.Pool, secret: string) {
  const { seal, open } = sealer(secret);
  const graceMs = (ACCESS_TOKEN.lifetimeSeconds + ACCESS_TOKEN.clockToleranceSeconds) * 1000;

  async function rotate(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = `es-${randomUUID()}`;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL');
      await client.query('INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_sealed) VALUES ($1, $2, $3, $4)', [
        kid,
        'ES256',
        { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
        seal(JSON.stringify(await exportJWK(privateKey))),
      ]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
    return kid;
  }

  // The signing key, kept for a short while so signing costs no query; a rotation on another
  // instance is picked up within that while (both keys verify meanwhile).
  let signer: { kid: string; key: Awaited<ReturnType<typeof importJWK>>; loadedAt: number } | undefined;
  const signingKey = async () => {
    if (signer && Date.now() - signer.loadedAt < 30_000) return signer;
    const { rows } = await pool.query<KeyRow>(
      'SELECT kid, private_jwk_sealed FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1',
    );
    const row = rows[0];
    if (!row) throw new Error('no signing key');
    signer = {
      kid: row.kid,
      key: await importJWK(JSON.parse(open(row.private_jwk_sealed)) as JWK, 'ES256'),
      loadedAt: Date.now(),
    };
    return signer;
  };

  return {
    async rotate() {
      const kid = await rotate();
      signer = undefined;
      return kid;
    },

    /**
     * Makes sure a signing key exists and is younger than `maxAgeMs`, rotating otherwise.
     * Instances doing this together take turns (an advisory lock), so one key results.
     */
    async ensure(maxAgeMs: number): Promise<void> {
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock(7302001)');
        const { rows } = await client.query<{ age_ms: number }>(
          'SELECT extract(epoch FROM now() - created_at) * 1000 AS age_ms FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1',
        );
        if (!rows[0] || Number(rows[0].age_ms) > maxAgeMs) {
          await rotate();
          signer = undefined;
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock(7302001)').catch(() => undefined);
        client.release();
      }
    },

    /** The public keys that verify live tokens. */
    async jwks(): Promise<{ keys: JWK[] }> {
      const { rows } = await pool.query<KeyRow>(
        `SELECT kid, public_jwk FROM signing_keys WHERE retired_at IS NULL OR retired_at > now() - ($1::int * interval '1 millisecond') ORDER BY created_at DESC`,
        [graceMs],
      );
      return { keys: rows.map((r) => r.public_jwk) };
    },

    /** Signs an access token for `user`'s sign-in `sessionId` (its refresh family) with the newest key. */
    async signAccessToken(user: { id: string; roles: readonly string[] }, sessionId: string): Promise<string> {
      const { kid, key } = await signingKey();
      return new SignJWT({ roles: [...user.roles], sid: sessionId })
        .setProtectedHeader({ alg: 'ES256', typ: ACCESS_TOKEN.typ, kid })
        .setSubject(user.id)
        .setIssuer(ACCESS_TOKEN.issuer)
        .setAudience(ACCESS_TOKEN.audience)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime(`${ACCESS_TOKEN.lifetimeSeconds}s`)
        .sign(key);
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
