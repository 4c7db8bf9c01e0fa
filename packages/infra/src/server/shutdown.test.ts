import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../testing/poll.js';
import { sourceCommand, spawnService, type SpawnedService } from '../testing/spawn-service.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/test-service.ts', import.meta.url));
const spawned: SpawnedService[] = [];

function start(env: Record<string, string>) {
  return spawnService({
    command: sourceCommand(FIXTURE),
    cwd: process.cwd(),
    env: { HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', ...env },
  }).then((s) => {
    spawned.push(s);
    return s;
  });
}

afterEach(() => {
  for (const s of spawned.splice(0)) if (s.child.exitCode === null) s.child.kill('SIGKILL');
});

const slowCall = (url: string, ms: number) =>
  fetch(`${url}/trpc/slow?input=${encodeURIComponent(JSON.stringify({ json: { ms } }))}`);

/** Resolves once the service is serving `count` calls of `slow` (its in-flight gauge). */
const slowInFlight = (service: SpawnedService, count: number) =>
  pollUntil(`${count} slow call(s) in flight`, async () => {
    const text = await (await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`)).text();
    return new RegExp(`^switchyard_rpc_in_flight\\{[^}]*procedure="slow"[^}]*\\} ${count}$`, 'm').test(text);
  });

/** A response's status and the Connection header the service sent. */
const connectionOf = (response: Response) => ({ status: response.status, connection: response.headers.get('connection') });

describe('graceful shutdown (a real process)', () => {
  it('on SIGTERM: readiness 503 during the drain, in-flight and new requests complete, resources close in reverse, exit 0', async () => {
    // The drain delay and the in-flight call are long enough for the checks below to fit in the
    // drain on a loaded machine, and the call outlasts the drain (it is in flight at the close).
    const service = await start({ DRAIN_DELAY_MS: '2000', SHUTDOWN_TIMEOUT_MS: '8000' });
    expect((await fetch(`${service.url}/ready`)).status).toBe(200);
    // Before the drain, responses keep their connection open.
    expect(connectionOf(await slowCall(service.url, 0))).toEqual({ status: 200, connection: 'keep-alive' });
    const inFlight = slowCall(service.url, 3_000);
    await slowInFlight(service, 1);
    service.signal('SIGTERM');
    await pollUntil('the drain begun', () => service.logLines().some((l) => l.msg === 'draining: readiness now fails'));

    const ready = await fetch(`${service.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'draining' });
    // Until the listener closes, normal traffic is still served.
    const during = await slowCall(service.url, 0);
    expect(during.status).toBe(200);
    // Responses written while draining (also of requests that arrived before it) close their
    // connection, so the listener is not kept open by keep-alive.
    expect(connectionOf(during)).toEqual({ status: 200, connection: 'close' });

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(connectionOf(response)).toEqual({ status: 200, connection: 'close' });
    const body = (await response.json()) as { result: { data: { json: { waitedMs: number } } } };
    // It ran to its end (a timer fires a few ms early by the wall clock at most).
    expect(body.result.data.json.waitedMs).toBeGreaterThanOrEqual(2_950);
    expect(await service.exited).toBe(0);

    const closed = service
      .logLines()
      .filter((l) => l.msg === 'resource closed')
      .map((l) => l.resource);
    expect(closed).toEqual(['second', 'first']);
    expect(service.logLines().find((l) => l.msg === 'test-service stopped')).toMatchObject({ clean: true });
  });

  it('at the hard deadline cuts what is still running and exits 1', async () => {
    const service = await start({ DRAIN_DELAY_MS: '0', SHUTDOWN_TIMEOUT_MS: '300' });
    const inFlight = slowCall(service.url, 10_000).then(
      (r) => r.status,
      () => 'cut' as const,
    );
    await slowInFlight(service, 1);
    const signalled = Date.now();
    service.signal('SIGTERM');
    expect(await service.exited).toBe(1);
    // Ended by the 300 ms deadline, not by the 10 s call: a bound with room for a loaded machine.
    expect(Date.now() - signalled).toBeLessThan(5_000);
    expect(await inFlight).toBe('cut');
  });
});
