import { SwitchyardError } from '../../errors/switchyard-error.js';
import { watchAbort } from '../scope.js';
import type { PipelineCall, Step } from '../call.js';

/**
 * How long a mutation that is not safe to repeat may still settle after its deadline passed, in ms:
 * its signal has fired, and a handler that committed its effect (its answer already on its way,
 * e.g. read by a process that was stopped) returns its result instead of a failure.
 */
export const MUTATION_SETTLE_MS = 250;

/**
 * What follows answers, or the call fails as soon as its deadline passes or its caller goes away:
 * `DEADLINE_EXCEEDED` or `CLIENT_CLOSED_REQUEST`. The handler's signal fires at the same moment,
 * so work that honours it stops too. A result at hand needs no watch.
 *
 * A mutation the contract does not mark idempotent tells what is known instead: past its deadline
 * it gets {@link MUTATION_SETTLE_MS} more to settle, then its own result or error (one caused by its
 * signal is `DEADLINE_EXCEEDED`: it stopped before its effect), else `OUTCOME_UNKNOWN` (it may have
 * taken effect, so a caller must not repeat it).
 */
export function deadline(): Step {
  return deadlineStep;
}

const deadlineStep: Step = (call, next) => {
  const work = next(call);
  if (!(work instanceof Promise)) return work;
  const settles = call.procedure.def.type === 'mutation' && call.procedure.def.idempotent !== true;
  return new Promise((resolve, reject) => {
    let late: NodeJS.Timeout | undefined;
    const stop = watchAbort(call.ctx, (reason) => {
      if (!settles || reason === 'gone') reject(abortError(reason));
      else late = setTimeout(() => reject(unknownOutcome()), MUTATION_SETTLE_MS);
    });
    work.then(
      (value) => {
        stop();
        clearTimeout(late);
        resolve(value);
      },
      (error: unknown) => {
        stop();
        clearTimeout(late);
        reject(stoppedBySignal(call, error) ? abortError('deadline') : (error as Error));
      },
    );
  });
};

/** A handler that ended because its signal fired (it throws the signal's reason or an AbortError). */
function stoppedBySignal(call: PipelineCall, error: unknown): boolean {
  const name = (error as { name?: unknown } | undefined)?.name;
  // The name first: reading the signal makes one when the handler never did.
  return (name === 'AbortError' || name === 'TimeoutError') && call.ctx.signal.aborted;
}

function abortError(reason: 'deadline' | 'gone'): SwitchyardError {
  return reason === 'deadline'
    ? new SwitchyardError('DEADLINE_EXCEEDED', 'The call did not finish within its deadline')
    : new SwitchyardError('CLIENT_CLOSED_REQUEST', 'The caller went away');
}

function unknownOutcome(): SwitchyardError {
  return new SwitchyardError(
    'OUTCOME_UNKNOWN',
    'The call passed its deadline while it ran: it may or may not have taken effect, so do not repeat it as it is',
  );
}
