import { SwitchyardError } from '../../errors/switchyard-error.js';
import { watchAbort } from '../scope.js';
import type { Step } from '../call.js';

/**
 * What follows answers, or the call fails as soon as its deadline passes or its caller goes away:
 * `DEADLINE_EXCEEDED` or `CLIENT_CLOSED_REQUEST`. The handler's signal fires at the same moment,
 * so work that honours it stops too. A result at hand needs no watch.
 */
export function deadline(): Step {
  return deadlineStep;
}

const deadlineStep: Step = (call, next) => {
  const work = next(call);
  if (!(work instanceof Promise)) return work;
  return new Promise((resolve, reject) => {
    const stop = watchAbort(call.ctx, (reason) => reject(abortError(reason)));
    work.then(
      (value) => {
        stop();
        resolve(value);
      },
      (error: unknown) => {
        stop();
        reject(error as Error);
      },
    );
  });
};

function abortError(reason: 'deadline' | 'gone'): SwitchyardError {
  return reason === 'deadline'
    ? new SwitchyardError('DEADLINE_EXCEEDED', 'The call did not finish within its deadline')
    : new SwitchyardError('CLIENT_CLOSED_REQUEST', 'The caller went away');
}
