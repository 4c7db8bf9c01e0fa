import { account, client, main, type Views } from './client.js';
import { notesList, refreshAfterWrite, renderNotes } from './notes.js';
import { feedList, renderFeed, renderStatus, statusBody } from './panels.js';
import { form, h } from './ui.js';

// The signed-in view and the page's queries.

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

/** The signed-in view: the notes with a form for a new one, the feed and the mesh's status. */
export async function showSignedIn(views: Views): Promise<void> {
  const signOut = h('button', { type: 'button' }, 'Sign out everywhere');
  signOut.addEventListener('click', () => {
    signOut.disabled = true;
    void client.auth.logoutEverywhere
      .mutate({})
      .catch(() => undefined)
      .then(() => client.signOut())
      .then(() => views.signedOut('Signed out on every device.'));
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
      h('section', { 'aria-labelledby': 'notes-h', class: 'wide' }, h('h2', { id: 'notes-h' }, 'Notes'), create, notesList),
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
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Instance'),
                h('th', { scope: 'col' }, 'Readiness'),
                h('th', { scope: 'col' }, 'Breakers'),
              ),
            ),
            statusBody,
          ),
        ),
      ),
    ),
  );
  await loadPage();
  (create.querySelector('input') as HTMLInputElement).focus();
}
