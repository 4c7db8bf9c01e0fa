import {
  NoteCreated,
  NoteDeleted,
  NoteUpdated,
  notesContract,
  type NoteEvent,
  type NoteWithAuthor,
} from '@switchyard/api-contracts';
import type { RequestContext } from '@switchyard/infra/trpc';
import { implement } from '@switchyard/infra/trpc';
import type { z } from 'zod';
import type { NotesStore } from './store.js';

/** Publishes a note event; notes without Redis pass none. */
export type PublishNoteEvent = <E extends NoteEvent>(def: E, payload: z.input<E['payload']>) => Promise<unknown>;

/** Who wrote a note, as `get` shows it: `null` when the auth service cannot say. */
export type AuthorLookup = (ctx: RequestContext, userId: string) => Promise<NoteWithAuthor['author']>;

/** What the router needs. */
export interface NotesRouterDeps {
  store: NotesStore;
  publish?: PublishNoteEvent | undefined;
  author?: AuthorLookup | undefined;
}

/**
 * The notes router: handlers only, typed from the contract. The owner is always the signed-in
 * user (the contract's access is 'user'); each change is published as an event.
 */
export function createNotesRouter({ store, publish, author }: NotesRouterDeps) {
  const ownerOf = (ctx: RequestContext) => ctx.user!.id;
  return implement(notesContract, {
    create: async ({ input, ctx }) => {
      const note = await store.create({ ...input, ownerId: ownerOf(ctx) });
      await publish?.(NoteCreated, { noteId: note.id, ownerId: note.ownerId, title: note.title });
      return note;
    },
    get: async ({ input, ctx }) => {
      const note = await store.get(ownerOf(ctx), input.id);
      return { ...note, author: author ? await author(ctx, note.ownerId) : null };
    },
    list: ({ input, ctx }) => store.list({ ...input, ownerId: ownerOf(ctx) }),
    update: async ({ input, ctx }) => {
      const note = await store.update({ ...input, ownerId: ownerOf(ctx) });
      await publish?.(NoteUpdated, { noteId: note.id, ownerId: note.ownerId, title: note.title });
      return note;
    },
    delete: async ({ input, ctx }) => {
      const deleted = await store.delete(ownerOf(ctx), input.id);
      await publish?.(NoteDeleted, { noteId: input.id, ownerId: ownerOf(ctx) });
      return deleted;
    },
  });
}
