# Baton: one image, every node runs the same program. Configure it only through
# the environment (see README / docs: REDIS_URL, PORT, BATON_NODE_ID, ...).
#
#   docker build -t baton .
#   docker run --rm -e REDIS_URL=redis://redis:6379 -p 3000:3000 baton

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- builder: full install, compile, then drop dev dependencies -------------
FROM ${NODE_IMAGE} AS builder
WORKDIR /app
# Dependencies first so this layer is cached until the lockfile changes.
# Install scripts stay off, as in development (the project needs none).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && test -f dist/apps/baton/main.js

# ---- runtime: only what a node needs to run ----------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Files stay owned by root (read-only for the process); the process runs as `node`.
COPY --from=builder /app/package.json ./package.json
COPY --from=builder /app/node_modules ./node_modules
COPY --from=builder /app/dist ./dist
USER node
EXPOSE 3000
# Liveness through Node's global fetch (the slim image has no curl).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM (docker stop) is a graceful stop: a leader hands its lease over at once.
STOPSIGNAL SIGTERM
CMD ["node", "dist/apps/baton/main.js"]
