/** Messages of the scheduling errors, kept apart so the API can reuse their wording. */
export const SchedulingMessages = {
  scheduleExists: (name: string) => `schedule '${name}' already exists; use PUT /api/schedules/${name} to replace it`,
  fencedOff: (expected: string, found: string | null) =>
    `leadership lease is no longer ours (expected '${expected}', found ${found === null ? 'none' : `'${found}'`}); enqueue refused`,
  writeConflict: (name: string) => `schedule '${name}' kept changing while being written; try again`,
  missingOption: (owner: string, field: string) => `${owner}: option '${field}' is required`,
} as const;
