// Unknown faces grouped by likeness: one action labels a whole group as an enrolled student,
// or (admins) as a new student.

import * as api from './api.js';
import { h, fill, field, announce, showError, dialog, when } from './dom.js';
import { loadCrop } from './images.js';
import { pickStudent } from './picker.js';

/** The most record ids one label request takes (the API's limit). */
const LABEL_CHUNK = 500;

/** Labels every record of `group` as one student, in requests of at most `LABEL_CHUNK` ids; a
 *  new student is created by the first request and named by id in the rest. */
async function label(group, body) {
  let student = null;
  let count = 0;
  for (let at = 0; at < group.record_ids.length; at += LABEL_CHUNK) {
    const record_ids = group.record_ids.slice(at, at + LABEL_CHUNK);
    const answer = await api.post('/api/attendance/label', student ? { record_ids, student_id: student.id } : { record_ids, ...body });
    student = answer.student;
    count += answer.records.length;
  }
  announce(`Labelled ${count} record${count === 1 ? '' : 's'} as ${student.full_name}`);
}

function newStudentForm(group, done) {
  const number = h('input', { name: 'student_number', required: true, autocomplete: 'off' });
  const name = h('input', { name: 'full_name', required: true, autocomplete: 'off' });
  const box = dialog('Enroll as a new student', h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await label(group, { new_student: { student_number: number.value.trim(), full_name: name.value.trim() } });
        box.close();
        done();
      } catch (error) { showError(error); }
    },
  }, h('p', {}, 'Creates the student and approves every face of this group as them. Their enrollment photos are added separately (Students, or "Add face to enrollment" on an approved record).'),
  field('Student number', number), field('Full name', name), h('button', { type: 'submit' }, 'Create and label')));
  number.focus();
}

/** Renders the view. */
export async function render(main, { me, params, navigate }) {
  const classroom = h('input', { name: 'classroom', value: params.get('classroom') || '', autocomplete: 'off' });
  const from = h('input', { type: 'date', name: 'from', value: params.get('from') || '' });
  const to = h('input', { type: 'date', name: 'to', value: params.get('to') || '' });
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); navigate('unknowns', { classroom: classroom.value.trim(), from: from.value, to: to.value }); } },
    field('Classroom', classroom), field('From', from), field('To', to), h('button', { type: 'submit' }, 'Show'));
  const list = h('div', { class: 'groups' });
  fill(main, h('h1', {}, 'Unknown faces'),
    h('p', { class: 'muted' }, 'Faces that matched no enrolled student, grouped by likeness across lessons. Label a group to approve all its records as one student.'),
    form, list);
  const answer = await api.get(`/api/attendance/unknown-groups${api.query({ classroom_id: params.get('classroom'), date_from: params.get('from'), date_to: params.get('to') })}`);
  if (!answer.groups.length) { fill(list, h('p', { class: 'muted' }, 'No unknown faces wait for review.')); return null; }
  fill(list, answer.groups.map((group) => {
    const card = h('article', { class: 'group', 'data-group-id': group.group_id, 'aria-label': `Group of ${group.size}` });
    const remove = () => { card.remove(); if (!list.querySelector('[data-group-id]')) fill(list, h('p', { class: 'muted' }, 'No unknown faces wait for review.')); };
    const crops = h('div', { class: 'crops' }, group.record_ids.slice(0, 8).map((id) => {
      const img = h('img', { class: 'crop', width: 72, height: 72, alt: 'Unknown face' });
      loadCrop(img, id);
      return img;
    }));
    fill(card,
      h('h2', {}, `${group.size} face${group.size === 1 ? '' : 's'}`),
      crops,
      h('p', { class: 'muted' }, `${group.classroom_ids.join(', ')} · ${when(group.first_seen)} – ${when(group.last_seen)}`),
      h('div', { class: 'actions' },
        h('button', { type: 'button', 'data-action': 'label', onclick: async () => {
          const student = await pickStudent('Assign this group to a student', { attr: 'data-student-id', recordId: group.record_ids[0] });
          if (!student) return;
          try { await label(group, { student_id: student }); remove(); } catch (error) { showError(error); }
        } }, 'Assign to student…'),
        me.role === 'admin' ? h('button', { type: 'button', class: 'plain', 'data-action': 'enroll-new', onclick: () => newStudentForm(group, remove) }, 'Enroll as new student…') : null));
    return card;
  }));
  return null;
}
