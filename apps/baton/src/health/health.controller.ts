import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ElectionService } from '@lib/election';
import type { RedisConnections } from '../redis/redis-connections';
import { REDIS_CONNECTIONS } from '../tokens';

/** HealthController: `/health/live` (the process answers) and `/health/ready` (Redis answers, election sane). */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly election: ElectionService,
    @Inject(REDIS_CONNECTIONS) private readonly redis: RedisConnections,
  ) {}

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([() => this.indicators.check('process').up({ pid: process.pid })]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.indicators.check('redis').attempt(async () => {
        const started = Date.now();
        await this.redis.get('commands').ping();
        return { latencyMs: Date.now() - started };
      }).withTimeout(2000),
      () => {
        const leadership = this.election.elector.leadership();
        return this.indicators.check('election').up({ role: leadership ? 'leader' : 'follower', term: leadership?.token ?? null });
      },
    ]);
  }
}
