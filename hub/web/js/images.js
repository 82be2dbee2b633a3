// Face crops need the Bearer header, so they are fetched and shown from blob URLs (allowed by
// the page's `img-src blob:`); each view releases its URLs when it is left.

import { request } from './api.js';

const urls = new Map();

/** Sets `img`'s source to record `id`'s crop (cached per record). */
export async function loadCrop(img, id) {
  try {
    let url = urls.get(id);
    if (!url) {
      const blob = await request('GET', `/api/attendance/${id}/image`, { as: 'blob' });
      url = URL.createObjectURL(blob);
      urls.set(id, url);
    }
    img.src = url;
  } catch (_) {
    img.alt = `${img.alt} (no image)`;
    img.classList.add('missing');
  }
}

/** Releases every blob URL (on leaving a view or signing out). */
export function releaseCrops() {
  for (const url of urls.values()) URL.revokeObjectURL(url);
  urls.clear();
}
