// The teacher's lesson view: filters, the roster (present / pending / absent), the records
// with one-key review, keyboard navigation, bulk review and live updates.

import * as api from './api.js';
import { h, fill, field, announce, showError, dialog } from './dom.js';
import { recordCard, draw, review } from './records.js';
import { liveEvents } from './events.js';
import { pickStudent } from './picker.js';

/** Today as the API's dates read it (UTC). */
function utcToday() {
  return new Date().toISOString().slice(0, 10);
}

function daysBefore(date, days) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}

async function classroomsOf(me) {
  if (me.role !== 'admin') return me.classrooms;
  const devices = await api.all('/api/devices');
  return [...new Set(devices.map((d) => d.classroom_id))].sort();
}

/** Per student seen that day: present (an approved record), pending (a record waiting), or
 *  absent (only rejected records, or approved in this classroom in the last 30 days but not
 *  seen today). */
function roster(records, history) {
  const rank = { present: 3, pending: 2, absent: 1 };
  const stateOf = { approved: 'present', pending: 'pending', rejected: 'absent' };
  const byStudent = new Map();
  const note = (r, state) => {
    const entry = byStudent.get(r.predicted_student_id);
    if (!entry || rank[state] > rank[entry.state]) byStudent.set(r.predicted_student_id, { name: r.predicted_name, state });
  };
  for (const r of records) if (r.predicted_student_id) note(r, stateOf[r.review_status]);
  for (const r of history) if (r.predicted_student_id && !byStudent.has(r.predicted_student_id)) note(r, 'absent');
  return [...byStudent.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

function rosterView(entries) {
  const count = (s) => entries.filter((e) => e.state === s).length;
  return h('section', { class: 'roster', 'aria-labelledby': 'roster-title' },
    h('h2', { id: 'roster-title' }, `Roster · Present ${count('present')} · Pending ${count('pending')} · Absent ${count('absent')}`),
    entries.length
      ? h('ul', { class: 'roster-list' }, entries.map((e) => h('li', { class: `roster-${e.state}` },
        h('span', { class: `badge ${e.state}` }, e.state[0].toUpperCase() + e.state.slice(1)), ' ', e.name)))
      : h('p', { class: 'muted' }, 'Nobody recognised in this classroom on this day yet.'));
}

/** The distinct sessions among `records`, newest first, labelled by start time (UTC) and
 *  classroom. */
function sessionsOf(records) {
  const byStart = new Map();
  for (const r of records) {
    if (!r.session_start) continue;
    const entry = byStart.get(r.session_start) || { start: r.session_start, classrooms: new Set() };
    entry.classrooms.add(r.classroom_id);
    byStart.set(r.session_start, entry);
  }
  return [...byStart.values()].sort((a, b) => b.start.localeCompare(a.start)).map((s) => ({
    start: s.start,
    label: `${s.start.slice(11, 16)} UTC · ${[...s.classrooms].sort().join(', ')}`,
  }));
}

function help() {
  dialog('Keyboard shortcuts', h('dl', { class: 'keys' },
    h('dt', {}, '↓ / J, ↑ / K'), h('dd', {}, 'next / previous record'),
    h('dt', {}, 'A'), h('dd', {}, 'approve'),
    h('dt', {}, 'R'), h('dd', {}, 'reject'),
    h('dt', {}, 'C'), h('dd', {}, 'reassign to another student'),
    h('dt', {}, 'X or Space'), h('dd', {}, 'select for bulk review'),
    h('dt', {}, '?'), h('dd', {}, 'this help'),
    h('dt', {}, 'Esc'), h('dd', {}, 'close a dialog')));
}

/** Renders the view; returns its cleanup. */
export async function render(main, { me, params, navigate }) {
  const filters = {
    classroom: params.get('classroom') || '',
    date: params.get('date') || utcToday(),
    status: params.get('status') || 'all',
    min: Number(params.get('min') || 0),
    session: params.get('session') || '',
  };
  // The day's records (and, for one classroom, the 30 days before it, for the absent list).
  const q = { classroom_id: filters.classroom, date_from: filters.date, date_to: filters.date };
  const [classrooms, fetched, history] = await Promise.all([
    classroomsOf(me),
    api.all(`/api/attendance${api.query(q)}`),
    filters.classroom
      ? api.all(`/api/attendance${api.query({ classroom_id: filters.classroom, status: 'approved', date_from: daysBefore(filters.date, 30), date_to: daysBefore(filters.date, 1) })}`, 1000)
      : Promise.resolve([]),
  ]);
  const records = fetched;
  const classroomSelect = h('select', { name: 'classroom' }, h('option', { value: '' }, 'All my classrooms'),
    classrooms.map((c) => h('option', { value: c, selected: c === filters.classroom }, c)));
  const date = h('input', { type: 'date', name: 'date', value: filters.date, required: true });
  const status = h('select', { name: 'status' }, ['all', 'pending', 'approved', 'rejected'].map((s) =>
    h('option', { value: s, selected: s === filters.status }, s[0].toUpperCase() + s.slice(1))));
  const min = h('input', { type: 'number', name: 'min', min: 0, max: 100, step: 5, value: filters.min, inputmode: 'numeric' });
  const session = h('select', { name: 'session' }, h('option', { value: '' }, 'All sessions'),
    sessionsOf(records).map((s) => h('option', { value: s.start, selected: s.start === filters.session }, s.label)));
  const apply = (event) => {
    // A new classroom or date has other sessions: the session choice does not carry over.
    const keepSession = !event || !['classroom', 'date'].includes(event.target.name);
    navigate('lesson', { classroom: classroomSelect.value, date: date.value, session: keepSession ? session.value : '', status: status.value, min: min.value === '0' ? '' : min.value });
  };
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); apply(); }, onchange: apply },
    field('Classroom', classroomSelect), field('Date (UTC)', date), field('Session', session), field('Status', status), field('Minimum confidence (%)', min));

  const list = h('div', { class: 'records', role: 'list', 'aria-label': 'Attendance records' });
  const rosterSlot = h('div');
  const bulk = async (decision) => {
    const selected = [...list.querySelectorAll('[data-select]:checked')].map((c) => c.closest('[data-record-id]'));
    if (!selected.length) { announce('Select records first (X or the checkboxes)'); return; }
    // Approving needs a student: unknown faces are skipped (reassign or label them instead).
    const chosen = decision === 'approve' ? selected.filter((card) => card.dataset.named === 'true') : selected;
    const skipped = selected.length - chosen.length;
    let done = 0;
    for (const card of chosen) {
      try {
        const updated = await review(card.dataset.recordId, decision);
        update(updated);
        done += 1;
      } catch (error) { showError(error); }
    }
    announce(`${done} of ${chosen.length} records ${decision === 'approve' ? 'approved' : 'rejected'}${skipped ? `; ${skipped} unknown face${skipped === 1 ? '' : 's'} skipped (reassign them)` : ''}`);
  };
  async function markPresent() {
    const student = await pickStudent(`Mark present in ${filters.classroom}`, { attr: 'data-student-id' });
    if (!student) return;
    try {
      const record = await api.post('/api/attendance', { student_id: student, classroom_id: filters.classroom, notes: 'marked present by hand' });
      update(record, true);
      announce(`${record.predicted_name} marked present`);
    } catch (error) { showError(error); }
  }
  const toolbar = h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Bulk review' },
    h('button', { type: 'button', class: 'plain', onclick: () => {
      for (const card of list.querySelectorAll('[data-record-id][data-status=pending]')) card.querySelector('[data-select]').checked = true;
    } }, 'Select all pending'),
    h('button', { type: 'button', 'data-bulk': 'approve', onclick: () => bulk('approve') }, 'Approve selected'),
    h('button', { type: 'button', 'data-bulk': 'reject', class: 'danger', onclick: () => bulk('reject') }, 'Reject selected'),
    // By hand, for students not recognised by camera (opted out of recognition, not enrolled):
    // a classroom's lesson of today.
    filters.classroom && filters.date === utcToday()
      ? h('button', { type: 'button', class: 'plain', 'data-action': 'mark-present', onclick: markPresent }, 'Mark present by hand…')
      : null,
    h('button', { type: 'button', class: 'plain', onclick: help, 'aria-keyshortcuts': '?' }, 'Shortcuts'));
  fill(main, h('h1', {}, 'Lesson'), form, rosterSlot, toolbar, list);

  /** Of this view's classroom and day (what the roster counts). */
  const inScope = (r) => (!filters.classroom || r.classroom_id === filters.classroom)
    && r.timestamp.slice(0, 10) === filters.date
    && (!filters.session || r.session_start === filters.session);
  /** Shown as a card: in scope and passing the status and confidence filters. */
  const visible = (r) => inScope(r)
    && (filters.status === 'all' || r.review_status === filters.status)
    && r.confidence * 100 >= filters.min;
  const options = { admin: me.role === 'admin', onChange: (r) => update(r) };
  function redrawRoster() {
    fill(rosterSlot, rosterView(roster(records.filter(inScope), history)));
  }
  function update(record, fresh = false) {
    const index = records.findIndex((r) => r.id === record.id);
    if (index >= 0) records[index] = record;
    else if (inScope(record)) records.unshift(record);
    else return; // another classroom, day or session: not this view's
    let card = list.querySelector(`[data-record-id="${record.id}"]`);
    // A card on screen stays where it is, redrawn with its new status (the teacher sees what a
    // review did and can change it) until the filters are applied again.
    if (card) draw(card, record, options);
    else if (visible(record)) {
      card = recordCard(record, options);
      if (fresh) { card.classList.add('new'); setTimeout(() => card.classList.remove('new'), 5000); }
      list.prepend(card);
      empty.remove();
    }
    redrawRoster();
  }
  const empty = h('p', { class: 'muted' }, 'No records match these filters.');
  const shown = records.filter(visible);
  fill(list, shown.length ? shown.map((r) => recordCard(r, options)) : empty);
  redrawRoster();
  const first = list.querySelector('[data-record-id]');
  if (first) first.tabIndex = 0;

  // Keyboard: roving focus over the records, one key per action.
  const cards = () => [...list.querySelectorAll('[data-record-id]')];
  const focusCard = (card) => {
    if (!card) return;
    for (const c of cards()) { c.tabIndex = -1; c.removeAttribute('aria-current'); }
    card.tabIndex = 0;
    card.setAttribute('aria-current', 'true');
    card.focus();
  };
  const onKey = (event) => {
    if (event.target.closest('input, select, textarea, dialog') || event.ctrlKey || event.metaKey || event.altKey) return;
    // Space on a button or link presses it; it selects only on the card itself.
    if (event.key === ' ' && event.target.closest('button, a')) return;
    const current = document.activeElement && document.activeElement.closest('[data-record-id]');
    const all = cards();
    const at = all.indexOf(current);
    const key = event.key.toLowerCase();
    if (key === '?') { help(); event.preventDefault(); return; }
    if (key === 'arrowdown' || key === 'j') { focusCard(all[Math.min(at + 1, all.length - 1)] || all[0]); event.preventDefault(); return; }
    if (key === 'arrowup' || key === 'k') { focusCard(all[Math.max(at - 1, 0)]); event.preventDefault(); return; }
    if (!current) return;
    if (key === 'a') current.reviewActions.approve();
    else if (key === 'r') current.reviewActions.reject();
    else if (key === 'c' || key === 'e') current.reviewActions.reassign();
    else if (key === 'x' || key === ' ') { const box = current.querySelector('[data-select]'); box.checked = !box.checked; }
    else return;
    event.preventDefault();
  };
  const onFocus = (event) => {
    const card = event.target.closest && event.target.closest('[data-record-id]');
    if (card && event.target === card) focusCard(card);
  };
  document.addEventListener('keydown', onKey);
  list.addEventListener('focusin', onFocus);

  // Live: every event of our classrooms brings its record.
  const stop = liveEvents(async (name, event) => {
    try {
      if (name === 'resync') { navigate('lesson', Object.fromEntries(params)); return; }
      if (!event.record_id) return;
      update(await api.get(`/api/attendance/${event.record_id}`), event.kind === 'created');
    } catch (error) { showError(error); }
  });
  return () => { stop(); document.removeEventListener('keydown', onKey); };
}
