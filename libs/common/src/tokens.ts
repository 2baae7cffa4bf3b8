/**
 * BATON_EVENT_LOGGER: injection token of the EventLogger the libs' Nest
 * modules log to. The app provides it (extraProviders or a global module).
 * A plain string, so the framework-free common lib can own it.
 */
export const BATON_EVENT_LOGGER = 'BATON_EVENT_LOGGER';
