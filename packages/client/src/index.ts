import {
  TRPCClientError,
  createTRPCClient,
  httpBatchLink,
  httpLink,
  splitLink,
  type TRPCClient,
  type TRPCLink,
} from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import superjson from 'superjson';
import { meshContracts, type MeshRouters, type NotesRouter } from '@switchyard/api-contracts';
import { budgetOf, idempotencyKeyOf } from './failure.js';
import { callPolicies, type PolicyOptions } from './policies.js';

export { type PolicyOptions } from './policies.js';

/** The services a client reaches (mesh.json's), by the name the gateway routes (`/api/<name>/trpc`). */
export type SwitchyardRouters = MeshRouters;

/** The tokens of a sign-in (the refresh token is empty when it lives in the browser's cookie). */
export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
}

/** Options of {@link createSwitchyardClient}. */
export interface SwitchyardClientOptions extends PolicyOptions {
  /** The gateway, e.g. `http://127.0.0.1:8080`; `''` for the page's own origin in a browser. */
  baseUrl: string;
  /**
   * Where the refresh token lives: `token` (default) keeps it in this client (programs);
   * `cookie` leaves it in auth's HttpOnly cookie and sends the CSRF header (browsers, same origin).
   */
  session?: 'token' | 'cookie';
  /** A sign-in to start from (e.g. stored by the program). */
  tokens?: SessionTokens;
  /** Called whenever the tokens change (sign-in, refresh, sign-out: `undefined`). */
  onTokens?: (tokens: SessionTokens | undefined) => void;
  /** Calls per HTTP batch: the services' `MAX_BATCH_SIZE`. @default 20 */
  maxBatchSize?: number;
  fetch?: typeof fetch;
}

/** A typed client of the whole mesh: one tRPC client (one batching link) per service. */
export type SwitchyardClient = { [K in keyof SwitchyardRouters]: TRPCClient<SwitchyardRouters[K]> } & {
  /** Signs in; later calls carry the access token, refreshed when it expires. */
  signIn(email: string, password: string): Promise<void>;
  /** In a browser: signs in again from auth's cookie, if there is a live sign-in. */
  resume(): Promise<boolean>;
  /** Ends this sign-in (its refresh token and its access tokens everywhere). */
  signOut(): Promise<void>;
  readonly signedIn: boolean;
};

/** auth's procedures whose 401 means wrong credentials, not an expired access token. */
const SIGN_IN_PROCEDURES: ReadonlySet<string> = new Set(['login', 'register', 'refresh', 'logout']);

const csrfToken = () =>
  /(?:^|;\s*)sy_csrf=([^;]+)/.exec((globalThis as { document?: { cookie: string } }).document?.cookie ?? '')?.[1];

/**
 * Typed clients of the mesh for code outside it, from the contracts alone:
 * `client.notes.list.query({})`. Calls to one service made in the same tick travel in one HTTP
 * request (httpBatchLink + superjson); each call has a timeout and each attempt a per-try
 * timeout, queries (and mutations with `context: { idempotencyKey }`) are retried on failures that
 * may pass (network, no answer in time, 429, 502-504, honouring Retry-After), a mutation whose
 * answer was lost or late is reported as `OUTCOME_UNKNOWN` instead of being repeated, and an expired
 * access token is refreshed once, for all calls waiting on it.
 * @example
 * const client = createSwitchyardClient({ baseUrl: 'http://127.0.0.1:8080' });
 * await client.signIn('ada@example.com', 'correct horse 42');
 * const { items } = await client.notes.list.query({ limit: 10 });
 */
export function createSwitchyardClient(options: SwitchyardClientOptions): SwitchyardClient {
  const base = options.baseUrl.replace(/\/$/, '');
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const cookieMode = options.session === 'cookie';
  let tokens = options.tokens;
  const setTokens = (next: SessionTokens | undefined) => {
    tokens = next;
    options.onTokens?.(next);
  };

  /** Calls auth directly (no links): the refresh must not wait behind the calls it unblocks. */
  const authCall = async <T>(procedure: string, input: unknown, extraHeaders: Record<string, string> = {}): Promise<T> => {
    const res = await doFetch(`${base}/api/auth/trpc/${procedure}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...extraHeaders },
      body: JSON.stringify(superjson.serialize(input)),
      credentials: 'same-origin',
    });
    const body = (await res.json().catch(() => undefined)) as
      { result?: { data: { json: unknown; meta?: unknown } }; error?: { json: { message: string } } } | undefined;
    if (!res.ok || !body?.result) {
      throw new TRPCClientError(body?.error?.json.message ?? `auth.${procedure} failed with HTTP ${res.status}`);
    }
    return superjson.deserialize(body.result.data as Parameters<typeof superjson.deserialize>[0]) as T;
  };

  let refreshing: Promise<boolean> | undefined;
  /** One refresh at a time; every call that met an expired token waits for it. */
  const refresh = () =>
    (refreshing ??= (async () => {
      try {
        if (!cookieMode && !tokens?.refreshToken) return false;
        const next = await authCall<SessionTokens>(
          'refresh',
          cookieMode ? {} : { refreshToken: tokens!.refreshToken },
          cookieMode ? { 'x-csrf-token': csrfToken() ?? '' } : {},
        );
        setTokens({ accessToken: next.accessToken, refreshToken: cookieMode ? '' : next.refreshToken });
        return true;
      } catch {
        setTokens(undefined);
        return false;
      } finally {
        refreshing = undefined;
      }
    })());

  const authorization = (): Record<string, string> =>
    tokens?.accessToken ? { authorization: `Bearer ${tokens.accessToken}` } : {};
  const fetchLink = (url: string | URL | Request, init?: RequestInit | object) =>
    doFetch(url as string, { ...(init as RequestInit), credentials: 'same-origin' });
  // Every router shares the mesh's root config (superjson), so one link chain type fits them all.
  // Calls carry their attempt's budget as x-deadline-ms; a mutation with an idempotency key goes
  // alone in its request, with its key as the Idempotency-Key header.
  const linksOf = (service: keyof SwitchyardRouters) => [
    callPolicies(options, { service, refresh, ...(service === 'auth' ? { noRefresh: SIGN_IN_PROCEDURES } : {}) }),
    splitLink<NotesRouter>({
      condition: (op) => op.type === 'mutation' && idempotencyKeyOf(op.context) !== undefined,
      true: httpLink<NotesRouter>({
        url: `${base}/api/${service}/trpc`,
        transformer: superjson,
        headers: ({ op }) => ({ ...authorization(), ...budgetOf([op]), 'idempotency-key': idempotencyKeyOf(op.context)! }),
        fetch: fetchLink,
      }),
      false: httpBatchLink<NotesRouter>({
        url: `${base}/api/${service}/trpc`,
        transformer: superjson,
        maxItems: options.maxBatchSize ?? 20,
        headers: ({ opList }) => ({ ...authorization(), ...budgetOf(opList) }),
        fetch: fetchLink,
      }),
    }) as TRPCLink<AnyTRPCRouter>,
  ];
  const clientOf = <R extends AnyTRPCRouter>(service: keyof SwitchyardRouters) =>
    createTRPCClient<R>({ links: linksOf(service) as TRPCLink<R>[] });

  const services = Object.fromEntries(
    Object.keys(meshContracts).map((name) => [name, clientOf(name as keyof SwitchyardRouters)]),
  ) as { [K in keyof SwitchyardRouters]: TRPCClient<SwitchyardRouters[K]> };
  const client = {
    ...services,
    async signIn(email: string, password: string) {
      const next = await authCall<SessionTokens>('login', { email, password, useCookie: cookieMode });
      setTokens({ accessToken: next.accessToken, refreshToken: cookieMode ? '' : next.refreshToken });
    },
    async resume() {
      if (!cookieMode && !tokens?.refreshToken) return false;
      if (cookieMode && !csrfToken()) return false;
      return refresh();
    },
    async signOut() {
      const current = tokens;
      setTokens(undefined);
      await authCall('logout', cookieMode ? {} : { refreshToken: current?.refreshToken }, {
        ...(current?.accessToken ? { authorization: `Bearer ${current.accessToken}` } : {}),
        ...(cookieMode ? { 'x-csrf-token': csrfToken() ?? '' } : {}),
      }).catch(() => undefined);
    },
    get signedIn() {
      return tokens !== undefined;
    },
  };
  return client;
}
