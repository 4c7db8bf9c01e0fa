export { startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded.js';
export { migrate, type MigrateOptions } from './migrate.js';
export { createPgPool, type CreatePgPoolOptions } from './pool.js';
export { openServiceDatabase, type ServiceDatabase, type ServiceDatabaseOptions } from './service-database.js';
