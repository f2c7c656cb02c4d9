/// /boards/{id}/webhooks: add (the secret is shown once), turn on/off, delete, recent deliveries.
import { api } from '../lib/api.js';
import { el, onSubmit, toast } from '../lib/dom.js';

function deliveryRow(d) {
  const last = d.attempts[d.attempts.length - 1];
  const detail = last ? (last.status_code ? 'HTTP ' + last.status_code : (last.error || '')) + ' · ' + last.latency_ms + ' ms' : 'waiting';
  return el('li', { class: 'delivery delivery-' + d.status },
    el('span', { class: 'delivery-status', text: d.status }),
    el('span', { text: `${d.event_kind} (v${d.event_version})` }),
    el('span', { class: 'muted', text: `${d.attempts.length} attempt${d.attempts.length === 1 ? '' : 's'} · ${detail}` }));
}

function render(hook) {
  const state = hook.active ? 'active' : (hook.disabled_reason ? 'disabled: ' + hook.disabled_reason : 'off');
  const item = el('li', { class: 'panel webhook', dataset: { id: hook.id } },
    el('div', { class: 'webhook-head' },
      el('code', { class: 'webhook-url', text: hook.url }),
      el('span', { class: 'role-badge', text: state })),
    el('p', { class: 'muted', text: hook.events.length ? 'Events: ' + hook.events.join(', ') : 'Every event' }),
    el('div', { class: 'row' },
      el('button', { type: 'button', class: 'button button-small', dataset: { action: 'toggle' }, text: hook.active ? 'Turn off' : 'Turn on' }),
      el('button', { type: 'button', class: 'button button-small', dataset: { action: 'deliveries' }, text: 'Recent deliveries' }),
      el('button', { type: 'button', class: 'button button-danger-quiet button-small', dataset: { action: 'delete' }, text: 'Delete' })),
    el('ul', { class: 'delivery-list' }));
  item.hook = hook;
  return item;
}

export function init() {
  const root = document.getElementById('webhooks');
  const base = `/boards/${root.dataset.boardId}/webhooks`;
  const list = document.getElementById('webhook-list');
  const form = document.getElementById('new-webhook');

  async function load() {
    const page = await api('GET', base);
    list.replaceChildren(...page.items.map(render));
    document.getElementById('no-webhooks').hidden = page.items.length > 0;
  }

  onSubmit(form, async () => {
    const events = Array.from(form.querySelectorAll('input[name=events]:checked'), (box) => box.value);
    const reply = await api('POST', base, { url: form.elements.url.value.trim(), events });
    document.getElementById('new-webhook-secret-value').textContent = reply.secret;
    document.getElementById('new-webhook-secret').hidden = false;
    form.reset();
    await load();
  });

  list.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-action]');
    if (!button) return;
    const item = button.closest('.webhook');
    const hook = item.hook;
    try {
      if (button.dataset.action === 'toggle') {
        await api('PATCH', `${base}/${hook.id}`, { active: !hook.active });
        await load();
      } else if (button.dataset.action === 'delete') {
        if (!confirm(`Delete the webhook to ${hook.url} and its delivery log?`)) return;
        await api('DELETE', `${base}/${hook.id}`);
        await load();
      } else if (button.dataset.action === 'deliveries') {
        const page = await api('GET', `${base}/${hook.id}/deliveries?limit=20`);
        const ul = item.querySelector('.delivery-list');
        ul.replaceChildren(...page.items.map(deliveryRow));
        if (!page.items.length) ul.append(el('li', { class: 'muted', text: 'No deliveries yet.' }));
      }
    } catch (error) { toast(error.message, 'error'); }
  });
  load().catch((error) => toast(error.message, 'error'));
}
