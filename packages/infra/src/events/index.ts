export { startConsumer, type Consumer, type ConsumerOptions } from './consumer.js';
export { publishEvent, type PublishOptions } from './publisher.js';
