import { Counter, Gauge, type Registry } from 'prom-client';

/** What a counter or gauge is made of: its name, help text and label names. */
interface MetricSpec<L extends string> {
  name: string;
  help: string;
  labelNames: L[];
}

/**
 * The metric `spec.name` of `registry`, registered now unless a part of the process registered it
 * first (one Redis connection serves several users, each counting into the same metric). A metric
 * of that name but another type is a programming error and throws, naming it.
 */
function shared<M>(registry: Registry, spec: MetricSpec<string>, type: abstract new (...args: never[]) => M, create: () => M): M {
  const existing = registry.getSingleMetric(spec.name);
  if (existing === undefined) return create();
  if (!(existing instanceof type)) throw new Error(`metric ${spec.name} is registered already as another type`);
  return existing;
}

/** The counter `spec.name` of `registry`, shared by every part of the process that counts into it. */
export function sharedCounter<L extends string>(registry: Registry, spec: MetricSpec<L>): Counter<L> {
  return shared(registry, spec, Counter<L>, () => new Counter({ ...spec, registers: [registry] }));
}

/** The gauge `spec.name` of `registry`, shared by every part of the process that sets it. */
export function sharedGauge<L extends string>(registry: Registry, spec: MetricSpec<L>): Gauge<L> {
  return shared(registry, spec, Gauge<L>, () => new Gauge({ ...spec, registers: [registry] }));
}
