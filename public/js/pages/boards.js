/// /boards: the new-board form, the Trello import (the list is rendered by the server).
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

  initImport(document.getElementById('import-trello'));

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

/// Uploads a Trello export, then follows the import until its board is made (and opens it) or it
/// failed (and says where and why).
function initImport(form) {
  const status = form.querySelector('.import-status');
  const bar = status.querySelector('progress');
  const text = status.querySelector('span');
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  onSubmit(form, async () => {
    const file = form.elements.file.files[0];
    if (!file) { form.elements.file.focus(); return; }
    status.hidden = false;
    bar.value = 0;
    text.textContent = `Uploading ${file.name}…`;
    try {
      // Sent as JSON whatever type the browser guessed for the file.
      let job = (await api('POST', '/imports/trello', undefined, { raw: new Blob([file], { type: 'application/json' }) })).import;
      while (job.status === 'pending' || job.status === 'running') {
        bar.value = job.progress;
        text.textContent = job.status === 'pending' ? 'Waiting for a worker…' : `Importing… ${job.progress}%`;
        await wait(500);
        job = (await api('GET', `/imports/${job.id}`)).import;
      }
      if (job.status === 'failed') throw new Error(job.error);
      bar.value = 100;
      const s = job.summary;
      text.textContent = `Imported ${s.cards} cards in ${s.columns} lists. Opening the board…`;
      location.assign('/boards/' + job.board_id);
    } catch (error) {
      status.hidden = true;
      throw error;
    }
  });
}
