import { notesContract } from '@switchyard/api-contracts';
import { implement } from '@switchyard/infra/trpc';
import type { NotesStore } from './store.js';

/** The notes router: handlers only, typed from the contract. */
export function createNotesRouter(store: NotesStore) {
  return implement(notesContract, {
    create: ({ input }) => store.create(input),
    get: ({ input }) => store.get(input.ownerId, input.id),
    list: ({ input }) => store.list(input),
    update: ({ input }) => store.update(input),
    delete: ({ input }) => store.delete(input.ownerId, input.id),
  });
}
