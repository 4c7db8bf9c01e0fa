import { z } from 'zod';

/**
 * A target's address: one base URL, or the base URLs of each of its instances.
 * @example const url: TargetUrl = ['http://auth-1:4002', 'http://auth-2:4003'];
 */
export type TargetUrl = string | readonly string[];

/**
 * The URLs of `url`, a list whichever way it was given.
 * @example urlsOf('http://auth:4002') // ['http://auth:4002']
 */
export const urlsOf = (url: TargetUrl): readonly string[] => (typeof url === 'string' ? [url] : url);

/** `user:password@` of a URL, to its last `@` (a password may hold one): hidden when an entry is shown in an error. */
const CREDENTIALS = /\/\/[^/]*@/;

/** Why `entry` is not an http(s) URL, or undefined when it is one. */
function problemOf(entry: string): string | undefined {
  if (entry === '') return 'is empty';
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return 'is not a URL';
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'is not http(s)';
}

/**
 * A service's address from the environment: one http(s) URL, or the URLs of its instances
 * separated by commas (spaces around them are ignored). Gives the list; a bad entry fails
 * start-up with its position and the entry itself, credentials hidden, e.g.
 * `AUTH_URL: entry 2 of 2 ("ftp://b:4003") is not http(s)`.
 * @example AUTH_URL: urlListVar('http://127.0.0.1:4002') // AUTH_URL=http://a:4002,http://b:4003
 */
export const urlListVar = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const entries = value.split(',').map((entry) => entry.trim());
      for (const [i, entry] of entries.entries()) {
        const problem = problemOf(entry);
        if (!problem) continue;
        const shown = JSON.stringify(entry.replace(CREDENTIALS, '//…@'));
        const message = `expected http(s) URLs separated by commas: entry ${i + 1} of ${entries.length} (${shown}) ${problem}`;
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return entries;
    });
