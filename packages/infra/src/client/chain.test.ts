import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '@switchyard/api-contracts';
import { startTracing, type Tracing } from '../otel-sdk/start-tracing.js';
import { now, remainingMs } from '../policies/deadline.js';
import type { Service } from '../server/service.js';
import type { LogCapture } from '../testing/log-capture.js';
import { startTestService } from '../testing/test-service.js';
import { implement } from '../trpc/implement.js';
import { createServiceClient } from './service-client.js';
import type { ServiceClient } from './service-client-types.js';

const HopSchema = z.object({ service: z.string(), budgetMs: z.number(), requestId: z.string(), caller: z.string() });
const chainContract = defineContract({
  hop: { type: 'query', input: z.object({}), output: z.object({ hops: z.array(HopSchema) }), access: 'public' },
});

const KEYS = { a: 'key-of-service-a-0123456789', b: 'key-of-service-b-0123456789' };

interface Node {
  name: string;
  service: Service;
  url: string;
  logs: LogCapture;
}

async function startNode(name: string, next: ServiceClient<typeof chainContract> | undefined): Promise<Node> {
  const router = implement(chainContract, {
    hop: async ({ ctx }) => {
      // Work before calling on: the time it takes is what each hop's smaller budget shows.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const own = {
        service: name,
        budgetMs: remainingMs(ctx.deadlineAt, now()),
        requestId: ctx.requestId,
        caller: ctx.caller?.service ?? 'none',
      };
      const rest = next ? (await next.with(ctx).hop.query({})).hops : [];
      return { hops: [own, ...rest] };
    },
  });
  const { service, url, logs } = await startTestService({
    name,
    router,
    env: { TRUSTED_SERVICE_KEYS: `a=${KEYS.a};b=${KEYS.b}` },
  });
  return { name, service, url, logs };
}

describe('a chain A -> B -> C', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  const nodes: Node[] = [];

  beforeAll(async () => {
    tracing = startTracing({ service: 'chain-test', processors: [new SimpleSpanProcessor(exporter)] });
    const c = await startNode('c', undefined);
    const toC = createServiceClient({ target: 'c', contract: chainContract, url: c.url, caller: { service: 'b', key: KEYS.b } });
    const b = await startNode('b', toC);
    const toB = createServiceClient({ target: 'b', contract: chainContract, url: b.url, caller: { service: 'a', key: KEYS.a } });
    const a = await startNode('a', toB);
    nodes.push(a, b, c);
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.service.shutdown('done')));
    await tracing.shutdown();
  });

  it('shrinks the deadline at each hop, carries identity and request id, and shares one trace', async () => {
    const toA = createServiceClient({ target: 'a', contract: chainContract, url: nodes[0]!.url });
    const ctx = { requestId: 'chain-request-0001', deadlineAt: now() + 2_000, otel: ROOT_CONTEXT };
    const { hops } = await toA.with(ctx).hop.query({});

    expect(hops.map((h) => h.service)).toEqual(['a', 'b', 'c']);
    expect(hops.map((h) => h.caller)).toEqual(['none', 'a', 'b']);
    expect(hops.every((h) => h.requestId === 'chain-request-0001')).toBe(true);
    const [a, b, c] = hops.map((h) => h.budgetMs) as [number, number, number];
    expect(a).toBeLessThanOrEqual(2_000);
    // Each hop spends ~20 ms (a timer can fire a few ms early) plus its network time.
    expect(b).toBeLessThan(a - 10);
    expect(c).toBeLessThan(b - 10);

    const spans = exporter.getFinishedSpans();
    const traceIds = new Set(spans.map((s) => s.spanContext().traceId));
    expect(traceIds.size).toBe(1);
    // Client span of the test, then a server and a client span in A and B, and a server span in C.
    expect(spans.map((s) => s.name).sort()).toEqual(['a/hop', 'a/hop', 'b/hop', 'b/hop', 'c/hop', 'c/hop']);
    const [traceId] = [...traceIds];

    for (const node of nodes) {
      const line = node.logs.lines().find((l) => l.msg === 'call' && l.procedure === 'hop');
      expect(line, node.name).toMatchObject({ requestId: 'chain-request-0001', traceId, service: node.name, outcome: 'OK' });
      expect(node.logs.text()).not.toContain(KEYS.a);
      expect(node.logs.text()).not.toContain(KEYS.b);
    }
  });

  it('keeps each request its own id, deadline and trace when calls of two requests share batches', async () => {
    exporter.reset();
    const toA = createServiceClient({ target: 'a', contract: chainContract, url: nodes[0]!.url });
    const requests = [
      { requestId: 'chain-request-0002', deadlineAt: now() + 2_000, otel: ROOT_CONTEXT },
      { requestId: 'chain-request-0003', deadlineAt: now() + 1_000, otel: ROOT_CONTEXT },
    ];
    // Made in the same turn: one HTTP request to A, and A's two calls to B go together too.
    const answers = await Promise.all(requests.map((ctx) => toA.with(ctx).hop.query({})));

    answers.forEach(({ hops }, i) => {
      expect(hops.map((h) => h.service)).toEqual(['a', 'b', 'c']);
      expect(hops.every((h) => h.requestId === requests[i]!.requestId)).toBe(true);
      const [, b, c] = hops.map((h) => h.budgetMs) as [number, number, number];
      expect(c).toBeLessThan(b);
      // The second request's deadline is a second earlier all the way down.
      if (i === 1) expect(b).toBeLessThan(1_000);
      else expect(b).toBeGreaterThan(1_000);
    });
    // One trace per request: every server span of a request id is in that request's trace.
    const servers = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
    expect(servers).toHaveLength(6);
    const traceOf = new Map<unknown, Set<string>>();
    for (const span of servers) {
      const id = span.attributes['switchyard.request_id'];
      traceOf.set(id, (traceOf.get(id) ?? new Set()).add(span.spanContext().traceId));
    }
    expect([...traceOf.keys()].sort()).toEqual(['chain-request-0002', 'chain-request-0003']);
    const [first, second] = [...traceOf.values()];
    expect(first!.size).toBe(1);
    expect(second!.size).toBe(1);
    expect([...first!][0]).not.toBe([...second!][0]);
    // Each node's access lines carry each request's id with its own trace id.
    for (const node of nodes) {
      for (const [requestId, traces] of traceOf) {
        const line = node.logs.lines().find((l) => l.msg === 'call' && l.requestId === requestId);
        expect(line, `${node.name} ${String(requestId)}`).toMatchObject({ traceId: [...traces][0], outcome: 'OK' });
      }
    }
  });
});
