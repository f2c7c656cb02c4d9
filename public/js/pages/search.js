/// /search?q=: cards on every board of the reader, each linking to its address on its board.
import { api } from '../lib/api.js';
import { dueDay, el, formatDue } from '../lib/dom.js';

export async function init() {
  const query = new URLSearchParams(location.search).get('q') || '';
  const field = document.getElementById('search-q');
  const top = document.getElementById('top-search');
  const status = document.getElementById('search-status');
  const list = document.getElementById('search-results');
  field.value = query;
  if (top) top.value = query;
  if (!query.trim()) {
    status.textContent = 'Type some words to find cards on all your boards.';
    field.focus();
    return;
  }
  status.textContent = 'Searching…';
  let page;
  try {
    page = await api('GET', '/search?limit=100&q=' + encodeURIComponent(query));
  } catch (error) {
    status.textContent = error.message;
    return;
  }
  status.textContent = page.items.length === 0 ? `No card holds “${query}”.`
    : page.items.length === 1 ? '1 card' : `${page.items.length} cards${page.items.length === 100 ? ' (the best 100)' : ''}`;
  list.hidden = page.items.length === 0;
  list.replaceChildren(...page.items.map((hit) => el('li', { class: 'search-hit' + (hit.archived ? ' is-archived' : '') },
    el('a', { href: `/boards/${hit.board_id}/cards/${hit.card_id}`, class: 'search-title', text: hit.title }),
    el('span', { class: 'muted', text: ` ${hit.board_name} › ${hit.column_name}` +
      (hit.done ? ' · done' : '') + (hit.archived ? ' · archived' : '') +
      (hit.due_at ? ` · due ${formatDue(hit.due_at, hit.due_has_time)}` : '') }),
    hit.due_at ? el('time', { dateTime: dueDay(hit.due_at, hit.due_has_time), hidden: true }) : '')));
}
