// The REST API: JSON requests with the access token, one refresh on 401, the API's error
// JSON turned into an ApiError, and uploads through XMLHttpRequest for progress events.

const STORE = 'courier.session';

/** A refusal from the server: `code`, `message`, maybe `field` / `ids` / `retryAfter`. */
export class ApiError extends Error {
  constructor(status, error = {}, retryAfter = null) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || 'http_' + status;
    this.field = error.field || null;
    this.ids = error.ids || null;
    this.retryAfter = retryAfter;
  }
  /** What to show people. */
  describe() {
    let text = this.message;
    if (this.field) text += ` (${this.field})`;
    if (this.retryAfter) text += ` — try again in ${this.retryAfter} s`;
    return `${text} [${this.code}]`;
  }
}

let session = load();
let refreshing = null;
const listeners = new Set();

function load() {
  try { return JSON.parse(localStorage.getItem(STORE)) || null; } catch { return null; }
}

function save(value) {
  session = value;
  if (value) localStorage.setItem(STORE, JSON.stringify(value));
  else localStorage.removeItem(STORE);
  for (const fn of listeners) fn(session);
}

export const auth = {
  get session() { return session; },
  get token() { return session?.access_token || null; },
  get userId() { return session?.user?.id ?? null; },
  onChange(fn) { listeners.add(fn); },
  set(tokens, user) { save({ ...tokens, user }); },
  setUser(user) { if (session) save({ ...session, user: { ...session.user, ...user } }); },
  clear() { save(null); },
};

async function parse(res) {
  const text = await res.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return { raw: text }; }
}

async function errorOf(res) {
  const body = await parse(res);
  return new ApiError(res.status, body?.error || {}, res.headers.get('retry-after'));
}

/** Rotates the refresh token; concurrent callers share one refresh. */
export async function refresh() {
  if (!session?.refresh_token) throw new ApiError(401, { code: 'unauthorized', message: 'signed out' });
  refreshing ??= (async () => {
    const res = await fetch('/api/auth/refresh', {
      method: 'POST', headers: { authorization: `Bearer ${session.refresh_token}` },
    });
    if (!res.ok) {
      const err = await errorOf(res);
      if (res.status === 401 || res.status === 403) auth.clear();
      throw err;
    }
    const tokens = await res.json();
    save({ ...session, ...tokens });
  })().finally(() => { refreshing = null; });
  return refreshing;
}

/** One request; `body` is JSON unless it is FormData. Retries once after a refresh on 401. */
export async function api(method, path, body, { retry = true, anonymous = false } = {}) {
  const headers = {};
  if (!anonymous && session) headers.authorization = `Bearer ${session.access_token}`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers['content-type'] = 'application/json'; payload = JSON.stringify(body); }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload });
  } catch (e) {
    throw new ApiError(0, { code: 'network', message: 'the server cannot be reached' });
  }
  if (res.status === 401 && retry && !anonymous && session?.refresh_token) {
    await refresh();
    return api(method, path, body, { retry: false });
  }
  if (!res.ok) throw await errorOf(res);
  return parse(res);
}

export const get = (path) => api('GET', path);
export const post = (path, body = {}) => api('POST', path, body);
export const put = (path, body = {}) => api('PUT', path, body);
export const del = (path, body) => api('DELETE', path, body);

/**
 * A multipart upload with progress: `onProgress(fraction)` as the body goes out.
 * Resolves with the answer's JSON, rejects with an ApiError.
 */
export function upload(method, path, form, onProgress = () => {}, retry = true) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    if (session) xhr.setRequestHeader('authorization', `Bearer ${session.access_token}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, { code: 'network', message: 'the upload was cut off' }));
    xhr.onload = async () => {
      let body = null;
      try { body = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { /* not JSON */ }
      if (xhr.status === 401 && retry && session?.refresh_token) {
        try {
          await refresh();
          resolve(await upload(method, path, form, onProgress, false));
        } catch (e) { reject(e); }
        return;
      }
      if (xhr.status >= 200 && xhr.status < 300) { onProgress(1); resolve(body); }
      else reject(new ApiError(xhr.status, body?.error || {}, xhr.getResponseHeader('retry-after')));
    };
    xhr.send(form);
  });
}
