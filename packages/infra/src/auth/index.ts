export {
  ACCESS_TOKEN,
  TokenRejectedError,
  createAccessTokenVerifier,
  type AccessTokenVerifierOptions,
  type VerifiedAccess,
} from './access-token.js';
export { REVOCATIONS_CHANNEL, REVOCATIONS_HASH, REVOKED_SESSIONS_HASH, Revocations } from './revocations.js';
export { createUserVerification } from './user-verification.js';
