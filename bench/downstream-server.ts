// The downstream of the inter-service benchmark, in its own process: `work` answers at once.
import { startDownstream } from '../packages/infra/src/client/fixtures/downstream.js';

const downstream = await startDownstream({ MAX_BATCH_SIZE: '64', TRUSTED_SERVICE_KEYS: 'bench=bench-key-0123456789abcdef' });
process.stdout.write(`${JSON.stringify({ url: downstream.address.url })}\n`);
process.on('SIGTERM', () => void downstream.service.shutdown('bench done').then(() => process.exit(0)));
