import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { HttpErrorsFilter } from './api/http-errors.filter';
import { AppModule } from './app.module';
import { ConfigError, loadConfig, type BatonConfig } from './config/baton-config';
import { createPino, NestPinoLogger, PinoEventLogger } from './logging/logger';
import { NodeLifecycle } from './node-lifecycle';

/** createApp builds (but does not start listening) one node's Nest application. Used by main() and e2e tests. */
export async function createApp(config: BatonConfig, logger: PinoEventLogger, nestLogger: NestPinoLogger | false) {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot({ config, logger }), {
    logger: nestLogger,
    bodyParser: false,
    // A wiring error must reach the caller (main exits 1; a test fails cleanly), not abort the process.
    abortOnError: false,
  });
  app.useBodyParser('json', { limit: '1mb' });
  app.useGlobalFilters(new HttpErrorsFilter(logger));
  const doc = new DocumentBuilder()
    .setTitle('Baton admin API')
    .setDescription('Distributed cron scheduler: schedules, runs, cluster view. See the README for the guarantees.')
    .setVersion(config.version)
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc), { jsonDocumentUrl: 'docs-json' });
  return app;
}

/** main starts one node configured by the environment; exits 2 on a bad variable. */
export async function main(): Promise<void> {
  let config: BatonConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`baton: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const pino = createPino({ nodeId: config.nodeId, level: config.logLevel, format: config.logFormat });
  const logger = new PinoEventLogger(pino);
  const app = await createApp(config, logger, new NestPinoLogger(pino));
  const lifecycle = app.get(NodeLifecycle);
  await app.listen(config.port, config.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.log('info', 'node.started', `${config.nodeId} started (API on ${config.host}:${port}, prefix ${config.prefix}, lease ${config.leaseMs} ms)`,
    { port, host: config.host, prefix: config.prefix, leaseMs: config.leaseMs, workerConcurrency: config.workerConcurrency,
      pid: process.pid, version: config.version });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    logger.log('info', 'node.stopping', `${config.nodeId} is stopping (${signal})`, { signal });
    const hardStop = setTimeout(() => {
      logger.log('error', 'node.stopped', `${config.nodeId} did not stop within the grace period; exiting`, { forced: true });
      process.exit(1);
    }, config.shutdownGraceMs + 5000);
    hardStop.unref();
    await lifecycle.stopLeadership().catch((err: Error) => logger.log('warn', 'node.stopping', `leadership stop failed: ${err.message}`));
    await app.close().catch((err: Error) => logger.log('warn', 'node.stopping', `close failed: ${err.message}`));
    await lifecycle.leaveCluster().catch(() => undefined);
    logger.log('info', 'node.stopped', `${config.nodeId} stopped after ${Date.now() - started} ms`, { durationMs: Date.now() - started });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** run: main() with a last-resort error report (the entry point calls this). */
export function run(): void {
  main().catch((err: Error) => {
    process.stderr.write(`baton: failed to start: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}

if (require.main === module) run();
