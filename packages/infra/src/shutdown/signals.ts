import type { Logger } from 'pino';

/** What {@link exitOnSignals} stops. */
export interface Stoppable {
  shutdown(reason: string): Promise<{ clean: boolean }>;
}

/**
 * Drains the service on SIGTERM or SIGINT, then exits: 0 after a clean drain, 1 when the hard
 * deadline cut requests. A second signal while draining exits at once with 1. Call it in a
 * service's `main.ts` only (it owns the process).
 */
export function exitOnSignals(service: Stoppable, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal while draining: exiting now');
      process.exit(1);
    }
    stopping = true;
    service.shutdown(signal).then(
      ({ clean }) => {
        logger.flush?.();
        process.exit(clean ? 0 : 1);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
