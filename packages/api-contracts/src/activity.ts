import { z } from 'zod';
import { defineContract } from './contract.js';

export const ActivityItemSchema = z.object({
  eventId: z.uuid(),
  type: z.enum(['note.created', 'note.updated', 'note.deleted']),
  noteId: z.uuid(),
  /** The note's title at the time; absent for deletions. */
  title: z.string().nullable(),
  occurredAt: z.date(),
});
export type ActivityItem = z.infer<typeof ActivityItemSchema>;

export const BreakerStateSchema = z.enum(['closed', 'open', 'half-open', 'isolated']);

/** What the mesh looks like from inside: every instance's readiness and its callers' breakers. */
export const MeshStatusSchema = z.object({
  checkedAt: z.date(),
  services: z.array(
    z.object({
      name: z.string(),
      instances: z.array(
        z.object({
          /** 1-based, in the order of the mesh list. */
          instance: z.number().int().min(1),
          ready: z.boolean(),
          /** The breaker of each service this instance calls. */
          breakers: z.record(z.string(), BreakerStateSchema),
        }),
      ),
    }),
  ),
});
export type MeshStatus = z.infer<typeof MeshStatusSchema>;

/** The activity service: each user's feed of what happened to their notes. */
export const activityContract = defineContract({
  feed: {
    type: 'query',
    input: z.strictObject({
      limit: z.number().int().min(1).max(100).default(20),
      cursor: z.string().min(1).max(100).optional(),
    }),
    output: z.object({ items: z.array(ActivityItemSchema), nextCursor: z.string().nullable() }),
    access: 'user',
    description: "The signed-in user's activity, newest first.",
  },
  meshStatus: {
    type: 'query',
    input: z.strictObject({}),
    output: MeshStatusSchema,
    access: 'user',
    description: 'Services, instances ready, breaker states: read from each instance, at most once a second.',
  },
});
export type ActivityContract = typeof activityContract;
