# syntax=docker/dockerfile:1
# Build: type-check the production code path (scripts/cli/, not the simulator or the benchmarks in scripts/tools/)
# and bundle it; run: production dependencies and the bundle only, as a non-root user. The
# production `fleet start` is the entry point; the role is the argument, e.g.
#   docker run dossier-sync --role writer
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY config ./config
COPY connectors ./connectors
COPY db ./db
COPY workers ./workers
COPY scripts/cli ./scripts/cli
COPY scripts/build-bundle.ts ./scripts/build-bundle.ts
# The build type-checks the production code path and bundles it into dist/ (scripts/build-bundle.ts), with what
# the bundle reads beside it: the province catalogue and the Lua scripts.
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HTTP_HOST=0.0.0.0 STARTUP_WAIT_MS=60000
# The old space of each fleet process: without it V8 sizes the heap from the host's memory (gigabytes) and collects
# late, so a poller of 34 connectors grew to ~480 MB of RSS holding far less. At 160 MB every worker stayed under
# 300 MB of RSS at 100,000 and 1,000,000 records (README, Benchmark), at some throughput (more collections). A
# process of every role at once (--role all) or with larger pages or more connectors at once may need more: raise it.
ENV NODE_OPTIONS=--max-old-space-size=160
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8080
ENTRYPOINT ["node", "dist/fleet.js", "start"]
CMD ["--role", "all"]
