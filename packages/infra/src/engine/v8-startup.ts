/**
 * A start-up step of every service (run by its lifecycle before it listens): makes V8 keep
 * `String.prototype` in fast mode.
 *
 * ioredis declares `class VerbatimString extends String`. V8 puts an object in dictionary mode
 * when it becomes a prototype, and makes it fast again only when an inline cache looks a property
 * up through it from an object, which a method call on a primitive string never does. Left so,
 * every `indexOf`, `slice`, `charCodeAt`... of optimized code in the whole process is a generic
 * lookup. Lookups through an object whose prototype is `String.prototype`, enough of them for the
 * lookup to get feedback, make it fast again. v8-startup.test.ts checks, with V8's
 * `%HasFastProperties`, both the cause (ioredis leaves it slow: when that changes, this step can
 * go) and the cure. Its measured effect is in docs/performance.md.
 */
export function restoreFastPrototypes(): void {
  const probe = Object.create(String.prototype) as { indexOf: unknown };
  const lookUp = (object: { indexOf: unknown }) => object.indexOf;
  for (let i = 0; i < 100; i++) lookUp(probe);
}
