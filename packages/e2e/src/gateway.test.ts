import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { ActivityRouter, AuthRouter, NotesRouter } from '@switchyard/api-contracts';
import { createSwitchyardClient, type SessionTokens } from '@switchyard/client';
import { pollUntil } from '@switchyard/infra/testing';
import { signUp } from './accounts.js';
import { settledAccessLog } from './gateway.js';
import { startPrometheus } from './prometheus.js';
import { REPO } from './repo.js';
import { startStack, type Stack } from './stack.js';

const ALLOWED = 'https://app.example.test';
let stack: Stack;
let token: string;

beforeAll(async () => {
  stack = await startStack({ corsOrigins: [ALLOWED, 'https://admin.example.test'] });
  token = await signUp(stack.gateway.url, 'gateway@example.com', 'through the gate 1');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

const withToken = () => ({ authorization: `Bearer ${token}` });

describe('the gateway (Caddy 2.6.2 with the repository Caddyfile)', () => {
  it('routes /api/<service>/ to every service, notes round-robin over its 3 instances', async () => {
    const notes = createTRPCClient<NotesRouter>({
      links: [httpLink({ url: `${stack.gateway.url}/api/notes/trpc`, transformer: superjson, headers: withToken })],
    });
    const activity = createTRPCClient<ActivityRouter>({
      links: [httpLink({ url: `${stack.gateway.url}/api/activity/trpc`, transformer: superjson, headers: withToken })],
    });
    const auth = createTRPCClient<AuthRouter>({
      links: [httpLink({ url: `${stack.gateway.url}/api/auth/trpc`, transformer: superjson, headers: withToken })],
    });
    const created = await notes.create.mutate({ title: 'via Caddy' });
    expect((await notes.get.query({ id: created.id })).title).toBe('via Caddy');
    expect((await auth.me.query({})).email).toBe('gateway@example.com');
    expect(Array.isArray((await activity.feed.query({})).items)).toBe(true);
    // The status view: every instance ready, notes' breaker towards auth closed.
    const status = await activity.meshStatus.query({});
    expect(status.services.map((s) => [s.name, s.instances.map((i) => i.ready)])).toEqual([
      ['auth', [true]],
      ['notes', [true, true, true]],
      ['activity', [true]],
    ]);
    expect(status.services[1]!.instances.map((i) => i.breakers)).toEqual([
      { auth: 'closed' },
      { auth: 'closed' },
      { auth: 'closed' },
    ]);

    const served = () => stack.notes.map((n) => n.current.logLines().filter((l) => l.msg === 'call').length);
    const before = served();
    for (let i = 0; i < 30; i++) await notes.list.query({});
    const after = served();
    // Round-robin: every instance takes about a third.
    for (let i = 0; i < 3; i++) expect(after[i]! - before[i]!).toBeGreaterThanOrEqual(8);
  });

  it('answers a batch of calls in one HTTP request', async () => {
    const mark = `batch-${Date.now()}`;
    const notes = createTRPCClient<NotesRouter>({
      links: [
        httpBatchLink({
          url: `${stack.gateway.url}/api/notes/trpc`,
          transformer: superjson,
          headers: () => ({ ...withToken(), 'x-test-mark': mark }),
        }),
      ],
    });
    const [a, b, c] = await Promise.all([notes.list.query({}), notes.list.query({ limit: 1 }), notes.list.query({ limit: 2 })]);
    expect([a, b, c].every((page) => Array.isArray(page.items))).toBe(true);
    const entries = (await settledAccessLog(stack.gateway)).filter((e) => e.request.headers['X-Test-Mark']?.[0] === mark);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.request.uri).toMatch(/^\/api\/notes\/trpc\/list,list,list\?batch=1/);
  });

  it('@switchyard/client: typed calls through the gateway, one request per service per tick, a stale access token refreshed once', async () => {
    const auth = createTRPCClient<AuthRouter>({
      links: [httpLink({ url: `${stack.gateway.url}/api/auth/trpc`, transformer: superjson })],
    });
    const { refreshToken, accessToken } = await auth.login.mutate({
      email: 'gateway@example.com',
      password: 'through the gate 1',
    });
    const notes = createTRPCClient<NotesRouter>({
      links: [
        httpLink({
          url: `${stack.gateway.url}/api/notes/trpc`,
          transformer: superjson,
          headers: { authorization: `Bearer ${accessToken}` },
        }),
      ],
    });
    await notes.create.mutate({ title: 'for the client' });
    const seen: Array<SessionTokens | undefined> = [];
    // An access token that no longer passes (here: not a token at all) and a live refresh token.
    const client = createSwitchyardClient({
      baseUrl: stack.gateway.url,
      tokens: { accessToken: 'expired.access.token', refreshToken },
      onTokens: (tokens) => seen.push(tokens),
    });
    const before = stack.gateway.accessLog().length;
    const [all, one, me] = await Promise.all([
      client.notes.list.query({}),
      client.notes.list.query({ limit: 1 }),
      client.auth.me.query({}),
    ]);
    expect(all.items.length).toBeGreaterThan(0);
    expect(one.items).toHaveLength(1);
    expect(me.email).toBe('gateway@example.com');
    // Calls to two services met the stale token at once: one refresh served them all.
    expect(seen).toHaveLength(1);
    expect(seen[0]!.refreshToken).not.toBe(refreshToken); // rotated
    // A wrong password is not an expired token: no refresh, the error as auth gave it.
    await expect(client.signIn('gateway@example.com', 'not the password 1')).rejects.toThrow(/Email or password is wrong/);
    expect(seen).toHaveLength(1);
    const uris = (await settledAccessLog(stack.gateway))
      .slice(before)
      .map((e) => `${e.request.method} ${e.request.uri.split('?')[0]}`);
    // Two list calls: one request failed (401), the refresh, one request retried, both batched.
    expect(uris.filter((u) => u === 'GET /api/notes/trpc/list,list')).toHaveLength(2);
    expect(uris.filter((u) => u === 'POST /api/auth/trpc/refresh')).toHaveLength(1);
    expect(uris.filter((u) => u === 'GET /api/auth/trpc/me')).toHaveLength(2);
    await client.signOut();
    expect(client.signedIn).toBe(false);
  });

  it('sets security headers, hides Server, compresses larger responses, and logs JSON without credentials', async () => {
    const res = await fetch(`${stack.gateway.url}/api/notes/trpc/list?input=${encodeURIComponent('{"json":{"limit":100}}')}`, {
      headers: { ...withToken(), 'accept-encoding': 'gzip' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('server')).toBeNull();
    expect(res.headers.get('strict-transport-security')).toBeNull(); // plain HTTP here: no HSTS
    expect(res.headers.get('x-request-id')).toMatch(/.+/);

    // A large response is compressed (fetch decodes it; the raw header says how it came).
    const notes = createTRPCClient<NotesRouter>({
      links: [httpLink({ url: `${stack.gateway.url}/api/notes/trpc`, transformer: superjson, headers: withToken })],
    });
    for (let i = 0; i < 20; i++) await notes.create.mutate({ title: `padding ${i}`, body: 'x'.repeat(200) });
    for (const encoding of ['zstd', 'gzip']) {
      const big = await fetch(`${stack.gateway.url}/api/notes/trpc/list?input=${encodeURIComponent('{"json":{"limit":50}}')}`, {
        headers: { ...withToken(), 'accept-encoding': encoding },
      });
      expect(big.headers.get('content-encoding')).toBe(encoding);
      await big.arrayBuffer();
    }
    const small = await fetch(`${stack.gateway.url}/api/notes/trpc/nothing`, { headers: { 'accept-encoding': 'gzip' } });
    expect(small.headers.get('content-encoding')).toBeNull();

    const log = stack.gateway.accessLog();
    expect(log.length).toBeGreaterThan(0);
    expect(stack.gateway.output()).not.toContain(token);
  });

  it('CORS: echoes an allowed origin exactly, with Vary and credentials; refuses others and Origin: null', async () => {
    const url = `${stack.gateway.url}/api/notes/trpc/list?input=${encodeURIComponent('{"json":{}}')}`;
    const allowed = await fetch(url, { headers: { ...withToken(), origin: ALLOWED } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('vary')).toMatch(/Origin/);

    for (const origin of [
      'https://evil.example.test',
      'https://app.example.test.evil.test',
      'http://app.example.test',
      `${ALLOWED} ${ALLOWED}`,
    ]) {
      const other = await fetch(url, { headers: { ...withToken(), origin } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      expect(other.headers.get('vary')).toMatch(/Origin/);
    }

    const preflight = (origin: string) =>
      fetch(`${stack.gateway.url}/api/notes/trpc/create`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type, authorization',
        },
      });
    const ok = await preflight(ALLOWED);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
    expect(ok.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(ok.headers.get('access-control-allow-origin')).not.toBe('*');
    const refused = await preflight('https://evil.example.test');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();

    const nullOrigin = await fetch(url, { headers: { ...withToken(), origin: 'null' } });
    expect(nullOrigin.status).toBe(403);
    expect(nullOrigin.headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight('null')).status).toBe(403);
  });

  it('404 for every service /metrics, /health and /ready path, and for unknown services', async () => {
    for (const service of ['auth', 'notes', 'activity']) {
      for (const path of ['metrics', 'health', 'ready', 'trpc/../metrics', '%2e%2e/metrics']) {
        const res = await fetch(`${stack.gateway.url}/api/${service}/${path}`);
        expect(res.status, `/api/${service}/${path}`).toBe(404);
        expect(await res.text()).not.toContain('# HELP');
      }
    }
    for (const path of ['/metrics', '/api/metrics', '/api/unknown/trpc/list', '/api']) {
      expect((await fetch(`${stack.gateway.url}${path}`)).status, path).toBe(404);
    }
    // The web app is served at /; a page navigation to a client route gets index.html.
    const home = await fetch(`${stack.gateway.url}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Switchyard');
    const navigation = await fetch(`${stack.gateway.url}/notes/123`, {
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(navigation.status).toBe(200);
    expect(navigation.headers.get('content-type')).toMatch(/^text\/html/);
    // The JWKS is public through the gateway; Caddy's own metrics are on the internal port only.
    expect((await fetch(`${stack.gateway.url}/api/auth/.well-known/jwks.json`)).status).toBe(200);
    const caddyMetrics = await fetch(stack.gateway.metricsUrl);
    expect(await caddyMetrics.text()).toContain('caddy_http_requests_total');
  });

  it('bodies over the service limit get 413 from the service, not a gateway error', async () => {
    const res = await fetch(`${stack.gateway.url}/api/notes/trpc/create`, {
      method: 'POST',
      headers: { ...withToken(), 'content-type': 'application/json' },
      body: JSON.stringify({ json: { title: 'big', body: 'x'.repeat(1_200_000) } }),
    });
    expect(res.status).toBe(413);
  });
});

describe('Prometheus (the Debian binary) against the running stack', () => {
  it('scrapes every target of deploy/prometheus/prometheus.yml, up, with the RED series, and loads the alert rules', async () => {
    const { prometheus, stopPrometheus } = await startPrometheus(stack);
    try {
      // Traffic for the RED series: calls through the gateway, one of them an error.
      const notes = createTRPCClient<NotesRouter>({
        links: [httpLink({ url: `${stack.gateway.url}/api/notes/trpc`, transformer: superjson, headers: withToken })],
      });
      await notes.list.query({});
      await expect(notes.get.query({ id: '00000000-0000-4000-8000-000000000000' })).rejects.toThrow();

      const query = async (expr: string) => {
        const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`);
        const body = (await res.json()) as {
          status: string;
          error?: string;
          data: { result: Array<{ metric: Record<string, string> }> };
        };
        expect(body.status, `${expr}: ${body.error}`).toBe('success');
        return body.data.result;
      };
      let targets: Array<{ labels: { job: string; instance: string }; health: string; lastError: string }> = [];
      // Scraped every second: every target up, and the error series there.
      await pollUntil(
        'every target scraped, up, with the error series',
        async () => {
          const res = await fetch(`${prometheus}/api/v1/targets`);
          targets = ((await res.json()) as { data: { activeTargets: typeof targets } }).data.activeTargets;
          return (
            targets.length > 0 &&
            targets.every((t) => t.health === 'up') &&
            (await query('switchyard_rpc_errors_total')).length > 0
          );
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      ).catch(() => undefined); // the assertions below say what was missing
      const jobs = targets.map((t) => `${t.labels.job} ${t.health} ${t.lastError}`).sort();
      expect(jobs).toEqual(['activity up ', 'auth up ', 'caddy up ', 'notes up ', 'notes up ', 'notes up ']);

      // RED: rate, errors, duration, for every service (and the gateway's own).
      const services = (rows: Array<{ metric: Record<string, string> }>) =>
        [...new Set(rows.map((r) => r.metric.service))].sort();
      expect(services(await query('sum by (service) (switchyard_rpc_requests_total)'))).toEqual(['activity', 'auth', 'notes']);
      expect(services(await query('sum by (service) (switchyard_rpc_duration_seconds_bucket)'))).toEqual([
        'activity',
        'auth',
        'notes',
      ]);
      expect(services(await query('sum by (service) (switchyard_rpc_errors_total)'))).toContain('notes');
      expect((await query('sum(caddy_http_requests_total)')).length).toBe(1);

      const rules = (await (await fetch(`${prometheus}/api/v1/rules`)).json()) as {
        data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> };
      };
      const loaded = rules.data.groups.flatMap((g) => g.rules);
      expect(loaded.length).toBeGreaterThanOrEqual(10);
      expect(loaded.filter((r) => r.health !== 'ok' && r.health !== 'unknown')).toEqual([]);

      // Every dashboard query is valid PromQL on the real server.
      const dir = join(REPO, 'deploy/grafana/dashboards');
      for (const file of await readdir(dir)) {
        const dashboard = JSON.parse(await readFile(join(dir, file), 'utf8')) as {
          panels: Array<{ targets: Array<{ expr: string }> }>;
        };
        for (const { expr } of dashboard.panels.flatMap((p) => p.targets)) {
          await query(expr.replaceAll('$service', '.*').replaceAll('$__rate_interval', '1m'));
        }
      }
    } finally {
      await stopPrometheus();
    }
  }, 90_000);
});
