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
# No heap size, but a lower heap growth: V8 sizes the old space from the host's memory and lets it grow to several
# times what is live before collecting, so a 34-connector poller or a writer holding 55-90 MB reached ~500 MB of RSS.
# --heap-growing-percent=25 (a V8 flag, which Node refuses in NODE_OPTIONS) grows it by a quarter of what is live:
# both stay under 300 MB at 1,000,000 records in `fleet bench`, for more frequent major collections (a few percent
# of a core), where NODE_OPTIONS=--max-old-space-size=160 met 300 MB but cost a third of the throughput (README,
# fleet bench). Benchmarks run with --compiled use the Node flags set here.
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8080
ENTRYPOINT ["node", "--heap-growing-percent=25", "dist/fleet.js", "start"]
CMD ["--role", "all"]
