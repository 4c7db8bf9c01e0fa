import { z } from 'zod';
import { defineContract } from './contract.js';

/** Longest note title, in characters (after trimming). */
export const NOTE_TITLE_MAX = 200;
/** Longest note body, in characters. */
export const NOTE_BODY_MAX = 10_000;
/** Largest page `notes.list` returns. */
export const NOTES_PAGE_MAX = 100;

/** A user's id (notes' owner): from the signed-in user's access token, never from the input. */
export const OwnerIdSchema = z.uuid();
export const NoteIdSchema = z.uuid();

export const NoteSchema = z.object({
  id: NoteIdSchema,
  ownerId: OwnerIdSchema,
  title: z.string(),
  body: z.string(),
  /** Starts at 1 and grows by one on every update. */
  version: z.number().int().positive(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type Note = z.infer<typeof NoteSchema>;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text PostgreSQL stores exactly: no NUL character, no lone UTF-16 surrogate. */
const StoredText = z
  .string()
  .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters')
  .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode text');

const TitleSchema = StoredText.pipe(z.string().trim().min(1).max(NOTE_TITLE_MAX));
const BodySchema = StoredText.pipe(z.string().max(NOTE_BODY_MAX));

export const CreateNoteInput = z.strictObject({
  title: TitleSchema,
  body: BodySchema.default(''),
});

export const NoteRefInput = z.strictObject({ id: NoteIdSchema });

export const ListNotesInput = z.strictObject({
  limit: z.number().int().min(1).max(NOTES_PAGE_MAX).default(20),
  /** Opaque: the `nextCursor` of the previous page. */
  cursor: z.string().min(1).max(100).optional(),
});

/** A note with its author, as `get` shows it; `author` is null when the auth service cannot say. */
export const NoteWithAuthorSchema = NoteSchema.extend({ author: z.object({ id: z.uuid(), email: z.string() }).nullable() });
export type NoteWithAuthor = z.infer<typeof NoteWithAuthorSchema>;

export const NotesPageSchema = z.object({
  items: z.array(NoteSchema),
  nextCursor: z.string().nullable(),
});

export const UpdateNoteInput = z
  .strictObject({
    id: NoteIdSchema,
    title: TitleSchema.optional(),
    body: BodySchema.optional(),
    /** When given, the update applies only if the note is still at this version (else CONFLICT). */
    expectedVersion: z.number().int().positive().optional(),
  })
  .refine((v) => v.title !== undefined || v.body !== undefined, {
    message: 'Give title or body to update',
    path: ['title'],
  });

/** The notes service: the example domain service. */
export const notesContract = defineContract({
  create: {
    type: 'mutation',
    input: CreateNoteInput,
    output: NoteSchema,
    access: 'user',
    description: 'Creates a note.',
  },
  get: {
    type: 'query',
    input: NoteRefInput,
    output: NoteWithAuthorSchema,
    access: 'user',
    description: "One of the user's notes with its author; NOT_FOUND when it does not exist or is someone else's.",
  },
  list: {
    type: 'query',
    input: ListNotesInput,
    output: NotesPageSchema,
    access: 'user',
    description: "The owner's notes, newest first, a page at a time.",
  },
  update: {
    type: 'mutation',
    input: UpdateNoteInput,
    output: NoteSchema,
    access: 'user',
    // Setting fields to given values twice has the effect of once (expectedVersion guards races).
    idempotent: true,
    description: 'Changes the title or body of a note.',
  },
  delete: {
    type: 'mutation',
    input: NoteRefInput,
    output: z.object({ id: NoteIdSchema }),
    access: 'user',
    description: 'Deletes a note.',
  },
});

export type NotesContract = typeof notesContract;
