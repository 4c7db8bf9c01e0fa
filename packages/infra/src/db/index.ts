export { createPgPool, type CreatePgPoolOptions } from './pool.js';
export { migrate, type MigrateOptions } from './migrate.js';
export { startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded.js';
