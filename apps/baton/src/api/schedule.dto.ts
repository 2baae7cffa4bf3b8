import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** ScheduleBody documents the schedule JSON for OpenAPI; validation itself is the core's validateScheduleInput. */
export class ScheduleBody {
  @ApiPropertyOptional({ example: 'nightly-report', description: '1–64 of a-z 0-9 . _ -, starting with a letter or digit. Required for POST; optional for PUT (must match the path).' })
  name?: string;
  @ApiProperty({ example: '0 30 2 * * *', description: "5 fields, or 6 with seconds first, in node-cron's syntax" })
  cron!: string;
  @ApiPropertyOptional({ example: 'Europe/Berlin', default: 'UTC', description: 'IANA time zone' })
  timezone?: string;
  @ApiProperty({ example: 'http', description: 'a handler some live node offers (`http`, `log`, or an app handler)' })
  handler!: string;
  @ApiPropertyOptional({ example: { url: 'http://reports:8080/run', method: 'POST', headers: {}, body: { kind: 'daily' } }, description: "the handler's input; for `http`: url, method, headers, body" })
  data?: Record<string, unknown>;
  @ApiPropertyOptional({ default: 3, minimum: 1, maximum: 20 })
  attempts?: number;
  @ApiPropertyOptional({ example: { type: 'exponential', delayMs: 1000 } })
  backoff?: { type: 'fixed' | 'exponential'; delayMs: number };
  @ApiPropertyOptional({ default: 30000, minimum: 100, maximum: 3600000 })
  timeoutMs?: number;
  @ApiPropertyOptional({ enum: ['allow', 'skip'], default: 'allow' })
  overlap?: 'allow' | 'skip';
  @ApiPropertyOptional({ enum: ['all', 'latest', 'none'], default: 'all' })
  misfire?: 'all' | 'latest' | 'none';
  @ApiPropertyOptional({ default: false })
  paused?: boolean;
}
