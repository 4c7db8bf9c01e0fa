// Error bodies as the mesh's parts answer them, for tests that script a gateway or a service.

/** Caddy's own error body (see the Caddyfile): JSON, but not a tRPC error from a service. */
export const gatewayErrorBody = (appCode: string): string =>
  JSON.stringify({ error: { message: 'from the gateway', appCode, requestId: 'gw' } });

/** A service's own tRPC error body, as the rate limit step answers it. */
export const rateLimitedBody: string = JSON.stringify({
  error: {
    json: {
      message: 'Too many requests',
      code: -32029,
      data: { code: 'TOO_MANY_REQUESTS', httpStatus: 429, appCode: 'RATE_LIMITED' },
    },
  },
});
