import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

const LUA_FILE = /^([A-Za-z][A-Za-z0-9]*)-(\d+)\.lua$/;

/** LuaScript: one script file, `<command>-<numberOfKeys>.lua`. */
export interface LuaScript {
  name: string;
  numberOfKeys: number;
  lua: string;
}

const cache = new Map<string, LuaScript[]>();

/**
 * readLuaScripts reads every `<command>-<numberOfKeys>.lua` in `dir` (cached
 * per dir). The .lua files ship next to the compiled loader (see
 * scripts/postbuild.js), so callers pass `join(__dirname, '../lua')`.
 */
export function readLuaScripts(dir: string): LuaScript[] {
  let scripts = cache.get(dir);
  if (!scripts) {
    scripts = readdirSync(dir)
      .map((file) => ({ file, m: LUA_FILE.exec(file) }))
      .filter((f): f is { file: string; m: RegExpExecArray } => f.m !== null)
      .map(({ file, m }) => ({ name: m[1], numberOfKeys: Number(m[2]), lua: readFileSync(join(dir, file), 'utf8') }));
    cache.set(dir, scripts);
  }
  return scripts;
}

/**
 * defineLuaCommands defines each script of `dir` as a command on `redis`
 * (ioredis sends EVALSHA and falls back to EVAL, so a Redis restart that
 * flushed its script cache is handled). Defining twice is harmless.
 */
export function defineLuaCommands(redis: Redis, dir: string): void {
  for (const { name, numberOfKeys, lua } of readLuaScripts(dir)) {
    if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') {
      redis.defineCommand(name, { numberOfKeys, lua });
    }
  }
}
