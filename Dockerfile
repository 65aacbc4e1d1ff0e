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
# No heap size: V8 sizes the old space from the host's memory and collects late (a 34-connector poller or a writer
# reaches ~500 MB of RSS holding ~100 MB). NODE_OPTIONS=--max-old-space-size=160 keeps each under 300 MB but cost a
# third of the throughput at 1,000,000 records in `fleet bench` (README, Benchmark): set it to the container if
# memory matters more; benchmarks run with --compiled use any NODE_OPTIONS set here.
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8080
ENTRYPOINT ["node", "dist/fleet.js", "start"]
CMD ["--role", "all"]
