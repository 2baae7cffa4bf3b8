/** BATON_EVENT_LOGGER: the shared logger token (see @lib/common), re-exported for the worker's users. */
export { BATON_EVENT_LOGGER } from '@lib/common';
