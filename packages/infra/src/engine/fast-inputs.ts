import type { IncomingMessage } from 'node:http';
import { TRPCError } from '@trpc/server';
import superjson from 'superjson';
import type { routerConfig } from './router-internals.js';

type Transformer = ReturnType<typeof routerConfig>['transformer'];
const EMPTY = Object.freeze({}) as Record<number, unknown>;

/** A request's body as text: the one read ahead (`req.body`, see readRequestBody), else read now. */
export function readBody(req: IncomingMessage): Promise<string> {
  const read = (req as { body?: unknown }).body;
  if (typeof read === 'string') return Promise.resolve(read);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

/** Errors from reading the inputs, as tRPC's `memo` wraps them (a BAD_REQUEST with the cause's message). */
function inputError(cause: unknown): TRPCError {
  if (cause instanceof TRPCError) return cause;
  return new TRPCError({ code: 'BAD_REQUEST', message: cause instanceof Error ? cause.message : 'Invalid input', cause });
}

/**
 * The router's input transformer. The parsed JSON is this request's own: superjson may revive it
 * in place instead of copying it.
 */
export function inputDeserializer(transformer: Transformer): (value: unknown) => unknown {
  return transformer.input === superjson
    ? (value) => superjson.deserialize(value as Parameters<typeof superjson.deserialize>[0], { inPlace: true })
    : (value) => transformer.input.deserialize(value);
}

/**
 * A request's inputs, parsed once when a call first reads its own (after that call's
 * middlewares), as the stock adapter does; a failure to parse is every call's error.
 */
export class LazyInputs {
  private inputs: Record<number, unknown> | undefined;
  private failure: TRPCError | undefined;

  constructor(
    private readonly text: string | null,
    private readonly batchSize: number | undefined,
    private readonly deserialize: (value: unknown) => unknown,
  ) {}

  /** Call `index`'s input; throws the request's input error. */
  at(index: number): unknown {
    if (!this.inputs && !this.failure) this.parse();
    if (this.failure) throw this.failure;
    return this.inputs![index];
  }

  /** Call `index`'s input if the inputs were parsed (for an error's shape). */
  parsed(index: number): unknown {
    return this.inputs?.[index];
  }

  private parse(): void {
    try {
      const raw: unknown = this.text ? JSON.parse(this.text) : undefined;
      if (raw === undefined) {
        this.inputs = EMPTY;
      } else if (this.batchSize === undefined) {
        this.inputs = { 0: this.deserialize(raw) };
      } else {
        if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
          throw new TRPCError({ code: 'BAD_REQUEST', message: '"input" needs to be an object when doing a batch call' });
        }
        const record = raw as Record<number, unknown>;
        const acc: Record<number, unknown> = {};
        for (let i = 0; i < this.batchSize; i++) if (record[i] !== undefined) acc[i] = this.deserialize(record[i]);
        this.inputs = acc;
      }
    } catch (cause) {
      this.failure = inputError(cause);
    }
  }
}
