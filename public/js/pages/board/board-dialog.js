/// The board settings dialog (admins): name and description, the board's labels (rename,
/// recolour, delete) and, for the owner, archive or delete the board.
import { api } from '../../lib/api.js';
import { el, onSubmit, toast } from '../../lib/dom.js';

export function initBoardDialog(store, sync, root) {
  const dialog = document.getElementById('board-dialog');
  const button = root.querySelector('[data-action="board-settings"]');
  if (!dialog || !button) return;
  const form = document.getElementById('board-form');
  const list = document.getElementById('board-label-list');
  const none = document.getElementById('board-no-labels');

  function fillLabels() {
    const labels = [...store.labels.values()].sort((a, b) => a.name.localeCompare(b.name));
    none.hidden = labels.length > 0;
    list.replaceChildren(...labels.map((label) => {
      const name = el('input', { type: 'text', maxlength: '50', value: label.name, 'aria-label': `Name of the label ${label.name}` });
      const color = el('input', { type: 'color', value: label.color, 'aria-label': `Colour of the label ${label.name}` });
      const save = el('button', { type: 'submit', class: 'button button-small', text: 'Save' });
      const remove = el('button', { type: 'button', class: 'button button-small button-danger-quiet', text: 'Delete' });
      const row = el('form', { class: 'label-editor', dataset: { labelId: label.id } }, color, name, save, remove);
      onSubmit(row, async () => {
        await sync.write('PATCH', `/labels/${label.id}`, { name: name.value.trim(), color: color.value });
        toast('Label saved');
      });
      remove.addEventListener('click', async () => {
        if (!confirm(`Delete the label “${label.name}”? It leaves every card that has it.`)) return;
        try { await sync.write('DELETE', `/labels/${label.id}`); } catch (error) { toast(error.message, 'error'); }
      });
      return el('li', {}, row);
    }));
  }

  const archivedColumns = document.getElementById('board-archived-columns');
  async function fillArchivedColumns() {
    archivedColumns.replaceChildren(el('li', { class: 'muted small', text: 'Loading…' }));
    try {
      const page = await api('GET', sync.path('/columns?archived=true'));
      archivedColumns.replaceChildren(...(page.items.length ? page.items.map((column) => {
        const restore = el('button', { type: 'button', class: 'button button-small', 'aria-label': `Restore the column ${column.name}`, text: 'Restore' });
        const item = el('li', { class: 'archived-card', dataset: { columnId: column.id } }, el('span', { text: column.name }), restore);
        restore.addEventListener('click', async () => {
          try {
            await sync.write('PATCH', `/columns/${column.id}`, { archived: false });
            item.remove();
            toast(`“${column.name}” is back on the board with its cards.`);
          } catch (error) { toast(error.message, 'error'); }
        });
        return item;
      }) : [el('li', { class: 'muted small', text: 'No archived columns.' })]));
    } catch (error) {
      archivedColumns.replaceChildren(el('li', { class: 'form-error', text: error.message }));
    }
  }

  const archivedList = document.getElementById('board-archived-cards');
  async function fillArchived() {
    archivedList.replaceChildren(el('li', { class: 'muted small', text: 'Loading…' }));
    try {
      const page = await api('GET', sync.path('/cards?archived=true&limit=100'));
      archivedList.replaceChildren(...(page.items.length ? page.items.map((card) => {
        const restore = el('button', { type: 'button', class: 'button button-small', text: 'Restore' });
        const column = store.columns.get(card.column_id);
        const item = el('li', { class: 'archived-card', dataset: { cardId: card.id } },
          el('span', { text: card.title }), el('span', { class: 'muted small', text: column ? ` in ${column.name}` : '' }), restore);
        restore.addEventListener('click', async () => {
          try {
            await sync.write('PATCH', `/cards/${card.id}`, { archived: false });
            item.remove();
            toast(`“${card.title}” is back in ${column ? column.name : 'its column'}.`);
          } catch (error) { toast(error.message, 'error'); }
        });
        return item;
      }) : [el('li', { class: 'muted small', text: 'No archived cards.' })]));
    } catch (error) {
      archivedList.replaceChildren(el('li', { class: 'form-error', text: error.message }));
    }
  }

  button.addEventListener('click', () => {
    form.elements.name.value = store.board.name;
    form.elements.description.value = store.board.description || '';
    document.getElementById('board-danger').hidden = store.board.role !== 'owner';
    fillLabels();
    fillArchived();
    fillArchivedColumns();
    dialog.showModal();
    form.elements.name.focus();
  });
  dialog.querySelector('[data-action="close-dialog"]').addEventListener('click', () => dialog.close());
  dialog.addEventListener('click', (event) => { if (event.target === dialog) dialog.close(); });
  store.addEventListener('label', () => { if (dialog.open) fillLabels(); });

  onSubmit(form, async () => {
    await sync.write('PATCH', '', { name: form.elements.name.value.trim(), description: form.elements.description.value.trim() });
    dialog.close();
    toast('Board saved');
  });
  dialog.querySelector('[data-action="archive-board"]').addEventListener('click', async () => {
    if (!confirm('Archive this board? It leaves the board list of every member; you can restore it later.')) return;
    try {
      await sync.write('PATCH', '', { archived: true });
      location.assign('/boards');
    } catch (error) { toast(error.message, 'error'); }
  });
  dialog.querySelector('[data-action="delete-board"]').addEventListener('click', async () => {
    const typed = prompt(`Delete “${store.board.name}” with all its cards, for good? Type the board's name to confirm.`);
    if (typed === null) return;
    if (typed.trim() !== store.board.name) { toast('The name did not match; nothing was deleted.', 'error'); return; }
    try {
      await api('DELETE', `/boards/${store.board.id}`);
      location.assign('/boards');
    } catch (error) { toast(error.message, 'error'); }
  });
}
