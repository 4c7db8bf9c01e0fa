import { TRPCClientError } from '@trpc/client';
import { createSwitchyardClient } from '@switchyard/client';
import type { ActivityItem, MeshStatus, Note } from '@switchyard/api-contracts';
import './styles.css';

// Same origin as the gateway: the refresh token stays in auth's HttpOnly cookie; the access token
// lives in memory only. One batching link per service: a page's queries to one service travel in
// one HTTP request.
const client = createSwitchyardClient({ baseUrl: '', session: 'cookie' });

const main = document.getElementById('main')!;
const account = document.getElementById('account')!;

/** Creates an element; text only (never HTML), so nothing a user typed can run as markup. */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string | boolean>> = {},
  ...children: Array<Node | string | null | undefined | false>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === false || value === undefined) continue;
    if (key === 'class') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

// ---- errors, next to the field that caused them -------------------------------------------

interface ErrorData {
  appCode?: string;
  /** `path` is the field's dotted path, e.g. `title` or `items.0.name`. */
  issues?: Array<{ path: string; message: string }>;
}

function describeError(error: unknown): { fields: Record<string, string>; message: string | undefined } {
  const data = (error instanceof TRPCClientError ? error.data : undefined) as ErrorData | undefined;
  const fields: Record<string, string> = {};
  for (const issue of data?.issues ?? []) {
    const field = issue.path.split('.')[0] ?? '';
    if (field && !fields[field]) fields[field] = issue.message;
  }
  const message =
    Object.keys(fields).length > 0
      ? undefined
      : data?.appCode === 'OUTCOME_UNKNOWN'
        ? 'The connection failed: the change may or may not have been saved. Refresh to check.'
        : error instanceof Error
          ? error.message
          : 'Something went wrong';
  return { fields, message };
}

interface FieldSpec {
  name: string;
  label: string;
  type?: 'text' | 'email' | 'password' | 'textarea';
  value?: string;
  autocomplete?: string;
}

/** A form whose fields have labels, and whose errors appear under the field (announced to screen readers). */
function form(id: string, legend: string, fields: FieldSpec[], submit: string, onSubmit: (values: Record<string, string>) => Promise<void>) {
  const general = h('p', { id: `${id}-error`, class: 'error', role: 'alert' });
  const inputs = fields.map((field) => {
    const inputId = `${id}-${field.name}`;
    const error = h('p', { id: `${inputId}-error`, class: 'error field-error', role: 'alert' });
    const attrs = { id: inputId, name: field.name, 'aria-describedby': `${inputId}-error`, autocomplete: field.autocomplete ?? 'off' };
    const input =
      field.type === 'textarea'
        ? h('textarea', { ...attrs, rows: '3' })
        : h('input', { ...attrs, type: field.type ?? 'text' });
    input.value = field.value ?? '';
    return { field, input, error, row: h('div', { class: 'field' }, h('label', { for: inputId }, field.label), input, error) };
  });
  const button = h('button', { type: 'submit' }, submit);
  const el = h('form', { id, novalidate: true, 'aria-label': legend }, ...inputs.map((i) => i.row), button, general);
  el.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const { input, error } of inputs) {
      error.textContent = '';
      input.removeAttribute('aria-invalid');
    }
    general.textContent = '';
    button.disabled = true;
    const values = Object.fromEntries(inputs.map(({ field, input }) => [field.name, input.value]));
    onSubmit(values)
      .catch((err: unknown) => {
        const { fields: byField, message } = describeError(err);
        let first: HTMLElement | undefined;
        for (const { field, input, error } of inputs) {
          const text = byField[field.name];
          if (!text) continue;
          error.textContent = text;
          input.setAttribute('aria-invalid', 'true');
          first ??= input;
        }
        general.textContent = message ?? (first ? '' : 'Please check the form');
        first?.focus();
      })
      .finally(() => {
        button.disabled = false;
      });
  });
  return el;
}

// ---- signed out ----------------------------------------------------------------------------

function showSignedOut(notice?: string) {
  account.replaceChildren();
  const signIn = form(
    'sign-in',
    'Sign in',
    [
      { name: 'email', label: 'Email', type: 'email', autocomplete: 'username' },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
    ],
    'Sign in',
    async ({ email, password }) => {
      await client.signIn(email!, password!);
      await showSignedIn();
    },
  );
  const signUp = form(
    'sign-up',
    'Create an account',
    [
      { name: 'email', label: 'Email', type: 'email', autocomplete: 'username' },
      { name: 'password', label: 'Password (10+ characters, letters and digits or symbols)', type: 'password', autocomplete: 'new-password' },
    ],
    'Create account',
    async ({ email, password }) => {
      await client.auth.register.mutate({ email: email!, password: password! });
      await client.signIn(email!, password!);
      await showSignedIn();
    },
  );
  main.replaceChildren(
    ...(notice ? [h('p', { class: 'notice', role: 'status' }, notice)] : []),
    h('div', { class: 'columns' }, h('section', { 'aria-labelledby': 'sign-in-h' }, h('h2', { id: 'sign-in-h' }, 'Sign in'), signIn),
      h('section', { 'aria-labelledby': 'sign-up-h' }, h('h2', { id: 'sign-up-h' }, 'Create an account'), signUp)),
  );
  (signIn.querySelector('input') as HTMLInputElement).focus();
}

// ---- signed in -----------------------------------------------------------------------------

const notesList = h('ul', { class: 'notes', 'aria-live': 'polite' });
const feedList = h('ol', { class: 'feed' });
const statusBody = h('tbody');

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

const ACTIVITY_WORDS: Record<ActivityItem['type'], string> = {
  'note.created': 'Created',
  'note.updated': 'Edited',
  'note.deleted': 'Deleted',
};

function renderNotes(items: Note[]) {
  notesList.replaceChildren(...(items.length ? items.map(noteItem) : [h('li', { class: 'empty' }, 'No notes yet.')]));
}
function renderFeed(items: ActivityItem[]) {
  feedList.replaceChildren(
    ...(items.length
      ? items.map((item) =>
          h('li', {}, h('strong', {}, ACTIVITY_WORDS[item.type]), ' ', item.title ?? 'a note', h('span', { class: 'meta' }, ` · ${item.occurredAt.toLocaleTimeString()}`)),
        )
      : [h('li', { class: 'empty' }, 'Nothing yet.')]),
  );
}
function renderStatus(status: MeshStatus) {
  statusBody.replaceChildren(
    ...status.services.flatMap((service) =>
      service.instances.map((instance) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, service.instances.length > 1 ? `${service.name} #${instance.instance}` : service.name),
          h('td', { class: instance.ready ? 'ok' : 'bad' }, instance.ready ? 'ready' : 'not ready'),
          h('td', {}, Object.entries(instance.breakers).map(([target, state]) => `→ ${target}: ${state}`).join(', ') || '—'),
        ),
      ),
    ),
  );
}

const who = h('span', { class: 'who' });

/** The page's queries, all at once: one HTTP request per service (activity's two batched). */
async function loadPage() {
  const [me, notes, feed, status] = await Promise.all([
    client.auth.me.query({}),
    client.notes.list.query({ limit: 50 }),
    client.activity.feed.query({ limit: 20 }),
    client.activity.meshStatus.query({}),
  ]);
  who.textContent = me.email;
  renderNotes(notes.items);
  renderFeed(feed.items);
  renderStatus(status);
}

/** After a write: the notes at once; the feed follows the events (processed in the background). */
async function refreshAfterWrite() {
  renderNotes((await client.notes.list.query({ limit: 50 })).items);
  setTimeout(() => void client.activity.feed.query({ limit: 20 }).then((feed) => renderFeed(feed.items)), 400);
}

async function showSignedIn() {
  const signOut = h('button', { type: 'button' }, 'Sign out everywhere');
  signOut.addEventListener('click', () => {
    signOut.disabled = true;
    void client.auth.logoutEverywhere
      .mutate({})
      .catch(() => undefined)
      .then(() => client.signOut())
      .then(() => showSignedOut('Signed out on every device.'));
  });
  account.replaceChildren(h('span', {}, 'Signed in as ', who), signOut);

  const create = form(
    'new-note',
    'New note',
    [
      { name: 'title', label: 'Title' },
      { name: 'body', label: 'Body', type: 'textarea' },
    ],
    'Create note',
    async ({ title, body }) => {
      await client.notes.create.mutate({ title: title!, body: body! });
      create.reset();
      (create.querySelector('input') as HTMLInputElement).focus();
      await refreshAfterWrite();
    },
  );
  const refreshStatus = h('button', { type: 'button' }, 'Refresh');
  refreshStatus.addEventListener('click', () => void client.activity.meshStatus.query({}).then(renderStatus));

  main.replaceChildren(
    h(
      'div',
      { class: 'columns' },
      h(
        'section',
        { 'aria-labelledby': 'notes-h', class: 'wide' },
        h('h2', { id: 'notes-h' }, 'Notes'),
        create,
        notesList,
      ),
      h(
        'div',
        {},
        h('section', { 'aria-labelledby': 'feed-h' }, h('h2', { id: 'feed-h' }, 'Activity'), feedList),
        h(
          'section',
          { 'aria-labelledby': 'status-h' },
          h('h2', { id: 'status-h' }, 'Mesh status ', refreshStatus),
          h(
            'table',
            { class: 'status' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Instance'), h('th', { scope: 'col' }, 'Readiness'), h('th', { scope: 'col' }, 'Breakers'))),
            statusBody,
          ),
        ),
      ),
    ),
  );
  await loadPage();
  (create.querySelector('input') as HTMLInputElement).focus();
}

// A live sign-in survives a reload through auth's cookie.
client
  .resume()
  .then((resumed) => (resumed ? showSignedIn() : showSignedOut()))
  .catch(() => showSignedOut());
