import type {
  TRPCBuiltRouter,
  TRPCMutationProcedure,
  TRPCQueryProcedure,
  TRPC_ERROR_CODE_KEY,
  TRPC_ERROR_CODE_NUMBER,
} from '@trpc/server';
import type { z } from 'zod';

/**
 * Who may call a procedure.
 * - `'public'`: anyone, signed in or not.
 * - `'user'`: any signed-in end user.
 * - `{ roles }`: a signed-in end user holding one of the roles.
 * - `'mesh'`: internal only; any service that mesh.json lets call this service (the service
 *   itself refuses every other caller), whatever user token it carries.
 * - `{ services }`: internal only; only the named services may call it, whatever user token they carry.
 */
export type AccessRule =
  | 'public'
  | 'user'
  | 'mesh'
  | { readonly roles: readonly [string, ...string[]] }
  | { readonly services: readonly [string, ...string[]] };

/** The kinds of procedure a contract may declare. Subscriptions are not part of the mesh yet. */
export type ProcedureKind = 'query' | 'mutation';

/**
 * One procedure of a contract: data only, no implementation.
 * @example
 * const getNote = { type: 'query', input: z.object({ id: z.uuid() }), output: NoteSchema, access: 'user' }
 */
export interface ProcedureDef<
  TKind extends ProcedureKind = ProcedureKind,
  TInput extends z.ZodType = z.ZodType,
  TOutput extends z.ZodType = z.ZodType,
> {
  readonly type: TKind;
  readonly input: TInput;
  readonly output: TOutput;
  /** Who may call it. */
  readonly access: AccessRule;
  /**
   * Whether running it twice has the same effect as once. Queries always are; a mutation marked
   * idempotent may be retried by the mesh client.
   * @default false for mutations
   */
  readonly idempotent?: boolean;
  /** The default deadline of one call, in milliseconds. @default the service's default */
  readonly timeoutMs?: number;
  /** Points one call takes from the caller's rate limit; 0 exempts it. @default 1 */
  readonly rateLimitCost?: number;
  /** One line for humans: shown in docs and logs. */
  readonly description?: string;
}

/** A service's contract: procedure name to definition. */
export type Contract = Readonly<Record<string, ProcedureDef>>;

/**
 * The longest timeout, in ms: Node's timers hold at most 2^31-1 ms (a longer one fires after 1 ms,
 * with only a warning).
 */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Declares a contract, keeping every literal type, and checks its shape at start-up.
 * @example export const notesContract = defineContract({ get: { type: 'query', ... } });
 */
export function defineContract<const C extends Contract>(contract: C): C {
  for (const [name, def] of Object.entries(contract)) {
    if (!/^[a-zA-Z][a-zA-Z0-9]*$/.test(name)) {
      throw new TypeError(`Contract procedure name "${name}" must be alphanumeric and start with a letter`);
    }
    if (
      def.timeoutMs !== undefined &&
      !(Number.isInteger(def.timeoutMs) && def.timeoutMs > 0 && def.timeoutMs <= MAX_TIMEOUT_MS)
    ) {
      throw new TypeError(
        `Contract procedure "${name}": timeoutMs must be a positive integer of at most ${MAX_TIMEOUT_MS} (Node's longest timer)`,
      );
    }
    if (def.rateLimitCost !== undefined && !(Number.isInteger(def.rateLimitCost) && def.rateLimitCost >= 0)) {
      throw new TypeError(`Contract procedure "${name}": rateLimitCost must be a whole number >= 0`);
    }
  }
  return contract;
}

/** The metadata every mesh procedure carries at run time (from its contract entry). */
export interface ProcedureMeta {
  readonly access: AccessRule;
  readonly idempotent: boolean;
  readonly timeoutMs?: number;
  readonly rateLimitCost: number;
}

/** One field-level problem with a request's input. `path` is dotted: `items.0.title`. */
export interface InputIssue {
  readonly path: string;
  readonly message: string;
  readonly code: string;
}

/** The `data` of every error the mesh sends: part of the wire contract. */
export interface MeshErrorData {
  /** tRPC's error code, e.g. `BAD_REQUEST`. */
  readonly code: TRPC_ERROR_CODE_KEY;
  /** Switchyard's stable error code from the catalog, e.g. `VALIDATION_FAILED`. */
  readonly appCode: string;
  readonly httpStatus: number;
  /** Whether the same call may succeed if repeated. */
  readonly retryable: boolean;
  readonly path?: string;
  readonly requestId?: string;
  /** Field-level problems, for `VALIDATION_FAILED`. */
  readonly issues?: readonly InputIssue[];
  /** Only in development mode, which must be set explicitly. */
  readonly stack?: string;
}

/** The error shape of every mesh procedure. */
export interface MeshErrorShape {
  readonly code: TRPC_ERROR_CODE_NUMBER;
  readonly message: string;
  readonly data: MeshErrorData;
}

/** The root types shared by every mesh router: superjson on the wire, the mesh error shape. */
export interface MeshRootTypes {
  ctx: object;
  meta: ProcedureMeta;
  errorShape: MeshErrorShape;
  transformer: true;
}

type ProcedureOf<P extends ProcedureDef> = P['type'] extends 'query'
  ? TRPCQueryProcedure<{ input: z.input<P['input']>; output: z.output<P['output']>; meta: ProcedureMeta }>
  : TRPCMutationProcedure<{ input: z.input<P['input']>; output: z.output<P['output']>; meta: ProcedureMeta }>;

/**
 * The tRPC router type a contract describes. A caller types its client with it while importing
 * only this package: `createTRPCClient<RouterOf<typeof notesContract>>(...)`.
 */
export type RouterOf<C extends Contract> = TRPCBuiltRouter<MeshRootTypes, { [K in keyof C & string]: ProcedureOf<C[K]> }>;
