/// /boards/{id}/members: add people by email (or invite them when they have no account yet),
/// change roles, remove, see and withdraw pending invitations (admins).
import { api } from '../lib/api.js';
import { el, onSubmit, toast } from '../lib/dom.js';

export function init() {
  const root = document.getElementById('members');
  const boardId = root.dataset.boardId;
  const form = document.getElementById('add-member');
  if (form) initInvitations(boardId, form);
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

/// The add form: an address with an account is added at once; one without gets an invitation
/// (emailed, or a link to pass on when this server sends no email).
function initInvitations(boardId, form) {
  const section = document.getElementById('invitations');
  const list = document.getElementById('invitation-list');
  const linkBox = document.getElementById('invite-link');
  async function load() {
    const { invitations } = await api('GET', `/boards/${boardId}/invitations`);
    list.replaceChildren(...invitations.map((i) =>
      el('li', { class: 'member invitation', dataset: { id: i.id } },
        el('span', { class: 'member-who' },
          el('span', { class: 'member-name', text: i.email }),
          el('span', { class: 'member-email', text: (i.emailed_at ? 'emailed' : 'not emailed') + ' · until ' + new Date(i.expires_at).toLocaleDateString() })),
        el('span', { class: 'role-badge', text: i.role }),
        el('button', { type: 'button', class: 'button button-danger-quiet button-small', dataset: { action: 'withdraw' }, 'aria-label': 'Withdraw the invitation of ' + i.email, text: 'Withdraw' }))));
    section.hidden = invitations.length === 0;
  }
  onSubmit(form, async () => {
    const email = form.elements.email.value.trim();
    if (!email) throw { field: 'email', message: 'Enter an email address.' };
    const role = form.elements.role.value;
    try {
      await api('PUT', `/boards/${boardId}/members`, { email, role });
      location.reload();
      return;
    } catch (error) {
      if (error.status !== 400 || error.field !== 'email') throw error;
    }
    const reply = await api('POST', `/boards/${boardId}/invitations`, { email, role: role === 'owner' ? 'admin' : role });
    form.reset();
    if (reply.url) {
      linkBox.hidden = false;
      linkBox.querySelector('input').value = reply.url;
      linkBox.querySelector('input').select();
      toast(`${email} has no account yet: send them the invitation link.`);
    } else {
      linkBox.hidden = true;
      toast(`Invitation emailed to ${email}.`);
    }
    await load();
  });
  linkBox.querySelector('[data-action="copy-invite"]').addEventListener('click', async () => {
    const input = linkBox.querySelector('input');
    try {
      await navigator.clipboard.writeText(input.value);
      toast('Link copied.');
    } catch {
      input.select();
      toast('Press Ctrl+C to copy the selected link.');
    }
  });
  list.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-action="withdraw"]');
    if (!button) return;
    const row = button.closest('.invitation');
    try {
      await api('DELETE', `/boards/${boardId}/invitations/${row.dataset.id}`);
      toast('Invitation withdrawn.');
      await load();
    } catch (error) { toast(error.message, 'error'); }
  });
  load().catch((error) => toast(error.message, 'error'));
}
