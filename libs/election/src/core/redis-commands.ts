import { join } from 'node:path';
import { defineLuaCommands } from '@lib/common';
import type { Redis } from 'ioredis';

/** AcquireReply: `{token, previousTerm, previousNodeId|null, leaderlessMs, previousSilentMs}` or `{-1, pttlMs, holderValue}`. */
export type AcquireReply = [number, number, string | null, number?, number?];

/** ElectionCommands: the election's Lua scripts as ioredis commands (see src/lua). */
export interface ElectionCommands {
  acquireLease(leader: string, term: string, leaderInfo: string, channel: string, nodeId: string, leaseMs: number, minToken: number): Promise<AcquireReply>;
  renewLease(leader: string, leaderInfo: string, channel: string, value: string, leaseMs: number): Promise<number>;
  releaseLease(leader: string, leaderInfo: string, channel: string, value: string): Promise<number>;
}

/** LUA_DIR: where the scripts ship, next to the compiled core (build copies them). */
export const LUA_DIR = join(__dirname, '../lua');

/** electionCommands defines the scripts on `redis` (idempotent) and returns it typed with them. */
export function electionCommands(redis: Redis): Redis & ElectionCommands {
  defineLuaCommands(redis, LUA_DIR);
  return redis as Redis & ElectionCommands;
}
