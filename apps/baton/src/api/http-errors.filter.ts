import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import type { EventLogger } from '@lib/common';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Payload Too Large', 415: 'Unsupported Media Type', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** isRedisUnavailable: errors ioredis raises while Redis cannot be reached. */
function isRedisUnavailable(err: Error): boolean {
  return /MaxRetriesPerRequest|Connection is closed|ECONNREFUSED|ETIMEDOUT|Stream isn't writeable|enableOfflineQueue|Command timed out/i
    .test(err.message);
}

/**
 * HttpErrorsFilter gives every error Nest's shape `{statusCode, error,
 * message}`: HttpExceptions pass through; body-parser errors (bad JSON,
 * too large) keep their 4xx; Redis outages are 503; anything else is a 500
 * that is logged with its stack.
 */
@Catch()
export class HttpErrorsFilter implements ExceptionFilter {
  constructor(private readonly logger: EventLogger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<{ status(code: number): { json(body: unknown): void } }>();
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      res.status(exception.getStatus()).json(typeof body === 'string'
        ? { statusCode: exception.getStatus(), error: STATUS_TEXT[exception.getStatus()] ?? 'Error', message: body }
        : body);
      return;
    }
    const err = exception instanceof Error ? exception : new Error(String(exception));
    const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const message = (err as { type?: string }).type === 'entity.parse.failed'
        ? `body: not valid JSON (${err.message})`
        : (err as { type?: string }).type === 'entity.too.large'
          ? 'body: larger than the 1 MiB limit'
          : err.message;
      res.status(status).json({ statusCode: status, error: STATUS_TEXT[status] ?? 'Bad Request', message });
      return;
    }
    if (isRedisUnavailable(err)) {
      res.status(HttpStatus.SERVICE_UNAVAILABLE).json({ statusCode: 503, error: STATUS_TEXT[503],
        message: 'Redis is unavailable; nothing was changed. Retry when /health/ready is up.' });
      return;
    }
    this.logger.log('error', 'http.error', err.message, { stack: err.stack });
    res.status(500).json({ statusCode: 500, error: STATUS_TEXT[500], message: 'internal error' });
  }
}
