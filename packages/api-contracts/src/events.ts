import { z } from 'zod';

/**
 * An event contract: data only. `name` and `version` identify the payload's shape; a consumer
 * refuses a version it does not know rather than guess.
 */
export interface EventDef<TName extends string = string, S extends z.ZodType = z.ZodType> {
  readonly name: TName;
  readonly version: number;
  /** The Redis stream it travels on. */
  readonly stream: string;
  readonly payload: S;
}

/** Declares an event contract. */
export function defineEvent<const TName extends string, S extends z.ZodType>(def: EventDef<TName, S>): EventDef<TName, S> {
  if (!/^[a-z][a-z0-9]*(\.[a-z][a-zA-Z0-9]*)+$/.test(def.name))
    throw new TypeError(`event name "${def.name}" must be dotted lowercase words`);
  if (!(Number.isInteger(def.version) && def.version > 0))
    throw new TypeError(`event "${def.name}": version must be a positive integer`);
  return def;
}

/** An event as delivered: its unique id, its contract's name and version, when it happened, the payload. */
export interface EventEnvelope<E extends EventDef = EventDef> {
  readonly id: string;
  readonly type: E['name'];
  readonly version: number;
  readonly occurredAt: Date;
  readonly payload: z.output<E['payload']>;
}

/** The stream notes publishes its changes on. */
export const NOTES_EVENTS_STREAM = 'notes.events';

const NoteEventPayload = z.object({ noteId: z.uuid(), ownerId: z.uuid(), title: z.string() });

export const NoteCreated = defineEvent({
  name: 'notes.note.created',
  version: 1,
  stream: NOTES_EVENTS_STREAM,
  payload: NoteEventPayload,
});
export const NoteUpdated = defineEvent({
  name: 'notes.note.updated',
  version: 1,
  stream: NOTES_EVENTS_STREAM,
  payload: NoteEventPayload,
});
export const NoteDeleted = defineEvent({
  name: 'notes.note.deleted',
  version: 1,
  stream: NOTES_EVENTS_STREAM,
  payload: z.object({ noteId: z.uuid(), ownerId: z.uuid() }),
});

/** Every event notes publishes. */
export const noteEvents = [NoteCreated, NoteUpdated, NoteDeleted] as const;
export type NoteEvent = (typeof noteEvents)[number];
