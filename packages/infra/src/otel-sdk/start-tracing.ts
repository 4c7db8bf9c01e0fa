import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** A started tracing SDK: flush and stop it at shutdown. */
export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK for a service's process: W3C trace-context propagation, async
 * context, and spans exported over OTLP/HTTP to `endpoint` (e.g. `http://jaeger:4318`). Call it only
 * from a service's entry point, and only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; libraries use
 * `@opentelemetry/api` alone. `processors` replaces the exporter (tests use an in-memory one).
 */
export function startTracing(options: { service: string; endpoint?: string; processors?: SpanProcessor[] }): Tracing {
  const processors = options.processors ?? [
    new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.endpoint!.replace(/\/$/, '')}/v1/traces` })),
  ];
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.service }),
    spanProcessors: processors,
  });
  provider.register();
  return { shutdown: () => provider.shutdown() };
}
