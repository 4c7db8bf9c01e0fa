import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page, type Response, type Route } from 'playwright-core';
import { REPO } from './repo.js';
import { startStack, type Stack } from './stack.js';

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
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
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

/** The contexts a test opened, and the page errors and dialogs they saw: checked and closed after it. */
const opened: Array<{ context: BrowserContext; problems: string[] }> = [];
afterEach(async () => {
  const problems = opened.flatMap((o) => o.problems);
  await Promise.all(opened.splice(0).map((o) => o.context.close()));
  expect(problems, 'page errors and dialogs').toEqual([]);
});

/** A fresh browser context (its own cookies) with one page on the web app. */
async function open(options: { viewport?: { width: number; height: number } } = {}) {
  const context = await browser.newContext(options);
  const entry = { context, problems: [] as string[] };
  opened.push(entry);
  const watch = (page: Page) => {
    page.on('pageerror', (err) => entry.problems.push(`page error: ${err.message}`));
    page.on('dialog', (dialog) => {
      entry.problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
  };
  context.on('page', watch);
  const page = await context.newPage();
  await page.goto(stack.gateway.url);
  return { context, page };
}

let accounts = 0;
/** An address no test used yet. */
const newEmail = (name: string) => `${name}-${++accounts}@example.com`;
const PASSWORD = 'a browser 2026 pass';

const focused = (page: Page) => page.evaluate(() => document.activeElement?.id);

/** Signs up from the signed-out page (filling the fields) and waits until the page is signed in. */
async function signUp(page: Page, email = newEmail('user')): Promise<string> {
  await page.fill('#sign-up-email', email);
  await page.fill('#sign-up-password', PASSWORD);
  await page.press('#sign-up-password', 'Enter');
  await expect.poll(() => focused(page), { timeout: 10_000 }).toBe('new-note-title');
  return email;
}

/** Creates a note from the keyboard, starting with the focus in the new note's title. */
async function createNote(page: Page, title: string, body: string) {
  await page.keyboard.type(title);
  await page.keyboard.press('Tab');
  await page.keyboard.type(body);
  await page.keyboard.press('Tab'); // to "Create note"
  await page.keyboard.press('Enter');
  await expect.poll(() => page.locator('.note h3', { hasText: title }).count()).toBe(1);
  await expect.poll(() => focused(page)).toBe('new-note-title');
}

/** Ids of the form fields without a label. */
const unlabelled = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('input, textarea')]
      .filter((el) => (el as HTMLInputElement).labels?.length === 0)
      .map((el) => el.id),
  );

describe('the web app in chromium, through Caddy', () => {
  it('signed out, the sign-in email has the focus and Tab reaches the sign-up form', async () => {
    const { page } = await open();
    await expect.poll(() => focused(page)).toBe('sign-in-email');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('sign-up-email');
  });

  it('an error appears next to the field that caused it: marked invalid, described by the error, focused', async () => {
    const { page } = await open();
    await page.fill('#sign-up-email', newEmail('weak'));
    await page.fill('#sign-up-password', 'short');
    await page.press('#sign-up-password', 'Enter');
    await expect.poll(() => page.textContent('#sign-up-password-error')).toMatch(/\S/);
    expect(await page.getAttribute('#sign-up-password', 'aria-invalid')).toBe('true');
    expect(await page.getAttribute('#sign-up-password', 'aria-describedby')).toBe('sign-up-password-error');
    expect(await focused(page)).toBe('sign-up-password');
    expect(await page.textContent('#sign-up-email-error')).toBe('');
  });

  it("signing up from the keyboard signs in: the new note's title has the focus; an empty title gets the server's error under it", async () => {
    const { page } = await open();
    await expect.poll(() => focused(page)).toBe('sign-in-email');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    await page.keyboard.type(newEmail('keyboard'));
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await expect.poll(() => focused(page), { timeout: 10_000 }).toBe('new-note-title');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('#new-note-title-error')).toMatch(/\S/);
    expect(await page.getAttribute('#new-note-title', 'aria-invalid')).toBe('true');
    expect(await page.locator('.note').count()).toBe(0);
  });

  it('notes are created from the keyboard alone, the focus back in the title each time', async () => {
    const { page } = await open();
    await signUp(page);
    for (const [title, body] of [
      ['Timetables', 'Trains leave on the hour.'],
      ['Signals', 'Red, amber, green.'],
      ['Sidings', 'Where wagons wait.'],
    ] as const) {
      await createNote(page, title, body);
    }
    expect(await page.locator('.note h3').allTextContents()).toEqual(['Sidings', 'Signals', 'Timetables']);
    expect(await page.locator('.note .body').first().textContent()).toBe('Where wagons wait.');
  });

  it('a note is edited and another deleted from the keyboard', async () => {
    const { page } = await open();
    await signUp(page);
    await createNote(page, 'Signals', 'Red, amber, green.');
    await createNote(page, 'Sidings', 'Where wagons wait.');
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
    await expect.poll(() => page.locator('.note h3').allTextContents()).toEqual(['Signals and points']);
  });

  it('the activity feed follows the events: created, edited, deleted', async () => {
    const { page } = await open();
    await signUp(page);
    await createNote(page, 'Timetables', 'Trains leave on the hour.');
    await createNote(page, 'Signals', 'Red, amber, green.');
    await page.getByRole('button', { name: 'Edit “Signals”' }).click();
    await page.fill('input[name=title]:not(#new-note-title)', 'Signals and points');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('.note h3', { hasText: 'Signals and points' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Delete “Timetables”' }).click();
    await expect
      .poll(() => page.locator('.feed li').allTextContents(), { timeout: 10_000 })
      .toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^Deleted a note/),
          expect.stringMatching(/^Edited Signals and points/),
          expect.stringMatching(/^Created Signals/),
          expect.stringMatching(/^Created Timetables/),
        ]),
      );
  });

  it("the status view shows every instance ready, and the notes instances' breakers towards auth closed", async () => {
    const { page } = await open();
    await signUp(page);
    await expect.poll(() => page.locator('table.status tbody tr').count()).toBe(5);
    expect(await page.locator('table.status tbody tr').allTextContents()).toEqual([
      'authready—',
      'notes #1ready→ auth: closed',
      'notes #2ready→ auth: closed',
      'notes #3ready→ auth: closed',
      'activityready—',
    ]);
  });

  it('every form field has a label: signed out, signed in, and while editing a note', async () => {
    const { page } = await open({ viewport: { width: 1200, height: 900 } });
    await expect.poll(() => page.locator('#sign-up-email').count()).toBe(1);
    expect(await unlabelled(page)).toEqual([]);
    await signUp(page);
    await createNote(page, 'Timetables', 'Trains leave on the hour.');
    expect(await unlabelled(page)).toEqual([]);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.getByRole('button', { name: 'Edit “Timetables”' }).click();
    await expect.poll(() => page.locator('.note form').count()).toBe(1);
    expect(await unlabelled(page)).toEqual([]);
  });

  it('a new page load keeps the sign-in: one refresh through the cookie, then one request per service', async () => {
    const { context, page } = await open();
    const email = await signUp(page);
    await createNote(page, 'Timetables', 'Trains leave on the hour.');
    await createNote(page, 'Signals', 'Red, amber, green.');
    await page.close();
    const fresh = await context.newPage();
    const api = recordApi(fresh);
    await fresh.goto(stack.gateway.url);
    await expect.poll(() => fresh.locator('.note h3').count(), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => fresh.locator('table.status tbody tr').count()).toBe(5);
    await expect.poll(() => fresh.textContent('.account')).toContain(email);
    const refreshes = api.filter((r) => r.method === 'POST' && r.path.startsWith('auth/trpc/refresh'));
    const queries = api.filter((r) => r.method === 'GET');
    expect(refreshes).toHaveLength(1);
    const services = new Set(queries.map((q) => q.path.split('/')[0]));
    expect([...services].sort()).toEqual(['activity', 'auth', 'notes']);
    expect(queries, JSON.stringify(api)).toHaveLength(services.size);
    expect(queries.find((q) => q.path.startsWith('activity/'))!.path).toMatch(/^activity\/trpc\/feed,meshStatus\?batch=1/);
    expect(api).toHaveLength(1 + services.size);
  });

  it("the refresh token never reaches script: an HttpOnly cookie on auth's path only", async () => {
    const { context, page } = await open();
    await signUp(page);
    await page.reload();
    await expect.poll(() => focused(page), { timeout: 10_000 }).toBe('new-note-title');
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'sy_rt')).toMatchObject({ httpOnly: true, path: '/api/auth/', sameSite: 'Strict' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('sy_rt');
  });

  it('sign out everywhere returns to the sign-in form, also after a reload', async () => {
    const { page } = await open();
    await signUp(page);
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await expect.poll(() => page.locator('#sign-in-email').count()).toBe(1);
    await page.reload();
    await expect.poll(() => page.locator('#sign-in-email').count()).toBe(1);
    expect(await page.locator('.note').count()).toBe(0);
  });

  it('text a user types is inserted as text: a note titled <img src=x onerror=alert(1)> shows literally and creates no element', async () => {
    const { page } = await open();
    await signUp(page);
    const title = '<img src=x onerror=alert(1)>';
    const body = '<b>bold</b><script>alert(2)</script>';
    const elements = () => page.evaluate(() => document.querySelectorAll('main img, main b, main script').length);
    await createNote(page, title, body);
    expect(await page.locator('.note h3').allTextContents()).toEqual([title]);
    expect(await page.locator('.note .body').allTextContents()).toEqual([body]);
    expect(await page.getByRole('button', { name: `Edit “${title}”` }).count()).toBe(1);
    // The feed shows the title as text too.
    await expect
      .poll(() => page.locator('.feed li').allTextContents(), { timeout: 10_000 })
      .toEqual([expect.stringMatching(/^Created <img src=x onerror=alert\(1\)>/)]);
    expect(await elements()).toBe(0);
    // Opened for editing, the title is the input's value, not markup.
    await page.getByRole('button', { name: `Edit “${title}”` }).click();
    await expect.poll(() => page.locator('.note input[name=title]').inputValue()).toBe(title);
    expect(await elements()).toBe(0);
  });

  it('two pages of one user reload at the same moment: both refresh with the same cookie and both stay signed in', async () => {
    const { context, page: first } = await open();
    const email = newEmail('tabs');
    const openAnother = async () => {
      const page = await context.newPage();
      await page.goto(stack.gateway.url);
      return page;
    };
    const signedIn = (page: Page) => expect.poll(() => page.textContent('.account'), { timeout: 10_000 }).toContain(email);
    await signUp(first, email);
    await signedIn(first);
    const second = await openAnother();
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
  }, 60_000);

  it('CORS: a page on an allowed origin can read the API; one on any other origin, or with Origin null, cannot', async () => {
    const { page } = await open();
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
  }, 60_000);
});
