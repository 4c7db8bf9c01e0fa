import type { Note } from '@switchyard/api-contracts';
import { client } from './client.js';
import { renderFeed } from './panels.js';
import { describeError, form, h } from './ui.js';

// The notes list: each note with its edit and delete actions, re-read after every write.

/** The list the notes render into. */
export const notesList = h('ul', { class: 'notes', 'aria-live': 'polite' });

/** A note with its actions; editing swaps the view for a form in place. */
function noteItem(note: Note): HTMLLIElement {
  const item = h('li', { class: 'note', 'data-note-id': note.id });
  const view = () => {
    const edit = h('button', { type: 'button', 'aria-label': `Edit “${note.title}”` }, 'Edit');
    const remove = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete “${note.title}”` }, 'Delete');
    const error = h('p', { class: 'error', role: 'alert' });
    edit.addEventListener('click', () => editing());
    remove.addEventListener('click', () => {
      remove.disabled = true;
      client.notes.delete
        .mutate({ id: note.id })
        .then(() => refreshAfterWrite())
        .catch((err: unknown) => {
          error.textContent = describeError(err).message ?? 'Could not delete';
          remove.disabled = false;
        });
    });
    item.replaceChildren(
      h('h3', {}, note.title),
      ...(note.body ? [h('p', { class: 'body' }, note.body)] : []),
      h('p', { class: 'meta' }, `Version ${note.version} · updated ${note.updatedAt.toLocaleString()}`),
      h('div', { class: 'actions' }, edit, remove),
      error,
    );
  };
  const editing = () => {
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const editForm = form(
      `edit-${note.id}`,
      `Edit “${note.title}”`,
      [
        { name: 'title', label: 'Title', value: note.title },
        { name: 'body', label: 'Body', type: 'textarea', value: note.body },
      ],
      'Save',
      async ({ title, body }) => {
        note = await client.notes.update.mutate({ id: note.id, title: title!, body: body!, expectedVersion: note.version });
        view();
        void refreshAfterWrite();
      },
    );
    cancel.addEventListener('click', () => view());
    editForm.querySelector('button[type=submit]')!.after(cancel);
    item.replaceChildren(editForm);
    (editForm.querySelector('input') as HTMLInputElement).focus();
  };
  view();
  return item;
}

/** Shows `items`, or a line saying there are none. */
export function renderNotes(items: Note[]) {
  notesList.replaceChildren(...(items.length ? items.map(noteItem) : [h('li', { class: 'empty' }, 'No notes yet.')]));
}

/** After a write: the notes at once; the feed follows the events (processed in the background). */
export async function refreshAfterWrite() {
  renderNotes((await client.notes.list.query({ limit: 50 })).items);
  setTimeout(() => void client.activity.feed.query({ limit: 20 }).then((feed) => renderFeed(feed.items)), 400);
}
