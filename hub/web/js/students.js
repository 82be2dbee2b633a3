// Students (admin): search, create, edit, consent, enrollment photos with a local preview,
// export and erasure.

import * as api from './api.js';
import { h, fill, field, announce, showError, dialog } from './dom.js';

function studentForm(student, done) {
  const inputs = {
    student_number: h('input', { name: 'student_number', required: true, value: student?.student_number || '' }),
    full_name: h('input', { name: 'full_name', required: true, value: student?.full_name || '' }),
    email: h('input', { name: 'email', type: 'email', value: student?.email || '' }),
    department: h('input', { name: 'department', value: student?.department || '' }),
    year: h('input', { name: 'year', type: 'number', min: 0, max: 100, value: student?.year ?? '' }),
  };
  const box = dialog(student ? `Edit ${student.full_name}` : 'New student', h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      const body = {
        student_number: inputs.student_number.value.trim(),
        full_name: inputs.full_name.value.trim(),
        email: inputs.email.value.trim() || null,
        department: inputs.department.value.trim() || null,
        year: inputs.year.value === '' ? null : Number(inputs.year.value),
      };
      try {
        if (student) await api.put(`/api/students/${student.id}`, body); else await api.post('/api/students', body);
        box.close();
        announce('Student saved');
        done();
      } catch (error) { showError(error); }
    },
  }, field('Student number', inputs.student_number), field('Full name', inputs.full_name), field('E-mail', inputs.email),
  field('Department', inputs.department), field('Year', inputs.year), h('button', { type: 'submit' }, 'Save')));
}

function photos(student, done) {
  const input = h('input', { type: 'file', name: 'photos', accept: 'image/jpeg,image/png', multiple: true });
  const preview = h('div', { class: 'crops' });
  const faces = h('p', { class: 'muted' }, `${student.face_count} enrolled face(s)`);
  const urls = [];
  input.addEventListener('change', () => {
    urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
    fill(preview, [...input.files].map((file) => {
      const url = URL.createObjectURL(file);
      urls.push(url);
      return h('img', { class: 'crop', src: url, alt: `Preview of ${file.name}`, width: 96, height: 96 });
    }));
  });
  const box = dialog(`Photos of ${student.full_name}`, h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      if (!input.files.length) return;
      const form = new FormData();
      for (const file of input.files) form.append('photos', file, file.name);
      try {
        const answer = await api.request('POST', `/api/students/${student.id}/photos`, { body: form });
        announce(`${answer.faces.length} photo(s) enrolled`);
        box.close();
        done();
      } catch (error) { showError(error); }
    },
  }, faces, h('p', {}, 'Each photo must show exactly this student\'s face, alone.'), field('Photos', input), preview,
  h('button', { type: 'submit' }, 'Upload')), { onClose: () => urls.forEach((u) => URL.revokeObjectURL(u)) });
}

/** The consent column's text for student `s`. */
function consentText(s) {
  if (!s.consent) return 'not recorded';
  return `${s.consent.granted ? 'granted' : 'withdrawn'} (${s.consent.given_by}, notice ${s.consent.notice_version})`;
}

/** Records a consent decision for `student`; a withdrawal deletes their faces at once. */
function consentForm(student, done) {
  const granted = h('select', { name: 'granted' },
    h('option', { value: 'true', selected: student.consent?.granted !== false }, 'Granted'),
    h('option', { value: 'false', selected: student.consent?.granted === false }, 'Refused or withdrawn'));
  const givenBy = h('input', { name: 'given_by', required: true, maxlength: 200, autocomplete: 'off', value: student.consent?.given_by || '' });
  const notice = h('input', { name: 'notice_version', required: true, maxlength: 64, autocomplete: 'off', value: student.consent?.notice_version || '' });
  const box = dialog(`Consent of ${student.full_name}`, h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      const grant = granted.value === 'true';
      if (!grant && student.face_count > 0 && !window.confirm(`Withdrawing deletes ${student.full_name}'s ${student.face_count} enrolled face(s) and photos now. Continue?`)) return;
      try {
        const answer = await api.post(`/api/students/${student.id}/consent`, { granted: grant, given_by: givenBy.value.trim(), notice_version: notice.value.trim() });
        announce(grant ? 'Consent recorded' : `Consent withdrawn: ${answer.faces_deleted} face(s) deleted`);
        box.close();
        done();
      } catch (error) { showError(error); }
    },
  }, h('p', {}, 'Only students who have granted consent can have photos enrolled and are recognised. Every decision is kept with who gave it and when.'),
  field('Decision', granted), field('Given by (student, parent or guardian)', givenBy), field('Privacy notice version', notice),
  h('button', { type: 'submit' }, 'Record')));
  givenBy.focus();
}

/** Downloads everything the hub holds about student `s` as a JSON file (an access request). */
async function exportData(s) {
  const data = await api.get(`/api/students/${s.id}/export`);
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  const link = h('a', { href: url, download: `student-${s.student_number}-export.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  announce(`Exported the data of ${s.full_name}`);
}

/** Renders the view. */
export async function render(main, { params, navigate }) {
  const search = h('input', { type: 'search', name: 'search', value: params.get('search') || '' });
  const table = h('tbody');
  const reload = () => render(main, { params, navigate });
  fill(main, h('h1', {}, 'Students'),
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); navigate('students', { search: search.value.trim() }); } },
      field('Search (number, name, e-mail, department)', search), h('button', { type: 'submit' }, 'Search'),
      h('button', { type: 'button', class: 'plain', onclick: () => studentForm(null, reload) }, 'New student')),
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ['Number', 'Name', 'Department', 'Year', 'Faces', 'Consent', ''].map((t) => h('th', { scope: 'col' }, t)))), table)));
  const page = await api.get(`/api/students${api.query({ search: params.get('search'), page_size: 200 })}`);
  fill(table, page.items.map((s) => h('tr', { 'data-student-id': s.id },
    h('td', {}, s.student_number), h('td', {}, s.full_name), h('td', {}, s.department || ''), h('td', {}, s.year ?? ''),
    h('td', {}, String(s.face_count)), h('td', { 'data-consent': s.consent ? String(s.consent.granted) : 'none' }, consentText(s)),
    h('td', {}, h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'plain', 'data-action': 'consent', 'aria-label': `Consent of ${s.full_name}`, onclick: () => consentForm(s, reload) }, 'Consent'),
      h('button', { type: 'button', class: 'plain', 'aria-label': `Photos of ${s.full_name}`, onclick: () => photos(s, reload) }, 'Photos'),
      h('button', { type: 'button', class: 'plain', 'aria-label': `Edit ${s.full_name}`, onclick: () => studentForm(s, reload) }, 'Edit'),
      h('button', { type: 'button', class: 'plain', 'data-action': 'export', 'aria-label': `Export the data of ${s.full_name}`, onclick: () => exportData(s).catch(showError) }, 'Export'),
      h('button', { type: 'button', class: 'danger', 'data-action': 'erase', 'aria-label': `Erase ${s.full_name}`, onclick: async () => {
        if (!window.confirm(`Erase ${s.full_name}? Their enrollment faces and photos, every attendance record that named them with its face crop, and their name in the audit log are removed for good.`)) return;
        try {
          const report = await api.post(`/api/students/${s.id}/erase`, {});
          announce(`Erased: ${report.records_deleted} records, ${report.crops_deleted} crops, ${report.faces_deleted} faces, ${report.photos_deleted} photos`);
          reload();
        } catch (error) { showError(error); }
      } }, 'Erase'))))));
  if (!page.items.length) fill(table, h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No students.')));
  return null;
}
