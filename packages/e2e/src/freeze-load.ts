import { performance } from 'node:perf_hooks';
import { TRPCClientError } from '@trpc/client';
import { notesContract } from '@switchyard/api-contracts';
import { createSwitchyardClient } from '@switchyard/client';
import { createServiceClient } from '@switchyard/infra/client';

/** Which caller made a call: the typed client, the mesh's service client, or plain fetch (the gateway alone). */
export type Caller = 'client' | 'mesh' | 'raw';

/** One call of {@link startFreezeLoad}: times in ms (performance.now()); no `appCode` when it succeeded. */
export interface FreezeCall {
  caller: Caller;
  kind: 'query' | 'mutation';
  start: number;
  end: number;
  /** A create's title, unique to it, for reading it back. */
  title?: string;
  appCode?: string;
  retryable?: boolean;
  message?: string;
}

/** Options of {@link startFreezeLoad}. Durations in ms. */
export interface FreezeLoadOptions {
  gatewayUrl: string;
  token: string;
  workers: Record<Caller, number>;
  /** A mutation's deadline (the clients' overall timeout). */
  deadlineMs: number;
  /** One attempt's limit of a call that is safe to repeat. */
  perTryTimeoutMs: number;
  maxAttempts: number;
  /** The share of calls that are creates, from 0 to 1. @default 0.5 */
  mutationShare?: number;
}

type Call = (kind: FreezeCall['kind'], title: string) => Promise<unknown>;

/** Reads what a failed call said: its code and retry flag, from a client error or the gateway's JSON. */
function failure(error: unknown): Pick<FreezeCall, 'appCode' | 'retryable' | 'message'> {
  const data =
    error instanceof TRPCClientError ? (error.data as { appCode?: string; retryable?: boolean } | undefined) : undefined;
  const raw = (error as { body?: { appCode?: string; retryable?: boolean } }).body;
  const source = data ?? raw;
  return { appCode: source?.appCode ?? 'NONE', retryable: source?.retryable, message: (error as Error).message };
}

/** A call through the gateway with fetch alone: no timeout, no retry, what Caddy answers. */
function rawCall(gatewayUrl: string, token: string): Call {
  const base = `${gatewayUrl}/api/notes/trpc`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  return async (kind, title) => {
    const res =
      kind === 'query'
        ? await fetch(`${base}/list?input=${encodeURIComponent(JSON.stringify({ json: { limit: 5 } }))}`, { headers })
        : await fetch(`${base}/create`, { method: 'POST', headers, body: JSON.stringify({ json: { title } }) });
    const body = (await res.json()) as { error?: { appCode?: string; retryable?: boolean; json?: { data?: object } } };
    if (res.ok) return body;
    throw Object.assign(new Error(`HTTP ${res.status}`), { body: { ...body.error, ...body.error?.json?.data } });
  };
}

/**
 * Bounded load on notes through the gateway from three kinds of caller at once, each worker making
 * at random a query (`list`) or a `create` with a unique title (not idempotent, no key).
 */
export function startFreezeLoad(options: FreezeLoadOptions) {
  const { gatewayUrl, token, deadlineMs: timeoutMs, perTryTimeoutMs, maxAttempts } = options;
  const typed = createSwitchyardClient({
    baseUrl: gatewayUrl,
    tokens: { accessToken: token, refreshToken: '' },
    timeoutMs,
    perTryTimeoutMs,
    maxAttempts,
  });
  const mesh = createServiceClient({
    target: 'notes',
    contract: notesContract,
    url: `${gatewayUrl}/api/notes`,
    headers: () => ({ authorization: `Bearer ${token}` }),
    policies: { breaker: false, timeoutMs, perTryTimeoutMs, maxAttempts },
  }).with();
  const callers: Record<Caller, Call> = {
    client: (kind, title) => (kind === 'query' ? typed.notes.list.query({ limit: 5 }) : typed.notes.create.mutate({ title })),
    mesh: (kind, title) => (kind === 'query' ? mesh.list.query({ limit: 5 }) : mesh.create.mutate({ title })),
    raw: rawCall(gatewayUrl, token),
  };
  const calls: FreezeCall[] = [];
  let stopping = false;
  let n = 0;
  const worker = async (caller: Caller) => {
    while (!stopping) {
      const kind = Math.random() < (options.mutationShare ?? 0.5) ? 'mutation' : 'query';
      const record: FreezeCall = { caller, kind, start: performance.now(), end: 0 };
      if (kind === 'mutation') record.title = `freeze ${caller} ${n++}`;
      try {
        await callers[caller](kind, record.title ?? '');
      } catch (error) {
        Object.assign(record, failure(error));
      }
      record.end = performance.now();
      calls.push(record);
    }
  };
  const running = Promise.all(
    (Object.keys(options.workers) as Caller[]).flatMap((caller) =>
      Array.from({ length: options.workers[caller] }, () => worker(caller)),
    ),
  );
  return {
    calls,
    /** Stops starting calls and waits for those in flight. */
    async stop(): Promise<FreezeCall[]> {
      stopping = true;
      await running;
      return calls;
    },
    /** Every title among the user's notes, read page by page through the typed client. */
    async titles(): Promise<Set<string>> {
      const titles = new Set<string>();
      for (let cursor: string | undefined; ;) {
        const page = await typed.notes.list.query({ limit: 100, ...(cursor ? { cursor } : {}) });
        for (const note of page.items) titles.add(note.title);
        if (!page.nextCursor) return titles;
        cursor = page.nextCursor;
      }
    },
  };
}
