import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const FORMAT = new RegExp(`^rt1\\.(${UUID})\\.(${UUID})\\.([A-Za-z0-9_-]{43})$`);

/** A refresh token taken apart: `rt1.<family>.<id>.<secret>`. */
export interface RefreshTokenParts {
  family: string;
  id: string;
  secret: string;
  /** The whole token, as presented. */
  token: string;
}

/** The parts of a well-formed refresh token; `undefined` for anything else (never a database error). */
export function parseRefreshToken(token: string): RefreshTokenParts | undefined {
  const match = FORMAT.exec(token);
  if (!match) return undefined;
  const [, family, id, secret] = match as unknown as [string, string, string, string];
  return { family, id, secret, token };
}

/** What the database keeps of a token's secret: its SHA-256, base64url. */
export const secretHash = (secret: string): string => createHash('sha256').update(secret).digest('base64url');

const assemble = (family: string, id: string, secret: string): RefreshTokenParts => ({
  family,
  id,
  secret,
  token: `rt1.${family}.${id}.${secret}`,
});

/** The first token of a new family: every part random. */
export function firstRefreshToken(): RefreshTokenParts {
  return assemble(randomUUID(), randomUUID(), randomBytes(32).toString('base64url'));
}

/** 16 bytes as a UUID string, marked version 8 (custom) with the RFC 9562 variant. */
function asUuid(bytes: Buffer): string {
  const b = Buffer.from(bytes);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The successor of a refresh token, derived (HMAC-SHA512) from the token with a key of its own
 * derived from `serverSecret`: the same token always gets the same successor, so a token presented
 * again within the grace period recomputes exactly its family's current token, and the database
 * keeps hashes only. Without `serverSecret` nobody can compute a successor; with it and one token
 * of a family, they can compute the later ones, so the secret is guarded as the one that seals the
 * signing keys.
 *
 * @example
 * const successorOf = createSuccessorDeriver(config.AUTH_KEY_SECRET);
 * successorOf(parts).token; // rt1.<same family>.<derived id>.<derived secret>
 */
export function createSuccessorDeriver(serverSecret: string): (token: RefreshTokenParts) => RefreshTokenParts {
  const key = createHmac('sha256', serverSecret).update('refresh-successor').digest();
  return (token) => {
    const mac = createHmac('sha512', key).update(token.token).digest();
    return assemble(token.family, asUuid(mac.subarray(0, 16)), mac.subarray(16, 48).toString('base64url'));
  };
}
