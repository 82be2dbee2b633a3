// Sign-in, and the first-run page that creates the first admin with the hub's one-time code.

import * as api from './api.js';
import { h, fill, field, showError, clearError } from './dom.js';

/** Renders sign-in, or the first-run page on a hub with no account yet. */
export async function renderSignIn(main) {
  let needed = false;
  try {
    needed = (await api.request('GET', '/api/setup', { anonymous: true })).needed;
  } catch (error) {
    showError(error);
  }
  if (needed) return setup(main);
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button', { type: 'submit' }, 'Sign in');
  fill(main, h('section', { class: 'card narrow' },
    h('h1', {}, 'Sign in to CAVS'),
    h('form', {
      onsubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        try {
          clearError();
          await api.signIn(username.value.trim(), password.value);
        } catch (error) {
          showError(error);
          password.select();
        } finally {
          button.disabled = false;
        }
      },
    }, field('Username', username), field('Password', password), button)));
  username.focus();
}

function setup(main) {
  const code = h('input', { name: 'code', autocomplete: 'one-time-code', required: true, spellcheck: 'false' });
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: 8, required: true });
  fill(main, h('section', { class: 'card narrow' },
    h('h1', {}, 'Create the first admin'),
    h('p', {}, 'This hub has no account yet. Its log shows a one-time set-up code ("create the first admin with the one-time set-up code …"). Enter it with the admin\'s username and password.'),
    h('form', {
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          clearError();
          const pair = await api.request('POST', '/api/setup', {
            body: { code: code.value.trim(), username: username.value.trim(), password: password.value },
            anonymous: true,
          });
          api.install(pair);
          location.hash = '#/students';
          location.reload();
        } catch (error) {
          showError(error);
        }
      },
    }, field('Set-up code', code), field('Admin username', username), field('Password (8 characters or more)', password),
    h('button', { type: 'submit' }, 'Create admin and sign in'))));
  code.focus();
}
