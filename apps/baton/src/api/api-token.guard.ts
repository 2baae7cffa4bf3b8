import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { BatonConfig } from '../config/baton-config';
import { BATON_CONFIG } from '../tokens';

/**
 * ApiTokenGuard: when BATON_API_TOKEN is set, every /api request needs
 * `Authorization: Bearer <token>` (compared in constant time). Health and
 * docs are not behind it.
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(@Inject(BATON_CONFIG) config: BatonConfig) {
    this.expected = config.apiToken ? Buffer.from(config.apiToken) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) return true;
    const header = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>().headers.authorization;
    const match = typeof header === 'string' ? /^Bearer (.+)$/.exec(header) : null;
    if (!match) throw new UnauthorizedException('Authorization: Bearer <token> is required (BATON_API_TOKEN is set)');
    const given = Buffer.from(match[1]);
    if (given.length !== this.expected.length || !timingSafeEqual(given, this.expected)) {
      throw new UnauthorizedException('the bearer token is not valid');
    }
    return true;
  }
}
