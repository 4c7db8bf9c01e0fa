import {
  ProxyTracerProvider,
  ROOT_CONTEXT,
  propagation,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import type { IncomingHttpHeaders } from 'node:http';

/** The tracer of the mesh runtime (a no-op until a service's entry point starts the SDK). */
export const tracer = trace.getTracer('@switchyard/infra');

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** The trace context an inbound request carries (`traceparent`, `tracestate`), or the root context. */
export function extractTraceContext(headers: IncomingHttpHeaders): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

/** Writes the trace headers for `context` into `carrier`. */
export function injectTraceContext(context: Context, carrier: Record<string, string>): void {
  propagation.inject(context, carrier);
}

/** The ids to put in log lines, when the span is being recorded or carries a remote context. */
export function traceFields(span: Span): { traceId: string; spanId: string } | undefined {
  const sc = span.spanContext();
  return trace.isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
}

const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a span for `parent` would be worth making: an SDK is registered, or the request carries a
 * trace (whose ids go on in outbound calls and log lines). Otherwise the server span, its context
 * and `context.with` are skipped: they would be no-ops that still cost allocations on every call.
 */
export function tracingWanted(parent: Context): boolean {
  if (trace.getSpan(parent) !== undefined) return true;
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}
