/// /login: the form; on success, on to `next` (a path on this site only).
import { api } from '../lib/api.js';
import { onSubmit } from '../lib/dom.js';

/// `next` if it is a path on this site, else /boards.
export function safeNext(next) {
  return (typeof next === 'string' && /^\/(?![/\\])/.test(next)) ? next : '/boards';
}

export function init() {
  const form = document.getElementById('login-form');
  onSubmit(form, async () => {
    // Said before asking the server, which answers an empty form as it answers a wrong password.
    if (!form.elements.email.value.trim()) throw { field: 'email', message: 'Enter your email address.' };
    if (!form.elements.password.value) throw { field: 'password', message: 'Enter your password.' };
    await api('POST', '/auth/login', { email: form.elements.email.value.trim(), password: form.elements.password.value });
    location.assign(safeNext(form.dataset.next));
  });
}
