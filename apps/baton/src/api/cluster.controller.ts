import { Controller, Get, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import { ConflictException } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ElectionService } from '@lib/election';
import type { NodeRegistry } from '../cluster/node-registry';
import { NODE_REGISTRY } from '../tokens';
import { ApiTokenGuard } from './api-token.guard';

/** ClusterController: who leads, which nodes are alive, and a handover on request. */
@ApiTags('cluster')
@ApiBearerAuth()
@UseGuards(ApiTokenGuard)
@Controller('api/cluster')
export class ClusterController {
  constructor(
    private readonly election: ElectionService,
    @Inject(NODE_REGISTRY) private readonly registry: NodeRegistry,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The leader (nodeId, term, since, leaseRemainingMs) and the live nodes' })
  async view() {
    const [leader, nodes] = await Promise.all([this.election.currentLeader(), this.registry.live()]);
    return {
      leader,
      nodes: nodes.map((n) => ({
        nodeId: n.nodeId,
        role: leader && leader.nodeId === n.nodeId ? 'leader' : 'follower',
        host: n.host,
        pid: n.pid,
        version: n.version,
        startedAt: n.startedAt,
        lastSeenAt: n.lastSeenAt,
        handlers: n.handlers,
      })),
    };
  }

  @Post('resign')
  @HttpCode(200)
  @ApiOperation({ summary: 'The current leader steps down (handover, as on SIGTERM); 409 when nobody leads' })
  async resign() {
    const result = await this.election.requestResign();
    if (!result.resigned) throw new ConflictException('no node leads right now; nothing to resign');
    return result;
  }
}
