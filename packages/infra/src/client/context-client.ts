import { randomUUID } from 'node:crypto';
import { isWellFormedId } from '../wire/index.js';
import type { CallContext } from './service-client-types.js';

/** What the client keeps with each outbound call, read when its request's headers are made. */
export interface AttemptContext {
  budgetMs: number;
  trace: Record<string, string>;
  /** The `headers` option's answer for this call, when there is that option. */
  headers: Record<string, string> | undefined;
  /** The request context the call was made for. */
  scope: ContextClient;
}

/**
 * The calls made through one client of {@link ServiceClient.with}: the target of its Proxy. Its
 * fields are private, so the client shows no keys of its own.
 */
export class ContextClient {
  readonly #ctx: CallContext | undefined;
  #key: string | undefined = undefined;

  constructor(ctx: CallContext | undefined) {
    this.#ctx = ctx;
  }

  get ctx(): CallContext | undefined {
    return this.#ctx;
  }

  /**
   * The client's idempotency key, made on first use: a retried idempotent mutation carries the
   * same key, so a server with idempotency keys runs it once. Calls without a context get none.
   */
  idempotencyKey(): string | undefined {
    const ctx = this.#ctx;
    if (!ctx) return undefined;
    return (this.#key ??= isWellFormedId(ctx.requestId) ? `${ctx.requestId.slice(0, 60)}.${randomUUID()}` : randomUUID());
  }
}
