// The REST API client: tokens (access in memory, refresh in this tab's sessionStorage, no
// cookies), one shared silent refresh, and problem+json errors as `ApiError`s.

const REFRESH_KEY = 'cavs.refresh';
let access = null;
let refreshTimer = null;
let refreshing = null;
const listeners = new Set();

/** An error answer of the API, carrying its problem document. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
  /** The problem's slug (`token-expired`, `not-found`, …). */
  get slug() {
    return String(this.problem.type || '').split('/').pop();
  }
}

/** Calls `fn(signedIn)` whenever the session starts or ends. */
export function onSession(fn) {
  listeners.add(fn);
}

function notify(signedIn) {
  for (const fn of listeners) fn(signedIn);
}

/** Installs a token pair from login, refresh, set-up or a password change. */
export function install(pair) {
  access = pair.access;
  sessionStorage.setItem(REFRESH_KEY, pair.refresh);
  clearTimeout(refreshTimer);
  const lead = Math.max(10, (pair.expires_in || 300) - 60);
  refreshTimer = setTimeout(() => refresh().catch(() => signOut()), lead * 1000);
}

/** True while a session exists (an access token, or a refresh token to get one). */
export function hasSession() {
  return Boolean(access || sessionStorage.getItem(REFRESH_KEY));
}

/** Ends the session: the hub revokes this sign-in's refresh chain (best effort: offline,
 *  the tokens are still forgotten here), and every token is forgotten. */
export function signOut() {
  const refresh = sessionStorage.getItem(REFRESH_KEY);
  access = null;
  clearTimeout(refreshTimer);
  sessionStorage.removeItem(REFRESH_KEY);
  notify(false);
  if (refresh) {
    fetch('/api/auth/logout', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh }), keepalive: true,
    }).catch(() => {});
  }
}

/** Exchanges the refresh token for a new pair; concurrent callers share one exchange
 *  (refresh tokens are single use). */
export function refresh() {
  if (!refreshing) {
    const token = sessionStorage.getItem(REFRESH_KEY);
    refreshing = (async () => {
      if (!token) throw new ApiError(401, { title: 'Signed out', detail: 'sign in again' });
      let pair;
      try {
        pair = await request('POST', '/api/auth/refresh', { body: { refresh: token }, anonymous: true });
      } catch (error) {
        // A refused refresh (expired, revoked, account disabled) ends the session; a network
        // error does not (the hub may be back in a moment).
        if (error.status === 401 || error.status === 403) signOut();
        throw error;
      }
      install(pair);
      return pair;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function problemOf(response) {
  try {
    const body = await response.json();
    if (body && body.title) return body;
  } catch (_) { /* not JSON */ }
  return { title: response.statusText || `HTTP ${response.status}`, status: response.status };
}

/** The `Authorization` header of the session (refreshing first when needed). */
export async function authHeader() {
  if (!access) await refresh();
  return { authorization: `Bearer ${access}` };
}

/**
 * Calls the API. `body` is sent as JSON (or as is for FormData); answers the parsed JSON, the
 * Blob for `as: 'blob'`, or null for 204. An expired access token is refreshed once.
 */
export async function request(method, path, { body, as, anonymous, retried } = {}) {
  const headers = anonymous ? {} : await authHeader();
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, credentials: 'omit' });
  } catch (error) {
    throw new ApiError(0, { title: 'Network error', detail: 'the hub did not answer; check the connection' });
  }
  if (response.status === 401 && !anonymous && !retried) {
    const problem = await problemOf(response);
    const error = new ApiError(401, problem);
    if (error.slug === 'token-expired' || error.slug === 'token-revoked') {
      access = null;
      await refresh();
      return request(method, path, { body, as, anonymous, retried: true });
    }
    // Any other refusal of a token (account disabled, bad signature): the session is over.
    signOut();
    throw error;
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  if (as === 'blob') return response.blob();
  return response.json();
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, { body });
export const put = (path, body) => request('PUT', path, { body });
export const del = (path) => request('DELETE', path);

/** Signs in; installs the tokens. */
export async function signIn(username, password) {
  const pair = await request('POST', '/api/auth/login', { body: { username, password }, anonymous: true });
  install(pair);
  notify(true);
}

/** Every item of a paged list (at most `max`). */
export async function all(path, max = 2000) {
  const items = [];
  for (let page = 1; items.length < max; page += 1) {
    const sep = path.includes('?') ? '&' : '?';
    const answer = await get(`${path}${sep}page=${page}&page_size=500`);
    items.push(...answer.items);
    if (items.length >= answer.total || answer.items.length === 0) break;
  }
  return items;
}

/** Query string of the set values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
