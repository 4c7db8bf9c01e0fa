/** A check of a dependency for the readiness body: resolves when it answers. */
export type DependencyCheck = () => Promise<unknown>;

/** The state an instance reports on `/ready`. */
export type Readiness = 'starting' | 'ready' | 'draining';

/** The body of `/ready`. */
export interface ReadinessReport {
  status: Readiness;
  dependencies: Record<string, 'up' | 'down'>;
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
