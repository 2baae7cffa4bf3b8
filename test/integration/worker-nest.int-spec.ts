import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { tickJobId } from '@lib/common';
import {
  BATON_EVENT_LOGGER, BatonWorker, DuplicateHandlerError, HandlerRegistry, JobHandler, RunHistory, WorkerModule,
  type JobContext,
} from '@lib/worker';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { captureLogger, jobData, until, WorkerHarness } from './fixtures/worker-harness';

jest.setTimeout(30_000);

@Injectable()
class ReportJobs {
  readonly seen: JobContext[] = [];
  private readonly greeting = 'built';

  @JobHandler('report.build')
  build(ctx: JobContext): string {
    this.seen.push(ctx); // `this` must be the provider instance
    return this.greeting;
  }

  notAHandler(): void {
    throw new Error('must not be registered');
  }
}

@Injectable()
class OtherJobs {
  @JobHandler('report.build')
  clash(): void {}
}

describe('WorkerModule (Nest)', () => {
  let server: RedisServerHandle;
  let h: WorkerHarness;
  let moduleRef: TestingModule | undefined;

  beforeAll(async () => { server = await startRedisServer(); });
  afterAll(async () => server?.cleanup());
  beforeEach(async () => { h = await WorkerHarness.create(server, 'nest'); });
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
    await h?.close();
  });

  const workerModule = (logger = captureLogger().logger) => WorkerModule.forRootAsync({
    useFactory: () => ({
      connection: server.url, prefix: h.prefix, nodeId: 'nest-node', concurrency: 2,
      lockDurationMs: 2_000, stalledIntervalMs: 500, shutdownGraceMs: 1_000,
    }),
    extraProviders: [{ provide: BATON_EVENT_LOGGER, useValue: logger }],
  });

  it('discovers an @JobHandler method, advertises it with the built-ins, and runs jobs through it', async () => {
    const log = captureLogger();
    moduleRef = await Test.createTestingModule({ imports: [workerModule(log.logger)], providers: [ReportJobs] }).compile();
    await moduleRef.init();

    expect(moduleRef.get(HandlerRegistry).names()).toEqual(['http', 'log', 'report.build']);
    const jobId = await h.enqueue(tickJobId('weekly', 9_000), jobData({
      schedule: 'weekly', handler: 'report.build', scheduledFor: new Date(9_000).toISOString(), payload: { week: 48 }, fencingToken: 4,
    }));
    await until('job completed', async () => (await h.jobState(jobId)) === 'completed');
    const jobs = moduleRef.get(ReportJobs);
    expect(jobs.seen).toHaveLength(1);
    expect(jobs.seen[0]).toMatchObject({ jobId, schedule: 'weekly', attempt: 1, fencingToken: 4, payload: { week: 48 }, trigger: 'cron' });
    expect(await moduleRef.get(RunHistory).get(jobId)).toMatchObject({ state: 'completed', node: 'nest-node' });
    expect(log.events('job.completed')[0].facts).toMatchObject({ jobId, schedule: 'weekly' });
    expect(moduleRef.get(BatonWorker).runningCount()).toBe(0);
  });

  it('fails start-up when two providers claim the same handler name', async () => {
    moduleRef = await Test.createTestingModule({ imports: [workerModule()], providers: [ReportJobs, OtherJobs] }).compile();
    await expect(moduleRef.init()).rejects.toThrow(DuplicateHandlerError);
  });
});
