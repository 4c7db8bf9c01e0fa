export {
  defineContract,
  MAX_TIMEOUT_MS,
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
  NoteWithAuthorSchema,
  NotesPageSchema,
  OwnerIdSchema,
  UpdateNoteInput,
  notesContract,
  type Note,
  type NoteWithAuthor,
  type NotesContract,
} from './notes.js';

import type { RouterOf } from './contract.js';
import type { NotesContract } from './notes.js';
/** The notes service's router type, for `createTRPCClient<NotesRouter>`. */
export type NotesRouter = RouterOf<NotesContract>;
export {
  NOTES_EVENTS_STREAM,
  NoteCreated,
  NoteDeleted,
  NoteUpdated,
  defineEvent,
  noteEvents,
  type EventDef,
  type EventEnvelope,
  type NoteEvent,
} from './events.js';
export {
  ActivityItemSchema,
  BreakerStateSchema,
  MeshStatusSchema,
  activityContract,
  type ActivityContract,
  type ActivityItem,
  type MeshStatus,
} from './activity.js';

import type { ActivityContract } from './activity.js';
/** The activity service's router type. */
export type ActivityRouter = RouterOf<ActivityContract>;
export {
  EmailSchema,
  PASSWORD_MAX,
  PASSWORD_MIN,
  TokenPairSchema,
  UserSchema,
  authContract,
  type AuthContract,
  type TokenPair,
  type User,
} from './auth.js';

import type { AuthContract } from './auth.js';
/** The auth service's router type. */
export type AuthRouter = RouterOf<AuthContract>;

// Every service of mesh.json (generated): its contract and router type, by the name the gateway routes.
export { meshContracts, type MeshRouters } from './services.generated.js';
