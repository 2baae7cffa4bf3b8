import type { LoggerService } from '@nestjs/common';
import type { EventLogger, LogLevel } from '@lib/common';
import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';
import { formatPretty } from './pretty-format';

/** createPino builds the node's pino logger: `time` epoch ms, `level` as a word, `node` on every line. */
export function createPino(opts: { nodeId: string; level: LogLevel; format: 'json' | 'pretty' }): Logger {
  const options = {
    level: opts.level,
    base: { node: opts.nodeId },
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.epochTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (opts.format === 'json') {
    // Synchronous writes: a line logged just before a crash or SIGKILL is not lost.
    return pino(options, pino.destination({ dest: 1, sync: true }));
  }
  const color = Boolean(process.stdout.isTTY) || Boolean(process.env.FORCE_COLOR);
  const pretty = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line) process.stdout.write(formatPretty(JSON.parse(line) as Record<string, unknown>, color));
      }
      done();
    },
  });
  return pino(options, pretty);
}

/** PinoEventLogger: the core's EventLogger on top of pino. */
export class PinoEventLogger implements EventLogger {
  constructor(private readonly pino: Logger) {}

  enabled(level: LogLevel): boolean {
    return this.pino.isLevelEnabled(level);
  }

  log(level: LogLevel, event: string, msg: string, facts: Record<string, unknown> = {}): void {
    this.pino[level]({ event, ...facts }, msg);
  }
}

/** NestPinoLogger routes Nest's own messages (bootstrap, errors) through the same pino. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly pino: Logger) {}

  log(message: unknown, context?: string): void {
    this.pino.debug({ event: 'nest', context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.pino.error({ event: 'nest.error', context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.pino.warn({ event: 'nest', context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.pino.debug({ event: 'nest', context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.pino.trace({ event: 'nest', context }, String(message));
  }
}
