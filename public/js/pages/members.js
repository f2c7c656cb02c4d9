/// /boards/{id}/members: add people by email, change roles, remove (admins).
import { api } from '../lib/api.js';
import { onSubmit, toast } from '../lib/dom.js';

export function init() {
  const root = document.getElementById('members');
  const boardId = root.dataset.boardId;
  const form = document.getElementById('add-member');
  if (form) {
    onSubmit(form, async () => {
      await api('PUT', `/boards/${boardId}/members`, { email: form.elements.email.value.trim(), role: form.elements.role.value });
      location.reload();
    });
  }
  root.addEventListener('change', async (event) => {
    const select = event.target.closest('.member-role');
    if (!select) return;
    const row = select.closest('.member');
    try {
      await api('PUT', `/boards/${boardId}/members`, { email: row.dataset.email, role: select.value });
      select.dataset.role = select.value;
      toast('Role changed to ' + select.value + '.');
    } catch (error) {
      select.value = select.dataset.role;
      toast(error.message, 'error');
    }
  });
  root.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-action="remove-member"]');
    if (!button) return;
    const row = button.closest('.member');
    if (!confirm('Remove ' + row.dataset.email + ' from this board?')) return;
    try {
      await api('DELETE', `/boards/${boardId}/members/${row.dataset.userId}`);
      row.remove();
      toast('Removed.');
    } catch (error) {
      toast(error.message, 'error');
    }
  });
}
