// Users (admin): teachers and admins, their classrooms, activation, password resets.

import * as api from './api.js';
import { h, fill, field, announce, showError, dialog } from './dom.js';

const classroomList = (text) => text.split(',').map((c) => c.trim()).filter(Boolean);

function userForm(user, done) {
  const username = h('input', { name: 'username', required: true, value: user?.username || '', readonly: Boolean(user) });
  const password = h('input', { name: 'password', type: 'password', minlength: 8, required: !user, autocomplete: 'new-password' });
  const role = h('select', { name: 'role' }, ['teacher', 'admin'].map((r) => h('option', { value: r, selected: (user?.role || 'teacher') === r }, r)));
  const classrooms = h('input', { name: 'classrooms', value: (user?.classrooms || []).join(', '), placeholder: 'room-1, room-2' });
  const active = h('input', { type: 'checkbox', name: 'active', checked: user ? user.active : true });
  const box = dialog(user ? `Edit ${user.username}` : 'New user', h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        if (user) {
          await api.put(`/api/users/${user.id}`, { role: role.value, active: active.checked, classrooms: classroomList(classrooms.value) });
          if (password.value) await api.post(`/api/users/${user.id}/password`, { new_password: password.value });
        } else {
          await api.post('/api/auth/register', { username: username.value.trim(), password: password.value, role: role.value, classrooms: classroomList(classrooms.value) });
        }
        box.close();
        announce('User saved');
        done();
      } catch (error) { showError(error); }
    },
  }, field('Username', username), field(user ? 'New password (leave empty to keep)' : 'Password (8 characters or more)', password),
  field('Role', role), field('Classrooms (comma-separated; teachers see only these)', classrooms),
  user ? field('Active', active) : null, h('button', { type: 'submit' }, 'Save')));
}

/** Renders the view. */
export async function render(main, { navigate }) {
  const table = h('tbody');
  const reload = () => navigate('users');
  fill(main, h('h1', {}, 'Users'),
    h('p', {}, h('button', { type: 'button', onclick: () => userForm(null, reload) }, 'New user')),
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ['Username', 'Role', 'Classrooms', 'Active', ''].map((t) => h('th', { scope: 'col' }, t)))), table)));
  const users = await api.all('/api/users');
  fill(table, users.map((u) => h('tr', {},
    h('td', {}, u.username), h('td', {}, u.role), h('td', {}, u.role === 'admin' ? 'all' : (u.classrooms.join(', ') || 'none')),
    h('td', {}, u.active ? 'yes' : 'no'),
    h('td', {}, h('div', { class: 'actions' }, h('button', { type: 'button', class: 'plain', 'aria-label': `Edit ${u.username}`, onclick: () => userForm(u, reload) }, 'Edit'))))));
  return null;
}
