/// /account/tokens: create a token (its secret is shown once), copy it, revoke tokens.
import { api } from '../lib/api.js';
import { el, onSubmit, toast } from '../lib/dom.js';

export function init() {
  const form = document.getElementById('new-token');
  const table = document.getElementById('token-table');
  const secretBox = document.getElementById('new-token-secret');
  const secret = document.getElementById('new-token-value');
  onSubmit(form, async () => {
    const reply = await api('POST', '/me/tokens', { name: form.elements.name.value.trim(), scope: form.elements.scope.value });
    secret.textContent = reply.token;
    secretBox.hidden = false;
    const readWrite = reply.scope === 'read_write';
    table.tBodies[0].prepend(el('tr', { dataset: { tokenId: reply.id } },
      el('td', { class: 'token-name', text: reply.name }),
      el('td', null, el('span', { class: 'scope-badge' + (readWrite ? ' is-write' : ''), text: readWrite ? 'read & write' : 'read only' })),
      el('td', { text: 'just now' }),
      el('td', { text: 'never' }),
      el('td', { class: 'actions' }, el('button', { type: 'button', class: 'button button-danger-quiet button-small', dataset: { action: 'revoke-token' }, text: 'Revoke' }))));
    document.getElementById('no-tokens').hidden = true;
    table.hidden = false;
    form.reset();
  });
  document.querySelector('[data-action="copy-token"]').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret.textContent);
      toast('Token copied.');
    } catch {
      const range = document.createRange();
      range.selectNodeContents(secret);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      toast('Press Ctrl+C (⌘C) to copy.');
    }
  });
  table.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-action="revoke-token"]');
    if (!button) return;
    const row = button.closest('tr');
    const name = row.querySelector('.token-name').textContent;
    if (!confirm(`Revoke the token "${name}"? Scripts using it stop working at once.`)) return;
    try {
      await api('DELETE', '/me/tokens/' + row.dataset.tokenId);
      row.remove();
      if (!table.tBodies[0].rows.length) {
        document.getElementById('no-tokens').hidden = false;
        table.hidden = true;
      }
      toast('Token revoked.');
    } catch (error) {
      toast(error.message, 'error');
    }
  });
}
