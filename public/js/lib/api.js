/// The JSON API (/api/v1) with the session cookie and the CSRF token of <meta name="csrf-token">.

/// An answer other than 2xx: `status`, the error's `code` and `field`, and the whole decoded
/// `body` (a 412 carries the object's current state there).
export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    const info = (body && body.error) || {};
    this.status = status;
    this.code = info.code;
    this.field = info.field;
    this.body = body;
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

/// Pages for people who are not signed in: a 401 there is an answer, not a reason to log in.
const SIGNED_OUT_PAGES = new Set(['login', 'signup', 'invitation', 'password_reset']);

/// Calls the API and resolves with the decoded JSON reply (null when empty).
/// `options.ifMatch`: a version number sent as `If-Match: "<version>"` (the write's precondition).
/// A 401 outside the signed-out pages (login, sign-up, invitation, password reset) goes to the login page and comes back.
/// `options.raw`: a Blob or File sent as the body itself, with its own type (an attachment's upload,
/// an export to import).
export async function api(method, path, body, options = {}) {
  const headers = { Accept: 'application/json' };
  const raw = options.raw;
  if (raw !== undefined) headers['Content-Type'] = raw.type || 'application/octet-stream';
  else if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
  if (options.ifMatch !== undefined && options.ifMatch !== null) headers['If-Match'] = `"${options.ifMatch}"`;
  let response;
  try {
    response = await fetch('/api/v1' + path, {
      method, headers, credentials: 'same-origin',
      body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError('Tack cannot be reached. Check your connection and try again.', 0, null);
  }
  const text = await response.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  if (!response.ok) {
    const info = (data && data.error) || {};
    const error = new ApiError(info.message || `The request failed (${response.status}).`, response.status, data);
    if (response.status === 401 && !SIGNED_OUT_PAGES.has(document.body.dataset.page)) {
      location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
    }
    throw error;
  }
  return data;
}
