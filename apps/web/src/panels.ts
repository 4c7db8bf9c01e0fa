import type { ActivityItem, MeshStatus } from '@switchyard/api-contracts';
import { h } from './ui.js';

// The signed-in page's side panels: the activity feed and the mesh's status.

export const feedList = h('ol', { class: 'feed' });
export const statusBody = h('tbody');

const ACTIVITY_WORDS: Record<ActivityItem['type'], string> = {
  'note.created': 'Created',
  'note.updated': 'Edited',
  'note.deleted': 'Deleted',
};

/** Shows the feed's items, newest first as the service sends them. */
export function renderFeed(items: ActivityItem[]) {
  feedList.replaceChildren(
    ...(items.length
      ? items.map((item) =>
          h(
            'li',
            {},
            h('strong', {}, ACTIVITY_WORDS[item.type]),
            ' ',
            item.title ?? 'a note',
            h('span', { class: 'meta' }, ` · ${item.occurredAt.toLocaleTimeString()}`),
          ),
        )
      : [h('li', { class: 'empty' }, 'Nothing yet.')]),
  );
}
/** One row per instance: readiness and its breakers' states. */
export function renderStatus(status: MeshStatus) {
  statusBody.replaceChildren(
    ...status.services.flatMap((service) =>
      service.instances.map((instance) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, service.instances.length > 1 ? `${service.name} #${instance.instance}` : service.name),
          h('td', { class: instance.ready ? 'ok' : 'bad' }, instance.ready ? 'ready' : 'not ready'),
          h(
            'td',
            {},
            Object.entries(instance.breakers)
              .map(([target, state]) => `→ ${target}: ${state}`)
              .join(', ') || '—',
          ),
        ),
      ),
    ),
  );
}
