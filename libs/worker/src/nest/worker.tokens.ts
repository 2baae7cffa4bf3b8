/**
 * BATON_EVENT_LOGGER: injection token of the EventLogger the worker logs to.
 * The app provides it, e.g. in `WorkerModule.forRootAsync({ ..., extraProviders:
 * [{ provide: BATON_EVENT_LOGGER, useValue: logger }] })` or from a global module.
 * A string, so other libs may share the same token.
 */
export const BATON_EVENT_LOGGER = 'BATON_EVENT_LOGGER';
