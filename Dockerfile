# syntax=docker/dockerfile:1
# Ensemble: multi-stage build; the runtime image runs as the non-root `node` user.

# FerretDB as Ensemble builds it, for the `ferretdb` profile of docker-compose.yml (target `ferretdb`): the same
# script and source patches as `npm run setup`, FerretDB's source taken from the Go module proxy. On PostgreSQL
# the patches let indexes serve equality and `$in` (docs/adr/0026-postgresql-index-served-filters.md); the
# upstream image reads whole collections instead (docs/operations.md).
FROM node:20-bookworm-slim AS ferretdb-build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=golang:1.24-bookworm /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH
WORKDIR /src
COPY scripts/build-ferretdb.mjs ./scripts/
COPY scripts/ferretdb ./scripts/ferretdb
RUN node scripts/build-ferretdb.mjs --tools-dir /out

FROM debian:bookworm-slim AS ferretdb
RUN useradd --system --no-create-home --uid 10001 ferretdb && mkdir /state && chown ferretdb /state
COPY --from=ferretdb-build /out/bin/ferretdb /usr/local/bin/ferretdb
USER ferretdb
ENV FERRETDB_LISTEN_ADDR=:27017 \
    FERRETDB_STATE_DIR=/state \
    FERRETDB_TELEMETRY=disable
EXPOSE 27017
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["ferretdb", "ping"]
ENTRYPOINT ["ferretdb"]

# The app (the last stage, which `docker build .` makes).
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
COPY patches ./patches
# Dependencies' install scripts stay off; the project's own patches of them are applied (patches/, ADR 0046).
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npx patch-package && npm cache clean --force
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
