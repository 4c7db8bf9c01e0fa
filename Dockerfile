# syntax=docker/dockerfile:1
# One image per service: docker build --build-arg SERVICE=notes -t switchyard/notes .
# Multi-stage: turbo prune keeps only the service's workspace graph, the build stage compiles it,
# and the runtime stage holds production dependencies and dist/ only, run as the `node` user.
ARG NODE_VERSION=20.20

FROM node:${NODE_VERSION}-bookworm-slim AS base
ENV TURBO_TELEMETRY_DISABLED=1 NPM_CONFIG_UPDATE_NOTIFIER=false

FROM base AS prune
ARG SERVICE
WORKDIR /repo
RUN npm install --global turbo@2.11.11
COPY . .
RUN test -n "$SERVICE" && turbo prune "@switchyard/${SERVICE}" --docker

FROM base AS build
ARG SERVICE
WORKDIR /repo
# Dependencies first (cached while only sources change).
COPY --from=prune /repo/out/json/ .
RUN npm ci --no-audit --no-fund
COPY --from=prune /repo/out/full/ .
RUN npx turbo run build --filter="@switchyard/${SERVICE}..." \
 && npm prune --omit=dev --no-audit --no-fund

FROM base AS runtime
ARG SERVICE
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 METRICS_PORT=9400 SERVICE=${SERVICE}
WORKDIR /app
COPY --from=build --chown=node:node /repo/node_modules ./node_modules
COPY --from=build --chown=node:node /repo/packages ./packages
COPY --from=build --chown=node:node /repo/apps/${SERVICE}/package.json ./apps/${SERVICE}/package.json
COPY --from=build --chown=node:node /repo/apps/${SERVICE}/dist ./apps/${SERVICE}/dist
COPY --from=build --chown=node:node /repo/apps/${SERVICE}/migrations ./apps/${SERVICE}/migrations
WORKDIR /app/apps/${SERVICE}
USER node
EXPOSE 4000 9400
# Liveness only (/health depends on nothing but the event loop); the gateway uses /ready.
HEALTHCHECK --interval=10s --timeout=2s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# exec form: SIGTERM reaches node itself, which drains (docs/operations.md).
CMD ["node", "dist/main.js"]
