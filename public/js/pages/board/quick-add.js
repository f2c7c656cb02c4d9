/// Quick add: cards at the end of a column (Enter adds and keeps the box open) and new columns.
/// Esc closes the box but keeps what was typed in it.
import { onSubmit, toast } from '../../lib/dom.js';

export function initQuickAdd(store, sync, columnsEl) {
  const open = (form) => {
    form.querySelector('textarea').hidden = false;
    form.querySelector('.quick-add-actions').hidden = false;
    form.querySelector('.quick-add-open').hidden = true;
    form.querySelector('textarea').focus();
  };
  const close = (form) => {
    form.querySelector('textarea').hidden = true;
    form.querySelector('.quick-add-actions').hidden = true;
    form.querySelector('.quick-add-open').hidden = false;
  };

  columnsEl.addEventListener('click', (event) => {
    const opener = event.target.closest('[data-action="open-add-card"]');
    if (opener) return open(opener.closest('form'));
    const cancel = event.target.closest('[data-action="cancel-card"]');
    if (cancel) {
      const form = cancel.closest('form');
      form.querySelector('textarea').value = '';
      close(form);
    }
  });

  columnsEl.addEventListener('keydown', (event) => {
    if (!event.target.matches('.quick-add-card textarea')) return;
    if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); event.target.form.requestSubmit(); }
    if (event.key === 'Escape') {
      const form = event.target.form;
      close(form);
      // Focus stays in the column: on its last card (the one just added), else on "+ Add a card".
      const cards = [...form.closest('.column').querySelectorAll('.cards > .card:not([hidden])')];
      (cards[cards.length - 1] || form.querySelector('.quick-add-open')).focus();
    }
  });

  columnsEl.addEventListener('submit', async (event) => {
    const form = event.target.closest('.quick-add-card');
    if (!form) return;
    event.preventDefault();
    const input = form.querySelector('textarea');
    const title = input.value.trim();
    if (!title) { input.focus(); return; }
    input.disabled = true;
    try {
      await sync.write('POST', '/cards', { column_id: Number(form.closest('.column').dataset.columnId), title });
      input.value = '';
    } catch (error) {
      toast(error.message, 'error');
    } finally {
      input.disabled = false;
      input.focus();
    }
  });

  const newColumn = document.getElementById('new-column');
  if (newColumn) {
    onSubmit(newColumn, async (form) => {
      const name = form.elements.name.value.trim();
      if (!name) { form.elements.name.focus(); return; }
      await sync.write('POST', '/columns', { name });
      form.reset();
      form.elements.name.focus();
      columnsEl.scrollLeft = columnsEl.scrollWidth;
    });
  }
}
