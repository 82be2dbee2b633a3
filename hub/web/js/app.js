// Boot, the signed-in shell (navigation, account) and the hash router.

import * as api from './api.js';
import { h, fill, showError, clearError, dialog, field, announce } from './dom.js';
import { releaseCrops } from './images.js';
import { renderSignIn } from './signin.js';
import * as lesson from './lesson.js';
import * as unknowns from './unknowns.js';
import * as students from './students.js';
import * as bulkImport from './import.js';
import * as devices from './devices.js';
import * as users from './users.js';
import * as audit from './audit.js';

const VIEWS = {
  lesson: { label: 'Lesson', view: lesson, staff: true },
  unknowns: { label: 'Unknown faces', view: unknowns, staff: true },
  students: { label: 'Students', view: students },
  import: { label: 'Import', view: bulkImport },
  devices: { label: 'Devices', view: devices },
  users: { label: 'Users', view: users },
  audit: { label: 'Audit log', view: audit },
};

let me = null;
let cleanup = null;
/** Bumped by every render: a render that finds it changed was overtaken and undoes itself. */
let generation = 0;

function route() {
  const [path, search] = location.hash.replace(/^#\/?/, '').split('?');
  return { name: path || 'lesson', params: new URLSearchParams(search || '') };
}

/** Navigates to `name` with `params` (kept in the hash, so views can be bookmarked). */
export function navigate(name, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null)).toString();
  const hash = `#/${name}${q ? `?${q}` : ''}`;
  if (location.hash === hash) render(); else location.hash = hash;
}

function allowed(entry) {
  return entry.staff || (me && me.role === 'admin');
}

function shell() {
  const nav = document.getElementById('nav');
  const current = route().name;
  fill(nav, h('ul', {}, Object.entries(VIEWS).filter(([, v]) => allowed(v)).map(([name, v]) =>
    h('li', {}, h('a', { href: `#/${name}`, 'aria-current': name === current ? 'page' : null }, v.label)))));
  document.getElementById('who').textContent = `${me.username} (${me.role})`;
  document.getElementById('top').hidden = false;
}

async function render() {
  const mine = ++generation;
  // A filter changed in place keeps the keyboard focus on that filter after the reload.
  const active = document.activeElement;
  const keepFocus = active && active.name && active.closest('form.filters') ? active.name : null;
  if (cleanup) { cleanup(); cleanup = null; }
  releaseCrops();
  clearError();
  const main = document.getElementById('main');
  if (!api.hasSession()) {
    document.getElementById('top').hidden = true;
    me = null;
    await renderSignIn(main);
    return;
  }
  try {
    if (!me) me = await api.get('/api/auth/me');
  } catch (error) {
    api.signOut();
    showError(error);
    return;
  }
  if (mine !== generation) return;
  let { name, params } = route();
  if (!VIEWS[name] || !allowed(VIEWS[name])) name = 'lesson';
  shell();
  // Each render draws into its own element: one that is overtaken draws into a detached page.
  const page = h('div', { class: 'page' });
  fill(main, page);
  let done = null;
  try {
    done = (await VIEWS[name].view.render(page, { me, params, navigate })) || null;
  } catch (error) {
    if (mine === generation) showError(error);
  }
  if (mine !== generation) {
    // A newer render owns the page: stop what this one started.
    if (done) done();
    return;
  }
  cleanup = done;
  const again = keepFocus && main.querySelector(`form.filters [name="${CSS.escape(keepFocus)}"]`);
  if (again) { again.focus({ preventScroll: true }); return; }
  const heading = main.querySelector('h1');
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

function changePassword() {
  const old = h('input', { name: 'old_password', type: 'password', autocomplete: 'current-password', required: true });
  const fresh = h('input', { name: 'new_password', type: 'password', autocomplete: 'new-password', minlength: 8, required: true });
  const box = dialog('Change your password', h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        api.install(await api.post('/api/auth/password', { old_password: old.value, new_password: fresh.value }));
        box.close();
        announce('Password changed');
      } catch (error) { showError(error); }
    },
  }, field('Current password', old), field('New password (8 characters or more)', fresh),
  h('button', { type: 'submit' }, 'Change password')));
}

api.onSession((signedIn) => {
  if (!signedIn) { me = null; releaseCrops(); }
  render();
});

window.addEventListener('hashchange', render);
window.addEventListener('unhandledrejection', (event) => { event.preventDefault(); showError(event.reason); });
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('signout').addEventListener('click', () => { api.signOut(); location.hash = '#/lesson'; });
  document.getElementById('account').addEventListener('click', changePassword);
  render();
});
