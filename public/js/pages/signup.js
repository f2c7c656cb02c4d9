/// /signup: create an account, then on to `next`.
import { api } from '../lib/api.js';
import { onSubmit } from '../lib/dom.js';
import { safeNext } from './login.js';

export function init() {
  const form = document.getElementById('signup-form');
  if (!form) return;
  onSubmit(form, async () => {
    await api('POST', '/auth/signup', {
      name: form.elements.name.value.trim(),
      email: form.elements.email.value.trim(),
      password: form.elements.password.value,
    });
    location.assign(safeNext(form.dataset.next));
  });
}
