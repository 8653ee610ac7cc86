# syntax=docker/dockerfile:1
# Nova: one image for every service. `nova up` by default; each Kubernetes Deployment runs `serve <service>`
# and the migration Job runs `migrate` (deploy/k8s). Build: docker build -t nova:$(git rev-parse --short HEAD) .

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: install everything (argon2 may compile from source), compile TypeScript, drop dev deps ----
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Manifests first so the dependency layer is cached until package.json or the lockfile change.
COPY package.json package-lock.json ./
COPY packages/cli/package.json packages/cli/
COPY packages/platform/package.json packages/platform/
COPY packages/proto/package.json packages/proto/
COPY packages/testing/package.json packages/testing/
COPY services/auth/package.json services/auth/
COPY services/cdn/package.json services/cdn/
COPY services/content/package.json services/content/
COPY services/events/package.json services/events/
COPY services/feed/package.json services/feed/
COPY services/media/package.json services/media/
COPY services/messaging/package.json services/messaging/
COPY services/notification/package.json services/notification/
COPY services/search/package.json services/search/
COPY services/streaming/package.json services/streaming/
COPY services/user/package.json services/user/
COPY services/video/package.json services/video/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY services services
RUN npm run build
# Production dependencies only: a clean `npm ci --omit=dev` (from the npm cache of the first install)
# rather than `npm prune`, so the result is exactly what the lockfile says for production. What runs is
# dist/ and node_modules/: sources, tests and the test-only workspace stay behind.
RUN rm -rf node_modules packages/*/node_modules services/*/node_modules \
 && npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && rm -rf packages/*/src packages/*/tests services/*/src services/*/tests packages/testing packages/proto/proto \
 && find . -name '*.tsbuildinfo' -delete

# ---- runtime: Node and the compiled app, nothing else; runs as a non-root user ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /app /app
# The image's `node` user (uid 1000); the numeric id lets Kubernetes check runAsNonRoot.
USER 1000:1000
EXPOSE 8080 9090
ENTRYPOINT ["node", "packages/cli/dist/main.js"]
CMD ["up"]
