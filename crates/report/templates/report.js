// Sortable tables, the gallery's filters and contour switches, and the page's self-check.
(function () {
  function key(td) {
    var v = td.getAttribute('data-v');
    return v === null ? td.textContent.trim() : parseFloat(v);
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, col) {
      th.addEventListener('click', function () {
        var asc = !th.classList.contains('asc');
        table.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
        th.classList.add(asc ? 'asc' : 'desc');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          var nx = typeof x === 'number' && !isNaN(x), ny = typeof y === 'number' && !isNaN(y);
          var c = nx && ny ? x - y : nx ? -1 : ny ? 1 : String(x).localeCompare(String(y), undefined, { numeric: true });
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });

  var gallery = document.getElementById('gallery');
  if (gallery) {
    var mode = document.getElementById('g-mode'), pair = document.getElementById('g-pair');
    var sort = document.getElementById('g-sort'), shown = document.getElementById('g-shown');
    function apply() {
      var p = pair && pair.value ? pair.value.split(',').map(Number) : null;
      var n = 0;
      gallery.querySelectorAll('#lesion-tiles .tile').forEach(function (t) {
        var f = t.getAttribute('data-found'), ok = true;
        var sm = t.getAttribute('data-small') === '1';
        if (mode.value === 'small') ok = sm;
        else if (mode.value === 'large') ok = !sm;
        else if (p && mode.value !== 'all') {
          var iw = f[p[0]] === '1', base = f[p[1]] === '1';
          ok = mode.value === 'iw-only' ? iw && !base : mode.value === 'base-only' ? base && !iw : mode.value === 'both-missed' ? !iw && !base : true;
        }
        t.classList.toggle('hidden', !ok);
        if (ok) n++;
      });
      shown.textContent = n;
      var box = document.getElementById('lesion-tiles');
      var tiles = Array.prototype.slice.call(box.children);
      var s = sort.value;
      tiles.sort(function (a, b) {
        var da = parseFloat(a.getAttribute('data-d')), db = parseFloat(b.getAttribute('data-d'));
        if (s === 'case') return a.getAttribute('data-case').localeCompare(b.getAttribute('data-case'), undefined, { numeric: true }) || da - db;
        return s === 'desc' ? db - da : da - db;
      });
      tiles.forEach(function (t) { box.appendChild(t); });
    }
    [mode, pair, sort].forEach(function (el) { if (el) el.addEventListener('change', apply); });
    gallery.querySelectorAll('input.show-k').forEach(function (cb) {
      function set() { gallery.classList.toggle('hide-k' + cb.getAttribute('data-k'), !cb.checked); }
      cb.addEventListener('change', set);
      set();
    });
    apply();
  }

  function check() {
    var imgs = document.querySelectorAll('img');
    var broken = 0;
    imgs.forEach(function (im) { if (!im.complete || im.naturalWidth === 0) broken++; });
    var c = document.getElementById('iw-check');
    var errors = window.__iwErrors || [];
    c.setAttribute('data-images', imgs.length);
    c.setAttribute('data-broken', broken);
    c.setAttribute('data-errors', errors.length);
    c.setAttribute('data-tiles', document.querySelectorAll('#lesion-tiles .tile').length);
    c.setAttribute('data-state', 'done');
    c.textContent = errors.join('\n');
  }
  if (document.readyState === 'complete') check(); else window.addEventListener('load', check);
})();
