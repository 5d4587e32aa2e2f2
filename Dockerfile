# syntax=docker/dockerfile:1
# Ensemble: multi-stage build; the runtime image runs as the non-root `node` user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY server ./server
# The web client: typed from the OpenAPI document, bundled with Vite, the GC Design System copied beside it.
COPY client ./client
COPY scripts/build-client.mjs ./scripts/
COPY docs/api/openapi.json ./docs/api/
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/client/dist ./client/dist
# Where backups go (docker-compose.yml mounts a volume here; a new volume takes this folder's owner).
RUN mkdir -p /backups && chown node:node /backups
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Production needs MONGODB_URI, PUBLIC_URL, SESSION_SECRET and OIDC_ISSUERS (docs/configuration.md).
CMD ["node", "dist/server/main.js"]
