/**
 * What a request id and an idempotency key may be: 8-128 characters of `A-Z a-z 0-9 . _ : -`,
 * nothing a header or a JSON string has to escape. One pattern for both, wherever they arrive.
 */
const ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** The message that says what {@link isWellFormedId} accepts. */
export const ID_RULE = 'must be 8-128 characters of A-Z a-z 0-9 . _ : -';

/** Whether `value` may be used as a request id or an idempotency key. */
export function isWellFormedId(value: string): boolean {
  return ID.test(value);
}
