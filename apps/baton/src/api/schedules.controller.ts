import {
  BadRequestException, Body, ConflictException, Controller, Delete, Get, HttpCode, Inject, NotFoundException, Param,
  Post, Put, Query, Res, UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Clock } from '@lib/common';
import {
  nextRunAt, ScheduleExistsError, ScheduleStore, SchedulingService, validateScheduleInput, type ScheduleSpec,
} from '@lib/scheduling';
import { RunHistory } from '@lib/worker';
import type { NodeRegistry } from '../cluster/node-registry';
import { ApiTokenGuard } from './api-token.guard';
import { ScheduleBody } from './schedule.dto';
import { CLOCK, NODE_REGISTRY } from '../tokens';

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function badRequest(errors: { field: string; message: string }[]): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  });
}

/** SchedulesController: CRUD, pause/resume, trigger and run history of schedules. */
@ApiTags('schedules')
@ApiBearerAuth()
@UseGuards(ApiTokenGuard)
@Controller('api/schedules')
export class SchedulesController {
  constructor(
    private readonly store: ScheduleStore,
    private readonly scheduling: SchedulingService,
    private readonly runs: RunHistory,
    @Inject(NODE_REGISTRY) private readonly registry: NodeRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private view(spec: ScheduleSpec) {
    return { ...spec, nextRunAt: nextRunAt(spec, this.clock.nowMs()) };
  }

  private checkName(name: string): void {
    if (!NAME.test(name)) {
      throw badRequest([{ field: 'name', message: `"${name.slice(0, 80)}" is not allowed: use 1–64 of a-z 0-9 . _ -, starting with a letter or digit` }]);
    }
  }

  private async mustGet(name: string): Promise<ScheduleSpec> {
    this.checkName(name);
    const spec = await this.store.get(name);
    if (!spec) throw new NotFoundException(`schedule "${name}" does not exist`);
    return spec;
  }

  private async validate(body: unknown, name?: string): Promise<ScheduleSpec> {
    const result = validateScheduleInput(body, { name, handlers: await this.registry.liveHandlers() });
    if (!result.ok) throw badRequest(result.errors);
    return result.value;
  }

  @Put(':name')
  @ApiOperation({ summary: 'Create or replace a schedule (201 created, 200 replaced)' })
  @ApiBody({ type: ScheduleBody })
  async put(@Param('name') name: string, @Body() body: unknown, @Res({ passthrough: true }) res: { status(c: number): void }) {
    this.checkName(name);
    const spec = await this.validate(body, name);
    const { created, spec: schedule } = await this.store.put(spec);
    res.status(created ? 201 : 200);
    return this.view(schedule);
  }

  @Post()
  @ApiOperation({ summary: 'Create a schedule from a body with `name` (409 if it exists)' })
  @ApiBody({ type: ScheduleBody })
  async create(@Body() body: unknown) {
    const spec = await this.validate(body);
    try {
      return this.view(await this.store.create(spec));
    } catch (err) {
      if (err instanceof ScheduleExistsError) throw new ConflictException(`schedule "${spec.name}" already exists; use PUT /api/schedules/${spec.name} to replace it`);
      throw err;
    }
  }

  @Get()
  @ApiOperation({ summary: 'List schedules, each with nextRunAt' })
  async list() {
    return (await this.store.list()).map((s) => this.view(s));
  }

  @Get(':name')
  @ApiOperation({ summary: 'One schedule (404 if unknown)' })
  async get(@Param('name') name: string) {
    return this.view(await this.mustGet(name));
  }

  @Delete(':name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a schedule; no tick of it is enqueued afterwards' })
  async remove(@Param('name') name: string): Promise<void> {
    this.checkName(name);
    if (!(await this.store.delete(name))) throw new NotFoundException(`schedule "${name}" does not exist`);
  }

  @Post(':name/pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause a schedule' })
  async pause(@Param('name') name: string) {
    return this.setPaused(name, true);
  }

  @Post(':name/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume a paused schedule' })
  async resume(@Param('name') name: string) {
    return this.setPaused(name, false);
  }

  private async setPaused(name: string, paused: boolean) {
    this.checkName(name);
    const spec = await this.store.setPaused(name, paused);
    if (!spec) throw new NotFoundException(`schedule "${name}" does not exist`);
    return this.view(spec);
  }

  @Post(':name/trigger')
  @HttpCode(202)
  @ApiOperation({ summary: 'Run now, outside the cron (202 with the job id)' })
  async triggerNow(@Param('name') name: string) {
    const spec = await this.mustGet(name);
    const jobId = await this.scheduling.triggerNow(spec, this.clock.nowMs());
    return { jobId, schedule: name };
  }

  @Get(':name/runs')
  @ApiOperation({ summary: 'Run history, newest first (?limit=1..1000, default 20)' })
  async history(@Param('name') name: string, @Query('limit') limitRaw?: string) {
    let limit = 20;
    if (limitRaw !== undefined) {
      if (!/^\d+$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > 1000) {
        throw badRequest([{ field: 'limit', message: `must be a whole number from 1 to 1000, got "${String(limitRaw).slice(0, 40)}"` }]);
      }
      limit = Number(limitRaw);
    }
    await this.mustGet(name);
    return this.runs.list(name, limit);
  }
}
