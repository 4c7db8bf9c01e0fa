import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { requestIdOf } from './request-id.js';

const withHeader = (value: string | string[] | undefined) =>
  ({ headers: { 'x-request-id': value } }) as unknown as IncomingMessage;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdOf', () => {
  it.each(['abcdefgh', 'req-0123456789', '4bf92f3577b34da6a3ce929d0e0e4736', 'a.b_c:d-e'.padEnd(128, 'x')])('keeps %s', (id) => {
    expect(requestIdOf(withHeader(id))).toBe(id);
  });

  it.each([
    undefined,
    '',
    'short',
    'x'.repeat(129),
    'has space inside',
    'line\nbreak-injection',
    'ünïcödé-ids',
    '"quoted-value"',
    ['a-valid-id-1', 'a-valid-id-2'],
  ])('replaces %j with a new UUID', (value) => {
    expect(requestIdOf(withHeader(value))).toMatch(UUID);
  });
});
