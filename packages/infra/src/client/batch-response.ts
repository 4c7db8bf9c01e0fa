import type { IncomingMessage } from 'node:http';
import { TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import superjson from 'superjson';

/** A minimal `Response` for `TRPCClientError.meta.response` (status and headers, as the classifiers read them). */
export interface ResponseMeta {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
}

export function responseMeta(res: IncomingMessage): ResponseMeta {
  const status = res.statusCode ?? 0;
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: {
      get(name) {
        const value = res.headers[name.toLowerCase()];
        if (value === undefined) return null;
        return Array.isArray(value) ? value.join(', ') : value;
      },
    },
  };
}

type ClientError = TRPCClientError<AnyTRPCRouter>;

/** A response item as httpBatchLink's `transformResult` reads it: the data, or the server's error. */
export function itemOutcome(
  item: unknown,
  meta: { response: ResponseMeta; responseJSON: unknown },
): { data: unknown } | { error: ClientError } {
  if (item !== null && typeof item === 'object') {
    if ('error' in item) {
      const shape = superjson.deserialize((item as { error: Parameters<typeof superjson.deserialize>[0] }).error);
      return { error: TRPCClientError.from({ error: shape } as never, { meta }) as ClientError };
    }
    const result = (item as { result?: unknown }).result;
    if (result !== null && typeof result === 'object') {
      const { data } = result as { data?: Parameters<typeof superjson.deserialize>[0] };
      return { data: data === undefined ? undefined : superjson.deserialize(data, { inPlace: true }) };
    }
  }
  return { error: new TRPCClientError(`Bad response from the service (HTTP ${meta.response.status})`, { meta }) as ClientError };
}
