import { TRPCError } from '@trpc/server';
import type { InputIssue } from '@switchyard/api-contracts';
import { ERROR_CATALOG, type ErrorCode } from './catalog.js';

/** Options of {@link SwitchyardError}. */
export interface SwitchyardErrorOptions {
  /** The underlying error: kept for logs, never sent. */
  cause?: unknown;
  /** Field-level problems (with `VALIDATION_FAILED`). */
  issues?: readonly InputIssue[];
}

/**
 * The mesh's error: a stable catalog `code`, whether a retry may help, and a message that is safe to
 * show the caller. Throw it from handlers; the formatter turns it into the wire shape.
 * @example throw new SwitchyardError('NOT_FOUND', 'Note not found');
 */
export class SwitchyardError extends TRPCError {
  readonly appCode: ErrorCode;
  readonly retryable: boolean;
  readonly issues: readonly InputIssue[] | undefined;

  constructor(code: ErrorCode, message: string, options: SwitchyardErrorOptions = {}) {
    const entry = ERROR_CATALOG[code];
    super({ code: entry.trpc, message, cause: options.cause });
    this.name = 'SwitchyardError';
    this.appCode = code;
    this.retryable = entry.retryable;
    this.issues = options.issues;
  }
}

/** A `VALIDATION_FAILED` error for one field, for checks that a schema cannot express. */
export function invalidField(path: string, message: string): SwitchyardError {
  return new SwitchyardError('VALIDATION_FAILED', `Invalid input: ${path}: ${message}`, {
    issues: [{ path, message, code: 'custom' }],
  });
}
