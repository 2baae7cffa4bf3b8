/** ElectionConfigError: an election option is missing or inconsistent; `field` names it. */
export class ElectionConfigError extends Error {
  override readonly name = 'ElectionConfigError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** LeadershipEndedError: the abort reason of a leadership's signal; `reason` says why it ended. */
export class LeadershipEndedError extends Error {
  override readonly name = 'LeadershipEndedError';
  constructor(
    readonly term: number,
    readonly reason: string,
  ) {
    super(`leadership of term ${term} ended: ${reason}`);
  }
}
