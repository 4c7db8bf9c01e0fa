// A new service's first test: the service in-process, its example mutation and query over HTTP.
import type { NewService } from './spec.js';

export function testSource(s: NewService): string {
  const dbSetup = s.db
    ? `  db = await createTestDatabase();
  await migrate({ databaseUrl: db.url, dir: fileURLToPath(new URL('../migrations', import.meta.url)), logger });
  pool = createPgPool({ connectionString: db.url, max: 2 });
`
    : '';
  return `${s.db ? "import { fileURLToPath } from 'node:url';\n" : ''}import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokenVerifier } from '@switchyard/infra/auth';
${s.db ? "import { createPgPool, migrate } from '@switchyard/infra/db';\n" : ''}import { createLogger } from '@switchyard/infra/logging';
import type { Service } from '@switchyard/infra/server';
import { ${s.db ? 'createTestDatabase, ' : ''}startTestTokenIssuer, type TestTokenIssuer${s.db ? ', type TestDatabase' : ''} } from '@switchyard/infra/testing';
import { readEnv } from './env.js';
import { create${s.Name}Service } from './server.js';

${s.db ? 'let db: TestDatabase;\nlet pool: ReturnType<typeof createPgPool>;\n' : ''}let issuer: TestTokenIssuer;
let service: Service;
let url = '';

beforeAll(async () => {
  const logger = createLogger({ service: '${s.name}', level: 'warn' });
  issuer = await startTestTokenIssuer();
${dbSetup}  const config = readEnv({ ${s.db ? 'DATABASE_URL: db.url, ' : ''}HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0' });
  service = create${s.Name}Service({ config, ${s.db ? 'pool, ' : ''}logger, verifyAccessToken: createAccessTokenVerifier({ jwksUrl: issuer.jwksUrl }) });
  url = (await service.start()).url;
});
afterAll(async () => {
  await service?.shutdown('tests done');
${s.db ? '  await pool?.end();\n  await db?.drop();\n' : ''}  await issuer?.close();
});

const call = async (path: 'hello' | 'record', json: unknown, token?: string) => {
  const query = path === 'hello';
  const input = query ? \`?input=\${encodeURIComponent(JSON.stringify({ json }))}\` : '';
  const res = await fetch(\`\${url}/trpc/\${path}\${input}\`, {
    method: query ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: \`Bearer \${token}\` } : {}) },
    ...(query ? {} : { body: JSON.stringify({ json }) }),
  });
  return { status: res.status, body: (await res.json()) as { result?: { data: { json: Record<string, unknown> } } } };
};

describe('${s.name}', () => {
  it('keeps a record for the signed-in user and counts it in hello', async () => {
    const user = randomUUID();
    const token = await issuer.sign(user);
    const recorded = await call('record', { label: 'first' }, token);
    expect(recorded.status).toBe(200);
    expect(recorded.body.result?.data.json).toMatchObject({ ownerId: user, label: 'first' });
    const hello = await call('hello', {}, token);
    expect(hello.body.result?.data.json).toMatchObject({ service: '${s.name}', userId: user, records: 1 });
  });

  it('answers 401 without a signed-in user', async () => {
    expect((await call('record', { label: 'x' })).status).toBe(401);
  });
});
`;
}
