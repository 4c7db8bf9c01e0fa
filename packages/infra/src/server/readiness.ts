/** A check of a dependency for the readiness body: resolves when it answers. */
export type DependencyCheck = () => Promise<unknown>;

/** The state an instance reports on `/ready`. */
export type Readiness = 'starting' | 'ready' | 'draining';

/** The body of `/ready`. */
export interface ReadinessReport {
  status: Readiness;
  dependencies: Record<string, 'up' | 'down'>;
  /** The circuit breaker of each target this instance calls (`closed`, `open`, `half-open`, `isolated`). */
  breakers?: Record<string, string>;
}

const CHECK_TIMEOUT_MS = 500;

/**
 * Runs every dependency check (each bounded by 500 ms) for the readiness body. A shared dependency
 * being down is reported here but never fails readiness: otherwise one Redis or database outage
 * would take every instance out of the gateway at once.
 */
export async function checkDependencies(
  checks: Readonly<Record<string, DependencyCheck>>,
): Promise<ReadinessReport['dependencies']> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
      });
      try {
        await Promise.race([check(), timeout]);
        return [name, 'up'] as const;
      } catch {
        return [name, 'down'] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return Object.fromEntries(entries);
}

/** The last dependency report, refreshed in the background: `/ready` never waits on a dependency. */
export interface DependencyMonitor {
  /** The last results; starts a refresh when they are older than the maximum age. */
  snapshot(): ReadinessReport['dependencies'];
  /** Runs the checks now (at start, so the first answer is real). */
  refresh(): Promise<void>;
}

/**
 * Keeps the dependency report fresh without putting the checks on `/ready`'s path: a stalled
 * database or a frozen Redis must not make readiness slower than the gateway's health-check
 * timeout, which would take every instance out of rotation at once.
 */
export function dependencyMonitor(checks: Readonly<Record<string, DependencyCheck>>, maxAgeMs = 1_000): DependencyMonitor {
  let last: ReadinessReport['dependencies'] = {};
  let checkedAt = 0;
  let running: Promise<void> | undefined;
  const refresh = () =>
    (running ??= checkDependencies(checks)
      .then((report) => {
        last = report;
        checkedAt = Date.now();
      })
      .finally(() => {
        running = undefined;
      }));
  return {
    snapshot() {
      if (Date.now() - checkedAt > maxAgeMs) void refresh();
      return last;
    },
    refresh,
  };
}
