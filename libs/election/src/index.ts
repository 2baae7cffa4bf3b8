/** @lib/election: leader election through a lease in Redis, with fencing tokens. Framework-free. */
export * from './core/lease-lock';
export * from './core/redis-lease-lock';
export * from './core/in-memory-lease-lock';
export * from './core/leader-elector';
export * from './core/leader-elector.types';
export * from './core/election-timings';
export * from './core/election.errors';
export * from './core/read-leader';
export { electionCommands, LUA_DIR, type ElectionCommands } from './core/redis-commands';
export { ElectionModule } from './nest/election.module';
export { ElectionService } from './nest/election.service';
export { LeadershipListeners } from './nest/leadership.listeners';
export { ELECTION_MODULE_OPTIONS, type ElectionModuleOptions } from './nest/election.module-definition';
