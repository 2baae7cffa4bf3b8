import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { LeadershipService } from '../leadership/leadership.service';
import type { RedisConnections } from '../redis/redis-connections';
import { REDIS_CONNECTIONS } from '../tokens';

/** HealthController: `/health/live` (the process answers) and `/health/ready` (Redis answers, election sane). */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly leadership: LeadershipService,
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
        const check = this.indicators.check('election');
        const state = this.leadership.healthState();
        return state.ok ? check.up(state) : check.down(state);
      },
    ]);
  }
}
