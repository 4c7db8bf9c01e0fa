export {
  defineContract,
  type AccessRule,
  type Contract,
  type InputIssue,
  type MeshErrorData,
  type MeshErrorShape,
  type MeshRootTypes,
  type ProcedureDef,
  type ProcedureKind,
  type ProcedureMeta,
  type RouterOf,
} from './contract.js';
export {
  CreateNoteInput,
  ListNotesInput,
  NOTES_PAGE_MAX,
  NOTE_BODY_MAX,
  NOTE_TITLE_MAX,
  NoteIdSchema,
  NoteRefInput,
  NoteSchema,
  NotesPageSchema,
  OwnerIdSchema,
  UpdateNoteInput,
  notesContract,
  type Note,
  type NotesContract,
} from './notes.js';

import type { RouterOf } from './contract.js';
import type { NotesContract } from './notes.js';
/** The notes service's router type, for `createTRPCClient<NotesRouter>`. */
export type NotesRouter = RouterOf<NotesContract>;
