/// /account/settings: the email preference and the password.
import { api } from '../lib/api.js';
import { onSubmit, toast } from '../lib/dom.js';

export function init() {
  const form = document.getElementById('settings-form');
  const select = form.elements.email_notifications;
  api('GET', '/me/settings').then((s) => { select.value = s.email_notifications; })
    .catch((error) => toast(error.message, 'error'));
  onSubmit(form, async () => {
    await api('PATCH', '/me/settings', { email_notifications: select.value });
    toast('Saved.');
  });
  const password = document.getElementById('password-form');
  onSubmit(password, async () => {
    await api('PUT', '/me/password', { current_password: password.elements.current_password.value,
                                       new_password: password.elements.new_password.value });
    password.reset();
    toast('Password changed; your other sessions have ended.');
  });
}
