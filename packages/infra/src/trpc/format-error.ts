import type { TRPCError, TRPCDefaultErrorShape } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { InputIssue, MeshErrorShape } from '@switchyard/api-contracts';
import { ERROR_CATALOG, errorCodeForTrpc, type ErrorCode } from '../errors/catalog.js';
import { SwitchyardError } from '../errors/switchyard-error.js';
import type { RequestContext } from './context.js';
import { requestIdScope } from './request-scope.js';

const GENERIC_INTERNAL_MESSAGE = 'Internal server error';
const MAX_ISSUES = 20;

type IssueLike = { message: string; code?: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> };

function issuesOf(cause: unknown): readonly IssueLike[] | undefined {
  const issues = (cause as { issues?: unknown } | undefined)?.issues;
  return Array.isArray(issues) ? (issues as IssueLike[]) : undefined;
}

function toInputIssue(issue: IssueLike): InputIssue {
  const path = (issue.path ?? []).map((part) => String(typeof part === 'object' && part !== null ? part.key : part)).join('.');
  return { path, message: issue.message, code: issue.code ?? 'invalid' };
}

/** Classifies any error into the catalog: its stable code and, for bad input, the field issues. */
export function classify(error: TRPCError): { appCode: ErrorCode; issues?: readonly InputIssue[] } {
  if (error instanceof SwitchyardError) return { appCode: error.appCode, ...(error.issues ? { issues: error.issues } : {}) };
  if (error.code === 'BAD_REQUEST' || error.code === 'PARSE_ERROR') {
    const raw = issuesOf(error.cause);
    if (raw) return { appCode: 'VALIDATION_FAILED', issues: raw.slice(0, MAX_ISSUES).map(toInputIssue) };
    if (error.message === 'Batch call exceeds maximum size') return { appCode: 'BATCH_TOO_LARGE' };
    if (error.code === 'PARSE_ERROR' || error.cause instanceof SyntaxError) return { appCode: 'PARSE_ERROR' };
  }
  if (error.code === 'NOT_FOUND' && error.message.startsWith('No procedure found on path')) {
    return { appCode: 'PROCEDURE_NOT_FOUND' };
  }
  return { appCode: errorCodeForTrpc(error.code) };
}

function safeMessage(error: TRPCError, appCode: ErrorCode, issues: readonly InputIssue[] | undefined, expose: boolean): string {
  if (appCode === 'VALIDATION_FAILED' && issues && !(error instanceof SwitchyardError)) {
    return `Invalid input: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`;
  }
  if (appCode === 'PROCEDURE_NOT_FOUND') return 'No such procedure';
  if (appCode === 'PARSE_ERROR') return 'The input is not valid JSON';
  // Input that a parser gave up on (superjson's walk out of stack, a malformed batch): the
  // parser's own text names internals, the caller learns only that the input was unreadable.
  if (error.code === 'BAD_REQUEST' && error.cause instanceof Error && !(error.cause instanceof SwitchyardError)) {
    return expose ? error.message : 'The input could not be read';
  }
  // A server fault's message may hold internals (SQL, hosts, stack text): only development sees it.
  if (error.code === 'INTERNAL_SERVER_ERROR' && !(error instanceof SwitchyardError)) {
    return expose ? error.message : GENERIC_INTERNAL_MESSAGE;
  }
  return error.message;
}

/**
 * The mesh's tRPC error formatter: a stable `appCode`, field paths for bad input, the request id,
 * and no stack or internal message unless the context says development mode.
 */
export function formatError(opts: {
  shape: TRPCDefaultErrorShape;
  error: TRPCError;
  ctx: RequestContext | undefined;
}): MeshErrorShape {
  const { shape, error, ctx } = opts;
  const expose = ctx?.mesh.exposeErrors ?? false;
  const { appCode, issues } = classify(error);
  const requestId = ctx?.requestId ?? requestIdScope.getStore();
  // The tRPC code follows the catalog's (a JSON syntax error is PARSE_ERROR, as JSON-RPC says).
  const trpcCode = ERROR_CATALOG[appCode].trpc === shape.data.code ? shape.data.code : ERROR_CATALOG[appCode].trpc;
  return {
    code: trpcCode === shape.data.code ? shape.code : TRPC_ERROR_CODES_BY_KEY[trpcCode],
    message: safeMessage(error, appCode, issues, expose),
    data: {
      code: trpcCode,
      appCode,
      httpStatus: shape.data.httpStatus,
      retryable: ERROR_CATALOG[appCode].retryable,
      ...(shape.data.path !== undefined ? { path: shape.data.path } : {}),
      ...(requestId !== undefined ? { requestId } : {}),
      ...(issues ? { issues } : {}),
      ...(expose && error.stack ? { stack: error.stack } : {}),
    },
  };
}
