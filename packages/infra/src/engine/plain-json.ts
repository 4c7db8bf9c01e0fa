/**
 * The JSON text of `value` when superjson would serialize it as `{ json: value }` with no
 * annotations, else undefined: only strings, booleans, null, finite numbers other than -0, and
 * arrays and plain objects of those, each object met once (a repeated reference is annotated, a
 * cycle is cut). Anything else (Date, Map, BigInt, undefined, class instances) goes through
 * superjson itself. One walk checks and writes (JSON.stringify would walk again, in C++, looking
 * up `toJSON` on every object); the text is what JSON.stringify writes (own enumerable string
 * keys in its order, strings and keys through JSON.stringify, numbers as `String(n)`).
 */
function plainJsonText(value: unknown, seen: SeenObjects, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isFinite(value) && !(value === 0 && 1 / value < 0) ? `${value}` : undefined;
    case 'object': {
      if (value === null) return 'null';
      if (depth > 32 || !seen.add(value)) return undefined;
      if (Array.isArray(value)) {
        let text = '[';
        for (let i = 0; i < value.length; i++) {
          const item = plainJsonText(value[i], seen, depth + 1);
          if (item === undefined) return undefined;
          text += i === 0 ? item : `,${item}`;
        }
        return `${text}]`;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const keys = Object.keys(value);
      let text = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        // superjson refuses these keys: let it answer as it does.
        if (key === '__proto__' || key === 'constructor' || key === 'prototype') return undefined;
        const item = plainJsonText((value as Record<string, unknown>)[key], seen, depth + 1);
        if (item === undefined) return undefined;
        text += `${i === 0 ? '' : ','}${JSON.stringify(key)}:${item}`;
      }
      return `${text}}`;
    }
    default:
      return undefined;
  }
}

/**
 * The objects {@link plainJsonText} has met: the first few in an array, scanned (most outputs have a
 * handful of objects, and a Set hashes each one: V8 gives each object an identity hash first), the
 * rest in a Set.
 */
class SeenObjects {
  private static readonly SCANNED = 16;
  private readonly few: Array<object | undefined> = new Array<object | undefined>(SeenObjects.SCANNED).fill(undefined);
  private count = 0;
  private readonly many = new Set<object>();

  /** Adds `value`; false if it was already there. */
  add(value: object): boolean {
    const few = this.few;
    for (let i = 0; i < this.count; i++) if (few[i] === value) return false;
    if (this.many.size > 0 && this.many.has(value)) return false;
    if (this.count < SeenObjects.SCANNED) few[this.count++] = value;
    else this.many.add(value);
    return true;
  }

  /**
   * Forgets every object (none is kept alive past the check). Not `few.length = 0`: a store to an
   * array's length is a generic store from optimized code.
   */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.few[i] = undefined;
    this.count = 0;
    if (this.many.size > 0) this.many.clear();
  }
}

const SEEN = new SeenObjects();
/** {@link plainJsonText} of `value`, with one reused set (the walk is synchronous). */
export function plainText(value: unknown): string | undefined {
  try {
    return plainJsonText(value, SEEN, 0);
  } finally {
    SEEN.clear();
  }
}
