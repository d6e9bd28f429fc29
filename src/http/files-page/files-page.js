'use strict';
// The files page: list and search (GET /files?q=), upload by drag-and-drop with a progress bar
// each (POST /files, raw body), download (a link to GET /files/:id) and delete. The page sits
// at the root (/files-page), so the credentials the browser asked for there go to /files too.
(function () {
  const PER_PAGE = 50;
  const SEARCH_DELAY_MS = 200;
  const state = { page: 1, totalPages: 1, query: '' };
  const $ = (id) => document.getElementById(id);

  // el: page-elements.js, formatBytes: format-bytes.cjs, both inlined before this.
  const size = (bytes) => formatBytes(bytes, 'precise');

  function showError(message) {
    $('error').hidden = !message;
    $('error').textContent = message || '';
  }

  async function errorOf(response) {
    try {
      return (await response.json()).error || `${response.status} ${response.statusText}`;
    } catch {
      return `${response.status} ${response.statusText}`;
    }
  }

  // ---------- listing ----------
  async function load() {
    const requested = currentParams();
    const response = await fetch(`/files?${requested}`, { headers: { Accept: 'application/json' } });
    if (!response.ok) return showError(`Listing failed: ${await errorOf(response)}`);
    const body = await response.json();
    // A slower answer to an older search must not replace a newer one.
    if (requested !== currentParams()) return;
    showError('');
    state.totalPages = Math.max(1, body.pagination.total_pages);
    render(body.files, body.total);
  }

  /** The query string for the page and search shown now. */
  function currentParams() {
    const params = new URLSearchParams({ page: String(state.page), per_page: String(PER_PAGE) });
    if (state.query) params.set('q', state.query);
    return params.toString();
  }

  function render(files, total) {
    const rows = files.map((file) => el('tr', { 'data-file-id': file.file_id }, [
      el('td', { class: 'name' }, [el('a', { href: `/files/${file.file_id}`, download: file.filename, text: file.filename, title: file.filename })]),
      el('td', { class: 'num', text: size(file.size) }),
      el('td', { text: new Date(file.created_at).toLocaleString() }),
      el('td', {}, [deleteButton(file)]),
    ]));
    $('files').replaceChildren(...rows);
    $('empty').hidden = files.length > 0;
    $('count').textContent = state.query ? `${total} matching “${state.query}”` : `${total}`;
    $('page').textContent = `page ${state.page} of ${state.totalPages}`;
    $('prev').disabled = state.page <= 1;
    $('next').disabled = state.page >= state.totalPages;
    document.body.dataset.loaded = 'true';
  }

  function deleteButton(file) {
    const button = el('button', { type: 'button', class: 'delete', text: 'Delete' });
    button.addEventListener('click', async () => {
      if (!confirm(`Delete ${file.filename}?`)) return;
      button.disabled = true;
      const response = await fetch(`/files/${file.file_id}`, { method: 'DELETE' });
      if (!response.ok && response.status !== 404) {
        button.disabled = false;
        return showError(`Deleting ${file.filename} failed: ${await errorOf(response)}`);
      }
      await load();
    });
    return button;
  }

  let searchTimer;
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.query = $('search').value.trim();
      state.page = 1;
      void load();
    }, SEARCH_DELAY_MS);
  });
  $('prev').addEventListener('click', () => { state.page = Math.max(1, state.page - 1); void load(); });
  $('next').addEventListener('click', () => { state.page = Math.min(state.totalPages, state.page + 1); void load(); });

  // ---------- uploads ----------
  // XMLHttpRequest, not fetch: only it reports upload progress.
  function upload(file) {
    const progress = el('progress', { max: String(Math.max(file.size, 1)), value: '0' });
    const status = el('span', { class: 'status', text: 'waiting…' });
    const item = el('li', { class: 'upload', 'data-name': file.name, 'data-state': 'uploading' }, [el('span', { class: 'name', text: file.name, title: file.name }), progress, status]);
    $('uploads').prepend(item);
    const startedAt = performance.now();
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `/files?filename=${encodeURIComponent(file.name)}`);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = (event) => {
        progress.value = event.loaded;
        const seconds = (performance.now() - startedAt) / 1000;
        status.textContent = `${Math.round((100 * event.loaded) / Math.max(event.total, 1))}% · ${size(seconds > 0 ? event.loaded / seconds : 0)}/s`;
      };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        if (xhr.status === 201) {
          progress.value = progress.max;
          item.dataset.state = 'done';
          item.dataset.fileId = body.file_id;
          status.textContent = `stored · ${size(body.size)}`;
        } else {
          item.dataset.state = 'failed';
          status.textContent = body.error || `failed: ${xhr.status}`;
        }
        resolve();
      };
      xhr.onerror = () => {
        item.dataset.state = 'failed';
        status.textContent = 'failed: the connection dropped';
        resolve();
      };
      xhr.send(file);
    });
  }

  async function uploadAll(files) {
    // One at a time: a dropped folder of files does not open a connection each.
    for (const file of files) await upload(file);
    await load();
  }

  const drop = $('drop');
  for (const type of ['dragenter', 'dragover']) drop.addEventListener(type, (event) => { event.preventDefault(); drop.classList.add('over'); });
  for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    void uploadAll([...event.dataTransfer.files]);
  });
  $('pick').addEventListener('change', () => void uploadAll([...$('pick').files]));

  void load();
})();
