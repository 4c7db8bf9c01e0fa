export { startConsumer, type Consumer, type ConsumerOptions } from './consumer.js';
export { createEventPublisher, publishEvent, type EventPublisher, type PublishOptions } from './publisher.js';
