/**
 * workerMessages holds every error and log text of the worker lib, so tests
 * and operators see one wording.
 */
export const workerMessages = {
  badHandlerName: (name: unknown) =>
    `handler name ${JSON.stringify(name)} is invalid: use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit`,
  notAFunction: (name: string) => `handler "${name}" must be a function`,
  duplicateHandler: (name: string) => `handler "${name}" is already registered; each handler name can be registered once`,
  unknownHandler: (name: string, known: string[]) =>
    `no handler named "${name}" on this node (known: ${known.length ? known.join(', ') : 'none'})`,
  malformedJob: (jobId: string | undefined, field: string) =>
    `job ${jobId ?? '?'} has malformed data: field "${field}" is missing or has the wrong type`,
  timedOut: (timeoutMs: number) => `timed out after ${timeoutMs} ms`,
  shuttingDown: () => 'worker is shutting down',
  httpBadPayload: (field: string) =>
    `http handler: payload field "${field}" is invalid (expected {url: "http(s)://...", method?, headers?, body?})`,
  httpStatus: (method: string, url: string, status: number, excerpt: string) =>
    `http handler: ${method} ${url} answered ${status}${excerpt ? `: ${excerpt}` : ''}`,
  httpNetwork: (method: string, url: string, cause: string) => `http handler: ${method} ${url} failed: ${cause}`,
  badOption: (field: string, why: string) => `BatonWorker option "${field}" ${why}`,
  badLimit: (limit: unknown) => `limit must be an integer from 1 to 1000, got ${JSON.stringify(limit)}`,
} as const;
