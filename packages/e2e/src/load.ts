import { performance } from 'node:perf_hooks';
import { TRPCClientError } from '@trpc/client';
import { notesContract } from '@switchyard/api-contracts';
import { createServiceClient } from '@switchyard/infra/client';

/** One call made by {@link startLoad}: when it started and ended (ms, performance.now()), and how. */
export interface CallRecord {
  kind: 'query' | 'mutation';
  start: number;
  end: number;
  /** Absent when the call succeeded. */
  appCode?: string;
  message?: string;
}

export interface Load {
  readonly calls: CallRecord[];
  /** Resolves when `maxCalls` calls are done (or the load was stopped). */
  readonly finished: Promise<CallRecord[]>;
  /** Stops starting calls and waits for those in flight. */
  stop(): Promise<CallRecord[]>;
}

/** Options of {@link startLoad}. */
export interface LoadOptions {
  gatewayUrl: string;
  token: string;
  concurrency: number;
  /** @default 200000 */
  maxCalls?: number;
  /**
   * Whether the mesh client retries a failed call (its default policy). Without, every call is
   * one attempt, so a failure counts what the gateway and the services did, not what the client
   * made good.
   */
  clientRetries: boolean;
}

/**
 * Bounded load on notes through the gateway with the mesh client (`@trpc/client` under the
 * policies): `concurrency` workers each make, at random, a query (`list`) or a mutation (`create`, not
 * idempotent, so a failure after sending surfaces as OUTCOME_UNKNOWN instead of being retried).
 */
export function startLoad(options: LoadOptions): Load {
  const client = createServiceClient({
    target: 'notes',
    contract: notesContract,
    url: `${options.gatewayUrl}/api/notes`,
    headers: () => ({ authorization: `Bearer ${options.token}` }),
    // The breaker would turn the handful of expected failures into fast failures of other calls.
    policies: { breaker: false, timeoutMs: 10_000, ...(options.clientRetries ? {} : { maxAttempts: 1 }) },
  }).with();
  const calls: CallRecord[] = [];
  let stopping = false;
  const maxCalls = options.maxCalls ?? 200_000;

  const one = async (kind: CallRecord['kind'], n: number) => {
    const record: CallRecord = { kind, start: performance.now(), end: 0 };
    try {
      if (kind === 'query') await client.list.query({ limit: 5 });
      else await client.create.mutate({ title: `load ${n}` });
    } catch (error) {
      record.appCode =
        error instanceof TRPCClientError ? String((error.data as { appCode?: string } | undefined)?.appCode ?? 'NONE') : 'THROWN';
      record.message = error instanceof Error ? error.message : String(error);
    } finally {
      record.end = performance.now();
      calls.push(record);
    }
  };

  let n = 0;
  const workers = Array.from({ length: options.concurrency }, async () => {
    for (; !stopping && n < maxCalls;) await one(Math.random() < 0.5 ? 'query' : 'mutation', n++);
  });
  const finished = Promise.all(workers).then(() => calls);
  return {
    calls,
    finished,
    async stop() {
      stopping = true;
      return finished;
    },
  };
}
