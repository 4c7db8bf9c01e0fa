import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page, type Response, type Route } from 'playwright-core';
import { REPO, startStack, type Stack } from './stack.js';

// The web app (apps/web, built with Vite) in Debian's chromium, driven by playwright-core, through
// Caddy against the whole stack. The screenshot lands in .test-results/ (a CI artifact).
const SCREENSHOT = join(REPO, '.test-results', 'web-main.png');

let stack: Stack;
let browser: Browser;
let webDir: string;
const origins: Server[] = [];
let allowedOrigin: string;
let otherOrigin: string;

/** A page on another origin that tries to read the gateway's answer, and says what it could. */
async function originServer(): Promise<string> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>other origin</title><p>other origin</p>');
  });
  origins.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  webDir = await mkdtemp(join(tmpdir(), 'switchyard-web-build-'));
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], {
    cwd: join(REPO, 'apps/web'),
    env: { ...process.env, WEB_OUT_DIR: webDir },
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stdout}${build.stderr}`);
  [allowedOrigin, otherOrigin] = await Promise.all([originServer(), originServer()]);
  stack = await startStack({ webRoot: webDir, corsOrigins: [allowedOrigin] });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await mkdir(join(REPO, '.test-results'), { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  for (const server of origins) server.close();
  await rm(webDir, { recursive: true, force: true });
});

/** The API requests a page makes (method and path after /api/). */
function recordApi(page: Page) {
  const seen: Array<{ method: string; path: string }> = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/api/')) seen.push({ method: request.method(), path: `${url.pathname.slice(5)}${url.search}` });
  });
  return seen;
}

describe('the web app in chromium, through Caddy', () => {
  it('sign up, keyboard-only note creation, edit, delete, field errors, activity, status; stays signed in across a reload; sign out everywhere', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('pageerror', (err) => consoleErrors.push(err.message));
    await page.goto(stack.gateway.url);

    // Signed out: the sign-in email has focus; Tab reaches the sign-up form. Keyboard only.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('sign-in-email');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('sign-up-email');
    await page.keyboard.type('browser@example.com');
    await page.keyboard.press('Tab');
    await page.keyboard.type('short');
    await page.keyboard.press('Enter');
    // The error is next to the field that caused it, and the field is marked invalid.
    await expect.poll(() => page.textContent('#sign-up-password-error')).toMatch(/\S/);
    expect(await page.getAttribute('#sign-up-password', 'aria-invalid')).toBe('true');
    expect(await page.getAttribute('#sign-up-password', 'aria-describedby')).toBe('sign-up-password-error');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('sign-up-password');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('a browser 2026 pass');
    await page.keyboard.press('Enter');

    // Signed in: the new note's title has focus.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id), { timeout: 10_000 }).toBe('new-note-title');
    // An empty title: the server's error appears under the title.
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('#new-note-title-error')).toMatch(/\S/);
    for (const [title, body] of [
      ['Timetables', 'Trains leave on the hour.'],
      ['Signals', 'Red, amber, green.'],
      ['Sidings', 'Where wagons wait.'],
    ] as const) {
      await page.keyboard.type(title);
      await page.keyboard.press('Tab');
      await page.keyboard.type(body);
      await page.keyboard.press('Tab'); // to "Create note"
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('.note h3', { hasText: title }).count()).toBe(1);
      await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('new-note-title');
    }

    // Edit and delete, from the keyboard.
    await page.getByRole('button', { name: 'Edit “Signals”' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.value)).toBe('Signals');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('Signals and points');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab'); // to "Save"
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.note h3', { hasText: 'Signals and points' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Delete “Sidings”' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.note h3', { hasText: 'Sidings' }).count()).toBe(0);

    // The activity feed follows the events; the status view shows every instance ready.
    await expect.poll(() => page.locator('.feed li').allTextContents(), { timeout: 10_000 }).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Deleted a note/), expect.stringMatching(/^Edited Signals and points/), expect.stringMatching(/^Created Timetables/)]),
    );
    const status = await page.locator('table.status tbody tr').allTextContents();
    expect(status).toEqual(['authready—', 'notes #1ready→ auth: closed', 'notes #2ready→ auth: closed', 'notes #3ready→ auth: closed', 'activityready—']);

    // Every form field has a label.
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, textarea')].filter((el) => (el as HTMLInputElement).labels?.length === 0).map((el) => el.id),
    );
    expect(unlabelled).toEqual([]);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // A new page load keeps the sign-in (refresh through the HttpOnly cookie). The first page load
    // makes one refresh, then one HTTP request per service it queries (activity's two queries batched).
    await page.close();
    const fresh = await context.newPage();
    fresh.on('pageerror', (err) => consoleErrors.push(err.message));
    const api = recordApi(fresh);
    await fresh.goto(stack.gateway.url);
    await expect.poll(() => fresh.locator('.note h3').count(), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => fresh.locator('table.status tbody tr').count()).toBe(5);
    await expect.poll(() => fresh.textContent('.account')).toContain('browser@example.com');
    const refreshes = api.filter((r) => r.method === 'POST' && r.path.startsWith('auth/trpc/refresh'));
    const queries = api.filter((r) => r.method === 'GET');
    expect(refreshes).toHaveLength(1);
    const services = new Set(queries.map((q) => q.path.split('/')[0]));
    expect([...services].sort()).toEqual(['activity', 'auth', 'notes']);
    expect(queries, JSON.stringify(api)).toHaveLength(services.size);
    expect(queries.find((q) => q.path.startsWith('activity/'))!.path).toMatch(/^activity\/trpc\/feed,meshStatus\?batch=1/);
    expect(api).toHaveLength(1 + services.size);
    // The refresh token never reaches script: HttpOnly, on auth's path only.
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'sy_rt')).toMatchObject({ httpOnly: true, path: '/api/auth/', sameSite: 'Strict' });
    expect(await fresh.evaluate(() => document.cookie)).not.toContain('sy_rt');

    // Sign out everywhere: back to the sign-in form, also after a reload.
    await fresh.getByRole('button', { name: 'Sign out everywhere' }).click();
    await expect.poll(() => fresh.locator('#sign-in-email').count()).toBe(1);
    await fresh.reload();
    await expect.poll(() => fresh.locator('#sign-in-email').count()).toBe(1);
    expect(consoleErrors).toEqual([]);
    await context.close();
  }, 120_000);

  it('two pages of one user reload at the same moment: both refresh with the same cookie and both stay signed in', async () => {
    const context = await browser.newContext();
    const consoleErrors: string[] = [];
    const open = async () => {
      const page = await context.newPage();
      page.on('pageerror', (err) => consoleErrors.push(err.message));
      await page.goto(stack.gateway.url);
      return page;
    };
    const signedIn = (page: Page) =>
      expect.poll(() => page.textContent('.account'), { timeout: 10_000 }).toContain('tabs@example.com');
    const first = await open();
    await first.fill('#sign-up-email', 'tabs@example.com');
    await first.fill('#sign-up-password', 'two tabs 2026 pass');
    await first.press('#sign-up-password', 'Enter');
    await signedIn(first);
    const second = await open();
    await signedIn(second);

    // Each page's refresh is held until the other's is in flight too, so both present the same
    // refresh cookie: the race two tabs reloading together run into.
    const held: Route[] = [];
    let bothHeld!: () => void;
    const together = new Promise<void>((resolve) => (bothHeld = resolve));
    await context.route(
      (url) => url.pathname === '/api/auth/trpc/refresh',
      async (route) => {
        held.push(route);
        if (held.length === 2) bothHeld();
        await together;
        await route.continue();
      },
    );
    const refreshes: Response[] = [];
    context.on('response', (response) => {
      if (new URL(response.url()).pathname === '/api/auth/trpc/refresh') refreshes.push(response);
    });
    await Promise.all([first.reload(), second.reload()]);
    for (const page of [first, second]) {
      await signedIn(page);
      expect(await page.locator('#sign-in-email').count()).toBe(0);
    }
    await context.unroute((url) => url.pathname === '/api/auth/trpc/refresh');
    expect(held).toHaveLength(2);
    expect(refreshes.map((r) => r.status())).toEqual([200, 200]);
    const cookieOf = (header: string | undefined) => /sy_rt=([^;,\s]+)/.exec(header ?? '')?.[1];
    const presented = await Promise.all(refreshes.map(async (r) => cookieOf((await r.request().allHeaders()).cookie)));
    const returned = await Promise.all(refreshes.map(async (r) => cookieOf((await r.allHeaders())['set-cookie'])));
    expect(presented[0]).toMatch(/^rt1\./);
    expect(presented[1]).toBe(presented[0]);
    expect(returned[0]).toMatch(/^rt1\./);
    expect(returned[1]).toBe(returned[0]);
    expect(returned[0]).not.toBe(presented[0]);

    // The shared successor rotates on the next load: still signed in.
    await first.reload();
    await signedIn(first);
    expect((await context.cookies()).find((c) => c.name === 'sy_rt')?.value).not.toBe(returned[0]);
    expect(consoleErrors).toEqual([]);
    await context.close();
  }, 60_000);

  it('CORS: a page on an allowed origin can read the API; one on any other origin, or with Origin null, cannot', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const attempt = (origin: string) =>
      page.goto(origin).then(() =>
        page.evaluate(async (gateway) => {
          try {
            const res = await fetch(`${gateway}/api/notes/trpc/list?input=${encodeURIComponent('{"json":{}}')}`, {
              credentials: 'include',
            });
            return `read ${res.status}`;
          } catch {
            return 'blocked';
          }
        }, stack.gateway.url),
      );
    expect(await attempt(allowedOrigin)).toBe('read 401'); // readable (and refused: no token)
    expect(await attempt(otherOrigin)).toBe('blocked');
    // A sandboxed document's Origin is "null". The listener is in place before the frame loads.
    await page.setContent(`<script>window.messages = []; addEventListener('message', (e) => messages.push(String(e.data)));</script>
      <iframe sandbox="allow-scripts" srcdoc="<script>
      fetch('${stack.gateway.url}/api/notes/trpc/list').then(() => parent.postMessage('read', '*'), () => parent.postMessage('blocked', '*'));
    </script>"></iframe>`);
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { messages: string[] }).messages.length), { timeout: 10_000 })
      .toBe(1);
    const fromNull = await page.evaluate(() => (window as unknown as { messages: string[] }).messages[0]);
    expect(fromNull).toBe('blocked');
    await context.close();
  }, 60_000);
});
