import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, publicDetails, publicMessage, toAppError } from '../errors/app-error.js';
import { newId } from '../ids/index.js';
import type { Logger } from '../logging/logger.js';
import type { PlatformMetrics } from '../metrics/metrics.js';

export type HttpApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The service that owns the route (set by `registerService`), used as the metrics label. */
    service?: string;
  }
  interface FastifyRequest {
    correlationId: string;
  }
}

export type ReadinessCheck = () => Promise<void>;

export interface HttpAppOptions {
  logger: Logger;
  metrics: PlatformMetrics;
  /** IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed (request.ip). */
  trustedProxies: string[];
  /** Dependency checks behind GET /ready. */
  readiness: Map<string, ReadinessCheck>;
  version?: string;
  bodyLimit?: number;
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const READY_CHECK_TIMEOUT_MS = 2_000;

/**
 * The HTTP stack every service shares: request and correlation ids, structured request logs, metrics by
 * route template, the one error mapper, TypeBox schemas feeding the OpenAPI document, and the
 * /health, /ready, /metrics and /openapi.json endpoints.
 */
export async function createHttpApp(opts: HttpAppOptions): Promise<HttpApp> {
  const app = Fastify({
    loggerInstance: opts.logger,
    // Our own onResponse hook writes one line per request (with route template and correlation id).
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: opts.trustedProxies.length > 0 ? opts.trustedProxies : false,
    bodyLimit: opts.bodyLimit ?? 1_048_576,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : newId();
    },
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Nova API', version: opts.version ?? '0.1.0', description: 'The public HTTP API of every Nova service.' },
      // Routes declare `security: [{ bearerAuth: [] }]`: an access token, or an admin token where the route says so.
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
  });

  app.decorateRequest('correlationId', '');
  app.addHook('onRequest', async (req, reply) => {
    const incoming = req.headers['x-correlation-id'];
    req.correlationId = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : req.id;
    reply.header('x-request-id', req.id);
  });

  const { metrics } = opts;
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = {
      service: req.routeOptions.config?.service ?? 'platform',
      method: req.method,
      route,
      status: String(reply.statusCode),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    if (route !== '/metrics' && route !== '/health' && route !== '/ready') {
      req.log.info(
        { req_id: req.id, correlation_id: req.correlationId, method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        'request',
      );
    }
  });

  app.setErrorHandler((err: FastifyError | AppError, req, reply) => sendError(toHttpError(err), req, reply));
  app.setNotFoundHandler((req, reply) => sendError(new AppError('NOT_FOUND', `no route for ${req.method} ${req.url.split('?')[0]}`), req, reply));

  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { hide: true } }, async (_req, reply) => {
    const results = await Promise.all(
      [...opts.readiness].map(async ([name, check]) => {
        try {
          await withTimeout(check(), READY_CHECK_TIMEOUT_MS);
          return [name, 'ok'] as const;
        } catch (err) {
          app.log.warn({ check: name, err: (err as Error).message }, 'readiness check failed');
          return [name, 'unavailable'] as const;
        }
      }),
    );
    const ready = results.every(([, s]) => s === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return app as unknown as HttpApp;
}

/** Translates framework errors (validation, body parsing, size) into the stable codes. */
function toHttpError(err: FastifyError | AppError): AppError {
  if (err instanceof AppError) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    return new AppError('VALIDATION_FAILED', `invalid ${fe.validationContext ?? 'request'}: ${fe.message}`, {
      details: { issues: fe.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? 'invalid' })) },
    });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'unsupported content type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('BAD_REQUEST', 'request body is not valid JSON');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError('BAD_REQUEST', fe.message);
  }
  return toAppError(err);
}

function sendError(err: AppError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.isServerError) req.log.error({ err, cause: err.cause, code: err.code, req_id: req.id }, 'request failed');
  if (err.headers) reply.headers(err.headers);
  const details = publicDetails(err);
  return reply.code(err.httpStatus).send({
    error: { code: err.code, message: publicMessage(err), request_id: req.id, ...(details ? { details } : {}) },
  });
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registers a service's routes in their own encapsulation context, labelling each route with the service
 * for metrics, tagging it in the OpenAPI document, and rate limiting it with the `api` preset unless the
 * route names another (`config: { rateLimit: 'auth' }`) or opts out (`rateLimit: false`).
 */
export async function registerService(app: HttpApp, service: string, routes: (scope: HttpApp) => Promise<void> | void): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { rateLimit: 'api', ...(route.config ?? {}), service };
      const schema = (route.schema ?? {}) as { tags?: string[] };
      if (!schema.tags) route.schema = { ...schema, tags: [service] };
    });
    await routes(scope.withTypeProvider<TypeBoxTypeProvider>());
  });
}
