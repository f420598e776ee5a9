// ssogate console: the few behaviours htmx does not cover. No inline script anywhere (the
// Content-Security-Policy forbids it); everything is wired here by data attributes.
(function () {
  'use strict';

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : '';
  }

  // htmx requests carry the CSRF token like every other change.
  document.addEventListener('htmx:configRequest', function (e) {
    e.detail.headers['X-CSRF-Token'] = csrf();
  });

  // fill replaces {name} in a path with the URL-encoded value get(name).
  function fill(path, get) {
    return path.replace(/\{(\w+)\}/g, function (_, k) { return encodeURIComponent(get(k) || ''); });
  }

  function flash(msg, bad) {
    var f = document.getElementById('flash');
    if (!f) { return; }
    f.textContent = msg;
    f.className = 'flash ' + (bad ? 'bad' : 'ok');
    f.hidden = false;
  }

  // A change reloads the page to show the new state; its message survives the reload.
  function clearFlash() {
    var f = document.getElementById('flash');
    if (f) { f.hidden = true; f.className = 'flash'; }
  }

  function done(msg) {
    try { sessionStorage.setItem('ssogate-flash', msg); } catch (e) { /* private mode */ }
    location.reload();
  }

  document.addEventListener('DOMContentLoaded', function () {
    var msg = null;
    try { msg = sessionStorage.getItem('ssogate-flash'); sessionStorage.removeItem('ssogate-flash'); } catch (e) { /* ignore */ }
    if (msg) { flash(msg, false); }
    setupImport();
  });

  function call(method, url, body) {
    var opts = { method: method, headers: { 'X-CSRF-Token': csrf() }, credentials: 'same-origin' };
    if (body !== undefined && body !== null) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = body;
    }
    return fetch(url, opts).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (!r.ok) { throw new Error((j && j.message) || ('HTTP ' + r.status)); }
        return j;
      });
    });
  }

  function withQuery(url, q) { return q ? url + '?' + q : url; }

  // Buttons: data-api (method), data-path ({x} from data-x), data-query, data-body, data-confirm.
  document.addEventListener('click', function (e) {
    var b = e.target.closest('button[data-api]');
    if (b) {
      e.preventDefault();
      clearFlash();
      if (b.dataset.confirm && !window.confirm(b.dataset.confirm)) { return; }
      var url = withQuery(fill(b.dataset.path, function (k) { return b.dataset[k]; }), b.dataset.query);
      b.disabled = true;
      call(b.dataset.api, url, b.dataset.body).then(function () {
        done(b.textContent.trim() + ' ✓');
      }, function (err) {
        b.disabled = false;
        flash(err.message, true);
      });
      return;
    }
    var f = e.target.closest('button[data-fill]');
    if (f) {
      var form = document.getElementById(f.dataset.fill);
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || !(el.name in f.dataset)) { return; }
        if (el.type === 'checkbox') { el.checked = f.dataset[el.name] === 'true'; } else { el.value = f.dataset[el.name]; }
      });
      form.scrollIntoView();
      form.elements[1].focus();
    }
  });

  // Forms with data-api send their fields as JSON; fields named in the path go into it.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form.dataset || !form.dataset.api) { return; }
    e.preventDefault();
    clearFlash();
    var inPath = {};
    var url = fill(form.dataset.path, function (k) { inPath[k] = true; return form.elements[k] && form.elements[k].value.trim(); });
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || inPath[el.name]) { return; }
      body[el.name] = el.type === 'checkbox' ? el.checked : el.value.trim();
    });
    var msg = form.querySelector('[data-msg]');
    call(form.dataset.api, withQuery(url, form.dataset.query), 'nobody' in form.dataset ? null : JSON.stringify(body)).then(function () {
      done('✓');
    }, function (err) {
      if (msg) { msg.textContent = err.message; msg.className = 'msg bad'; }
    });
  });

  // Import and reconcile: the file is streamed to the API with XHR so that the upload's
  // progress shows while it is sent; a reconcile is a dry run first, then an explicit apply.
  function setupImport() {
    var form = document.getElementById('import-form');
    if (!form) { return; }
    var bar = document.getElementById('import-progress');
    var pct = document.getElementById('import-percent');
    var apply = document.getElementById('import-apply');
    var result = document.getElementById('import-result');
    var counts = document.getElementById('import-counts');
    var csv = document.getElementById('import-csv');
    var seen = [];

    function setProgress(p) {
      bar.value = p;
      pct.textContent = p + '%';
      seen.push(p);
      bar.dataset.seen = seen.join(',');
    }

    function upload(dryRun) {
      var file = form.elements.file.files[0];
      if (!file) { flash(form.elements.file.closest('label').textContent.trim(), true); return; }
      var reconcile = form.elements.mode.value === 'reconcile';
      var q = new URLSearchParams();
      if (form.elements.client.value) { q.set('client', form.elements.client.value); }
      if (reconcile) {
        q.set('dry_run', dryRun ? 'true' : 'false');
        q.set('max_removals', form.elements.max_removals.value || '1000');
      }
      var xhr = new XMLHttpRequest();
      xhr.open(reconcile ? 'PUT' : 'POST', '/ui/api/admin/clusters/' + encodeURIComponent(form.elements.cluster.value) + '/users?' + q.toString());
      xhr.setRequestHeader('Content-Type', 'text/plain; charset=utf-8');
      xhr.setRequestHeader('X-CSRF-Token', csrf());
      seen = [];
      setProgress(0);
      apply.hidden = true;
      result.hidden = true;
      xhr.upload.onprogress = function (ev) {
        if (ev.lengthComputable) { setProgress(Math.floor(ev.loaded * 100 / ev.total)); }
      };
      xhr.onload = function () {
        var j = null;
        try { j = JSON.parse(xhr.responseText); } catch (e) { j = null; }
        setProgress(100);
        result.hidden = false;
        result.dataset.status = String(xhr.status);
        if (xhr.status !== 200 || !j) {
          counts.textContent = (j && (j.error + ': ' + j.message)) || ('HTTP ' + xhr.status);
          counts.className = 'bad';
          result.dataset.state = 'error';
          return;
        }
        counts.className = '';
        var shown = {};
        Object.keys(j).forEach(function (k) { if (k !== 'rejected') { shown[k] = j[k]; } });
        counts.textContent = JSON.stringify(shown, null, 2);
        result.dataset.state = (reconcile && dryRun) ? 'dry-run' : 'applied';
        var rejected = j.rejected || [];
        if (rejected.length) {
          var lines = ['line,reason'].concat(rejected.map(function (r) {
            return r.line + ',"' + String(r.reason).replace(/"/g, '""') + '"';
          }));
          if (csv.href) { URL.revokeObjectURL(csv.href); }
          csv.href = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/csv' }));
          csv.hidden = false;
        } else {
          csv.hidden = true;
        }
        if (reconcile && dryRun) { apply.hidden = false; }
      };
      xhr.onerror = function () { flash('upload failed', true); };
      xhr.send(file);
    }

    form.addEventListener('submit', function (e) {
      e.preventDefault();
      upload(form.elements.mode.value === 'reconcile');
    });
    apply.addEventListener('click', function () { upload(false); });
  }
}());
