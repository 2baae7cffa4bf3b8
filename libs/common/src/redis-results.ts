/** PipelineResults: what ioredis's pipeline/multi exec() resolves to (null when a WATCH aborted a MULTI). */
export type PipelineResults = [Error | null, unknown][] | null;

/** throwFirstError: a pipeline reports errors per command, never by rejecting; throw the first one. */
export function throwFirstError(results: PipelineResults): void {
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
}
