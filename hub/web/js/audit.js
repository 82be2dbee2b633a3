// The audit log (admin): who changed what and when, filtered and paged.

import * as api from './api.js';
import { h, fill, field, when } from './dom.js';

/** Renders the view. */
export async function render(main, { params, navigate }) {
  const page = Number(params.get('page') || 1);
  const action = h('input', { name: 'action', value: params.get('action') || '' });
  const table = h('input', { name: 'target_table', value: params.get('target_table') || '' });
  const from = h('input', { type: 'date', name: 'date_from', value: params.get('date_from') || '' });
  const to = h('input', { type: 'date', name: 'date_to', value: params.get('date_to') || '' });
  const current = () => ({ action: action.value.trim(), target_table: table.value.trim(), date_from: from.value, date_to: to.value });
  const rows = h('tbody');
  const pager = h('p', { class: 'pager' });
  fill(main, h('h1', {}, 'Audit log'),
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); navigate('audit', current()); } },
      field('Action', action), field('Table', table), field('From', from), field('To', to), h('button', { type: 'submit' }, 'Filter')),
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ['When', 'Who', 'Action', 'Target', 'Details'].map((t) => h('th', { scope: 'col' }, t)))), rows)),
    pager);
  const [answer, users] = await Promise.all([
    api.get(`/api/audit${api.query({ ...Object.fromEntries(params), page, page_size: 50 })}`),
    api.all('/api/users'),
  ]);
  const username = new Map(users.map((u) => [u.id, u.username]));
  fill(rows, answer.items.length ? answer.items.map((e) => {
    const { id, timestamp, action: act, target_table: tt, target_id: tid, ...rest } = e;
    const who = e.user_id ? (username.get(e.user_id) || `user ${e.user_id}`) : [e.actor_kind, e.device_id].filter(Boolean).join(' ');
    return h('tr', { 'data-audit-id': id },
      h('td', {}, when(timestamp)), h('td', {}, who), h('td', {}, act), h('td', {}, [tt, tid].filter(Boolean).join(' ')),
      h('td', {}, h('code', { class: 'json' }, JSON.stringify(rest.meta ?? rest))));
  }) : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No entries.')));
  const pages = Math.max(1, Math.ceil(answer.total / answer.page_size));
  fill(pager, `Page ${page} of ${pages} (${answer.total} entries) `,
    page > 1 ? h('button', { type: 'button', class: 'plain', onclick: () => navigate('audit', { ...current(), page: page - 1 }) }, 'Previous') : null,
    page < pages ? h('button', { type: 'button', class: 'plain', onclick: () => navigate('audit', { ...current(), page: page + 1 }) }, 'Next') : null);
  return null;
}
