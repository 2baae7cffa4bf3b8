// Runs before every test file (jest setupFiles): quiet, machine-readable logs,
// and never the machine's own Redis by accident.
process.env.LOG_LEVEL = process.env.LOG_LEVEL || 'warn';
process.env.LOG_FORMAT = 'json';
delete process.env.REDIS_URL;
