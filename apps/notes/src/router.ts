import { NoteCreated, NoteDeleted, NoteUpdated, notesContract, type NoteEvent } from '@switchyard/api-contracts';
import { implement } from '@switchyard/infra/trpc';
import type { z } from 'zod';
import type { NotesStore } from './store.js';

/** Publishes a note event; notes without Redis pass none. */
export type PublishNoteEvent = <E extends NoteEvent>(def: E, payload: z.input<E['payload']>) => Promise<unknown>;

/** The notes router: handlers only, typed from the contract. Each change is published as an event. */
export function createNotesRouter(store: NotesStore, publish?: PublishNoteEvent) {
  return implement(notesContract, {
    create: async ({ input }) => {
      const note = await store.create(input);
      await publish?.(NoteCreated, { noteId: note.id, ownerId: note.ownerId, title: note.title });
      return note;
    },
    get: ({ input }) => store.get(input.ownerId, input.id),
    list: ({ input }) => store.list(input),
    update: async ({ input }) => {
      const note = await store.update(input);
      await publish?.(NoteUpdated, { noteId: note.id, ownerId: note.ownerId, title: note.title });
      return note;
    },
    delete: async ({ input }) => {
      const deleted = await store.delete(input.ownerId, input.id);
      await publish?.(NoteDeleted, { noteId: input.id, ownerId: input.ownerId });
      return deleted;
    },
  });
}
