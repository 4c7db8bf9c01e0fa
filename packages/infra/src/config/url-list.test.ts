import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadConfig } from './config.js';
import { urlListVar } from './url-list.js';

const Env = z.object({ AUTH_URL: urlListVar('http://127.0.0.1:4002') });

describe('urlListVar', () => {
  it.each([
    [undefined, ['http://127.0.0.1:4002']],
    ['http://auth:4002', ['http://auth:4002']],
    ['http://a:4002,http://b:4003', ['http://a:4002', 'http://b:4003']],
    [' http://a:4002 , https://b:4003/base ', ['http://a:4002', 'https://b:4003/base']],
  ])('reads %j as a list of URLs', (value, urls) => {
    expect(loadConfig(Env, { AUTH_URL: value }).AUTH_URL).toEqual(urls);
  });

  it.each([
    ['ftp://a:4002', /^invalid environment: AUTH_URL: .*entry 1 of 1 \("ftp:\/\/a:4002"\) is not http\(s\) \(value hidden\)$/],
    ['http://a:4002,nope', /AUTH_URL: .*entry 2 of 2 \("nope"\) is not a URL/],
    ['http://a:4002,', /AUTH_URL: .*entry 2 of 2 \(""\) is empty/],
    ['', /AUTH_URL: .*entry 1 of 1 \(""\) is empty/],
    ['http://a:4002,redis://b:6379,http://c:4004', /AUTH_URL: .*entry 2 of 3 \("redis:\/\/b:6379"\) is not http\(s\)/],
  ])('refuses %j, naming the variable and the bad entry', (value, message) => {
    expect(() => loadConfig(Env, { AUTH_URL: value })).toThrow(ConfigError);
    expect(() => loadConfig(Env, { AUTH_URL: value })).toThrow(message);
  });

  it('hides the credentials of a bad entry', () => {
    const error = (() => {
      try {
        loadConfig(Env, { AUTH_URL: 'http://a:4002,ftp://user:s3@cret@b:21' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/entry 2 of 2 \("ftp:\/\/…@b:21"\)/);
    expect(error?.message).not.toContain('cret');
  });
});
