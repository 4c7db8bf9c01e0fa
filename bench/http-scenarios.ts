// The scenarios of bench/http.ts (S3, S-bare, S5 and its leave-one-out ablations, S8), each a
// request path against a servers.ts scenario, and with `--base` the Switchyard ones again from
// another checkout.
import { PAGE_PATH } from './shared.js';

export interface Scenario {
  name: string;
  /** The checkout whose servers.ts serves it: this one unless `--base` set it. */
  root?: string;
  /** The server process it runs against (servers.ts scenario); default: `name`. */
  server?: string;
  label: string;
  /** The request path, given the server's token. */
  path: string;
  auth?: boolean;
  /** Requests per page: req/s is divided by it (S8). */
  perPage?: number;
}

/** The servers.ts scenario a scenario runs against. */
export const scriptOf = (s: Scenario) => s.server ?? s.name.replace(/@base$/, '');
/** The server process a scenario runs against: one per script, checkout and bypass switched off. */
export const serverOf = (s: Scenario, off?: string) => `${scriptOf(s)}${off ? `~${off}` : ''}${s.root ? '@base' : ''}`;

const hello = encodeURIComponent(JSON.stringify({ name: 'bench' }));
const helloJson = encodeURIComponent(JSON.stringify({ json: { name: 'bench' } }));
const SY_PATH = `/trpc/hello?input=${helloJson}`;

const ALL: Scenario[] = [
  { name: 'trpc-standalone', label: 'S3 stock tRPC standalone adapter (zod input)', path: `/hello?input=${hello}` },
  { name: 'trpc-express', label: 'S3 stock tRPC express adapter', path: `/hello?input=${hello}` },
  { name: 'sy-bare', label: 'S-bare Switchyard procedure (request id, metrics, access log)', path: SY_PATH },
  { name: 'sy-bare-stock', label: '  ablation: S-bare on the stock tRPC adapter', path: SY_PATH },
  {
    name: 'sy-full',
    label: 'S5 full stack (JWT + zod + Redis limit + metrics + log + superjson)',
    path: SY_PATH,
    auth: true,
  },
  { name: 'sy-full-stock', label: '  ablation: S5 on the stock tRPC adapter', path: SY_PATH, auth: true },
  { name: 'sy-full-no-jwt-cache', label: '  ablation: S5 without the JWT cache', path: SY_PATH, auth: true },
  { name: 'sy-full-no-ratelimit', label: '  ablation: S5 without the Redis rate limit', path: SY_PATH, auth: true },
  { name: 'sy-full-no-log', label: '  ablation: S5 without the access log', path: SY_PATH, auth: true },
  { name: 'sy-full-no-auth', label: '  ablation: S5 without JWT (public procedure)', path: SY_PATH },
  {
    name: 'page-batched',
    server: 'sy-bare',
    label: 'S8 a page of 10 queries, batched: pages/s (1 request per page)',
    path: PAGE_PATH,
  },
  {
    name: 'page-unbatched',
    server: 'sy-bare',
    label: 'S8 the same page unbatched: pages/s (10 requests per page)',
    path: SY_PATH,
    perPage: 10,
  },
];

/**
 * The scenarios named in `only` (all without it); with `base`, each Switchyard one also from the
 * checkout at `base`, right after this one's.
 */
export function httpScenarios(only: string[] | undefined, base: string | undefined): Scenario[] {
  return ALL.filter((s) => !only || only.includes(s.name)).flatMap((s) =>
    base && /^(sy-|page-)/.test(s.name) ? [s, { ...s, name: `${s.name}@base`, label: `${s.label} [base]`, root: base }] : [s],
  );
}

/** The shapes a bypass must earn its place in: S-bare, S5 and S8's batched page. */
export const ABLATION_SHAPES = ['sy-bare', 'sy-full', 'page-batched'] as const;

/** The scenario of a shape, from this checkout. */
export const shapeScenario = (name: (typeof ABLATION_SHAPES)[number]): Scenario => ALL.find((s) => s.name === name)!;
