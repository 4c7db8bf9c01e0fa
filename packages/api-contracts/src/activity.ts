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
});
export type ActivityContract = typeof activityContract;
