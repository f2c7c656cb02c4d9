/// /boards: the new-board form (the list is rendered by the server).
import { api } from '../lib/api.js';
import { el, onSubmit, toast } from '../lib/dom.js';

export function init() {
  const form = document.getElementById('new-board');
  onSubmit(form, async () => {
    const reply = await api('POST', '/boards', {
      name: form.elements.name.value.trim(),
      description: form.elements.description.value.trim(),
    });
    location.assign('/boards/' + reply.board.id);
  });

  // Archived boards: listed on demand, restored by their admins.
  const show = document.querySelector('[data-action="show-archived"]');
  const list = document.getElementById('archived-list');
  show.addEventListener('click', async () => {
    const open = show.getAttribute('aria-expanded') === 'true';
    show.setAttribute('aria-expanded', String(!open));
    show.textContent = open ? 'Show archived boards' : 'Hide archived boards';
    list.hidden = open;
    if (open) return;
    const page = await api('GET', '/boards?archived=true&limit=100');
    const archived = page.items.filter((b) => b.archived);
    list.replaceChildren(...(archived.length ? archived.map((board) => {
      const item = el('li', { class: 'archived-board', dataset: { boardId: board.id } },
        el('a', { href: `/boards/${board.id}`, text: board.name }));
      if (board.role === 'admin' || board.role === 'owner') {
        const restore = el('button', { type: 'button', class: 'button button-small', text: 'Restore' });
        restore.addEventListener('click', async () => {
          try {
            await api('PATCH', `/boards/${board.id}`, { archived: false });
            location.reload();
          } catch (error) { toast(error.message, 'error'); }
        });
        item.append(restore);
      }
      return item;
    }) : [el('li', { class: 'muted', text: 'No archived boards.' })]));
  });
}
