/// /notifications: the list, mark one or all read.
import { api } from '../lib/api.js';
import { refreshBell } from '../lib/bell.js';
import { el, toast } from '../lib/dom.js';

function text(n) {
  let card = n.card_title ? '“' + n.card_title + '”' : 'a card';
  if (n.board_name) card += ' on ' + n.board_name;
  const who = n.actor_name || 'Someone';
  const times = n.times > 1 ? ` (${n.times} times)` : '';
  switch (n.kind) {
    case 'mentioned': return `${who} mentioned you on ${card}${times}`;
    case 'assigned': return `${who} assigned you to ${card}${times}`;
    case 'due_soon': return card.charAt(0).toUpperCase() + card.slice(1) + ' is due soon';
    case 'webhook_disabled': return 'A webhook (' + (n.payload.url || '') + ') was disabled after failed deliveries';
    default: return 'News about ' + card;
  }
}

function link(n) {
  if (!n.board_id) return '/boards';
  if (n.kind === 'webhook_disabled') return `/boards/${n.board_id}/webhooks`;
  return `/boards/${n.board_id}` + (n.card_id ? '/cards/' + n.card_id : '');
}

export function init() {
  const list = document.getElementById('notification-list');
  const empty = document.getElementById('no-notifications');
  async function load() {
    const page = await api('GET', '/notifications?limit=100');
    list.replaceChildren(...page.items.map((n) =>
      el('li', { class: 'notification' + (n.read_at ? '' : ' is-unread'), dataset: { id: n.id } },
        el('a', { href: link(n), text: text(n) }),
        n.payload.excerpt ? el('q', { class: 'notification-excerpt', text: n.payload.excerpt }) : null,
        el('time', { class: 'muted', datetime: n.updated_at || n.created_at, text: new Date(n.updated_at || n.created_at).toLocaleString() }))));
    empty.hidden = page.items.length > 0;
    refreshBell();
  }
  document.querySelector('[data-action="read-all"]').addEventListener('click', async () => {
    try {
      await api('POST', '/notifications/read', { all: true });
      await load();
      toast('All read.');
    } catch (error) { toast(error.message, 'error'); }
  });
  list.addEventListener('click', (event) => {
    const item = event.target.closest('.notification.is-unread');
    if (item) api('POST', '/notifications/read', { ids: [Number(item.dataset.id)] }).catch(() => {});
  });
  load().catch((error) => toast(error.message, 'error'));
}
