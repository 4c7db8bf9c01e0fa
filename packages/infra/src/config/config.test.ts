import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadConfig, portVar, prettyLogs, serviceEnvShape } from './config.js';

const Env = z.object({
  ...serviceEnvShape,
  PORT: portVar(4000),
  DATABASE_URL: z.string().regex(/^postgres:\/\//, 'expected a postgres:// URL'),
});

describe('loadConfig', () => {
  it('applies defaults; an unset NODE_ENV is production', () => {
    const config = loadConfig(Env, { DATABASE_URL: 'postgres://x' });
    expect(config).toMatchObject({ NODE_ENV: 'production', PORT: 4000, MAX_BATCH_SIZE: 20, DRAIN_DELAY_MS: 2500 });
    expect(prettyLogs(config)).toBe(false);
    expect(prettyLogs(loadConfig(Env, { DATABASE_URL: 'postgres://x', NODE_ENV: 'development' }))).toBe(true);
    expect(prettyLogs(loadConfig(Env, { DATABASE_URL: 'postgres://x', NODE_ENV: 'production', LOG_PRETTY: 'true' }))).toBe(false);
  });

  it.each([
    [{ PORT: 'abc', DATABASE_URL: 'postgres://x' }, /^invalid environment: PORT: expected a port \(0-65535\) \(got "abc"\)$/],
    [{ PORT: '70000', DATABASE_URL: 'postgres://x' }, /PORT: expected a port/],
    [{}, /DATABASE_URL: .*\(not set\)/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL: expected a postgres:\/\/ URL \(value hidden\)/],
    [
      { DATABASE_URL: 'postgres://x', SERVICE_KEY: 'short' },
      /^invalid environment: SERVICE_KEY: expected 16-256 characters .* \(value hidden\)$/,
    ],
    [
      { DATABASE_URL: 'postgres://x', TRUSTED_SERVICE_KEYS: 'notes=tooshort' },
      /TRUSTED_SERVICE_KEYS: keys of "notes" must be 16-256 characters/,
    ],
    [
      { DATABASE_URL: 'postgres://x', TRUSTED_SERVICE_KEYS: 'Bad Name=aaaaaaaaaaaaaaaaaaaa' },
      /TRUSTED_SERVICE_KEYS: entry 1 of 1: a service name must match/,
    ],
    [{ DATABASE_URL: 'postgres://x', NODE_ENV: 'staging' }, /NODE_ENV: /],
    [{ DATABASE_URL: 'postgres://x', MAX_BODY_BYTES: '-1' }, /MAX_BODY_BYTES: expected a positive whole number/],
    [{ DATABASE_URL: 'postgres://x', LOG_PRETTY: 'maybe' }, /LOG_PRETTY: expected true or false/],
  ])('rejects %j with one line naming the variable', (env, message) => {
    let error: unknown;
    try {
      loadConfig(Env, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(message);
    expect((error as ConfigError).message).not.toContain('\n');
  });
});
