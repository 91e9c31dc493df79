/**
 * The dashboard page's script (served as /assets/dashboard.js; plain ES2017 for the browser, no build
 * step): fetches /api/report for the chosen range, draws per test a uPlot chart of executions per
 * minute (failures stacked under the ok ones) and one of latency p50/p99, a table of failures by
 * reason with bars, and the recent runs; refetches when the range changes and every 10 s unless paused.
 */
export const PAGE_SCRIPT = `(function () {
  'use strict';
  var REFRESH_MS = 10000;
  var RANGES = { '1h': 'last hour', '24h': 'last day', '7d': 'last week' };
  var el = function (id) { return document.getElementById(id); };
  var state = { since: '1h', limit: 20, timer: 0, charts: [], loads: 0, seq: 0 };

  var params = new URLSearchParams(location.search);
  if (RANGES[params.get('since')]) state.since = params.get('since');
  var askedLimit = Number(params.get('limit'));
  if (askedLimit >= 1 && askedLimit <= 1000 && Math.floor(askedLimit) === askedLimit) state.limit = askedLimit;
  el('range').value = state.since;
  el('limit').value = String(state.limit);

  function make(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || isNaN(v)) return '-';
    return Number(v).toFixed(digits === undefined ? 2 : digits);
  }
  function setStatus(text, isError) {
    var s = el('status');
    s.textContent = text;
    s.className = isError ? 'status error' : 'status';
  }
  function clearCharts() {
    state.charts.forEach(function (c) { c.destroy(); });
    state.charts = [];
    el('tests').textContent = '';
  }
  function remember() {
    var q = new URLSearchParams({ since: state.since, limit: String(state.limit) });
    history.replaceState(null, '', '?' + q.toString());
  }

  function chartWidth(box) { return Math.max(280, box.clientWidth || 480); }
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function hhmm(d) { return pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()); }
  function mmdd(d) { return pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()); }
  // Each bucket is drawn at its middle; the x axis and the legend say UTC times.
  function xAxis(spanSeconds) {
    return {
      values: function (u, splits) {
        return splits.map(function (v) { var d = new Date(v * 1000); return spanSeconds > 86400 ? mmdd(d) + ' ' + hhmm(d) : hhmm(d); });
      }
    };
  }
  function xSeries(bucket) {
    return {
      label: 'UTC',
      value: function (u, v) {
        if (v === null || v === undefined) return '-';
        var a = new Date((v - bucket / 2) * 1000), b = new Date((v + bucket / 2) * 1000);
        return (bucket >= 86400 ? mmdd(a) + ' ' : '') + hhmm(a) + '-' + hhmm(b);
      }
    };
  }
  function xScale(t, bucket) {
    return { time: true, range: function () { return [t[0] - bucket / 2, t[t.length - 1] + bucket / 2]; } };
  }

  function executionsChart(box, t, bucket, test, perMinute) {
    var ok = test.ok.map(function (n) { return n / perMinute; });
    var failed = test.failed.map(function (n) { return n / perMinute; });
    var total = ok.map(function (v, i) { return v + failed[i]; });
    var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 40] }) : undefined;
    return new uPlot({
      title: 'executions per minute',
      width: chartWidth(box), height: 220,
      scales: { x: xScale(t, bucket), y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      axes: [xAxis(t[t.length - 1] - t[0]), { label: 'per minute', size: 60 }],
      series: [
        xSeries(bucket),
        { label: 'ok', stroke: '#2a9d3f', fill: 'rgba(42,157,63,0.55)', paths: bars, points: { show: false },
          value: function (u, v, si, i) { return i === null || i === undefined ? '-' : fmt(ok[i]); } },
        { label: 'failed', stroke: '#d1495b', fill: 'rgba(209,73,91,0.8)', paths: bars, points: { show: false },
          value: function (u, v, si, i) { return i === null || i === undefined ? '-' : fmt(failed[i]); } }
      ]
    }, [t, total, failed], box);
  }

  function latencyChart(box, t, bucket, test) {
    return new uPlot({
      title: 'latency (ms)',
      width: chartWidth(box), height: 220,
      scales: { x: xScale(t, bucket), y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      axes: [xAxis(t[t.length - 1] - t[0]), { label: 'ms', size: 60 }],
      series: [
        xSeries(bucket),
        { label: 'p50', stroke: '#1f6fb2', width: 2, points: { show: true, size: 5 }, value: function (u, v) { return fmt(v); } },
        { label: 'p99', stroke: '#e07b00', width: 2, points: { show: true, size: 5 }, value: function (u, v) { return fmt(v); } }
      ]
    }, [t, test.p50, test.p99], box);
  }

  function reasonsTable(report) {
    var reasons = Object.keys(report.failures);
    if (reasons.length === 0) return make('p', { 'class': 'none' }, 'No failures in this range.');
    var most = Math.max.apply(null, reasons.map(function (r) { return report.failures[r]; }));
    var table = make('table', { 'class': 'reasons' });
    table.appendChild(make('caption', {}, 'Failures by reason (' + report.failed + ' in all)'));
    var head = make('tr');
    ['reason', 'failures', 'share'].forEach(function (h) { head.appendChild(make('th', { scope: 'col' }, h)); });
    table.appendChild(make('thead')).appendChild(head);
    var body = table.appendChild(make('tbody'));
    reasons.sort(function (a, b) { return report.failures[b] - report.failures[a]; }).forEach(function (r) {
      var n = report.failures[r];
      var tr = make('tr');
      tr.appendChild(make('th', { scope: 'row' }, r));
      tr.appendChild(make('td', { 'class': 'n' }, String(n)));
      var cell = make('td');
      var bar = make('div', { 'class': 'bar', role: 'img', 'aria-label': Math.round((100 * n) / Math.max(1, report.failed)) + '% of failures' });
      bar.style.width = Math.max(1, Math.round((100 * n) / most)) + '%';
      cell.appendChild(bar);
      tr.appendChild(cell);
      body.appendChild(tr);
    });
    return table;
  }

  function renderTests(data) {
    clearCharts();
    var series = {};
    data.series.tests.forEach(function (s) { series[s.test] = s; });
    var bucket = data.series.bucketSeconds;
    var perMinute = bucket / 60;
    var mid = data.series.t.map(function (v) { return v + bucket / 2; });
    data.tests.forEach(function (report) {
      var section = make('section', { 'class': 'test', 'aria-label': 'test ' + report.test, 'data-test': report.test });
      section.appendChild(make('h2', {}, report.test));
      var lat = report.latency;
      section.appendChild(make('p', { 'class': 'figures' },
        'requested ' + report.requested + ', ok ' + report.ok + ', failed ' + report.failed + ', dropped ' + report.dropped +
        ', missed ' + report.missed + ', aborted ' + report.aborted + '; ' + fmt(report.perMinute) + ' per minute; latency p50 ' +
        (lat ? fmt(lat.p50) : '-') + ' ms, p99 ' + (lat ? fmt(lat.p99) : '-') + ' ms, max ' + (lat ? fmt(lat.max) : '-') + ' ms'));
      var charts = section.appendChild(make('div', { 'class': 'charts' }));
      el('tests').appendChild(section);
      var s = series[report.test];
      if (s) {
        var a = charts.appendChild(make('div', { 'class': 'chart', role: 'img', 'aria-label': report.test + ': executions per minute, ok and failed, per ' + (perMinute >= 1 ? perMinute + ' min' : 'bucket') }));
        var b = charts.appendChild(make('div', { 'class': 'chart', role: 'img', 'aria-label': report.test + ': latency p50 and p99 in ms' }));
        state.charts.push(executionsChart(a, mid, bucket, s, perMinute));
        state.charts.push(latencyChart(b, mid, bucket, s));
      }
      section.appendChild(make('h3', {}, 'Failures by reason'));
      section.appendChild(reasonsTable(report));
    });
  }

  function renderRuns(data) {
    var runs = data.runs.slice().reverse();
    var body = el('runs').querySelector('tbody');
    body.textContent = '';
    runs.forEach(function (r) {
      var tr = make('tr');
      [r.start, r.end, r.host, String(r.slot), r.ended].forEach(function (v, i) { tr.appendChild(make('td', i === 3 ? { 'class': 'n' } : {}, v)); });
      body.appendChild(tr);
    });
    var total = data.runsTotal === undefined ? data.runs.length : data.runsTotal;
    el('runs-caption').textContent = runs.length === total ? total + ' runs in this range, newest first' : 'The last ' + runs.length + ' of ' + total + ' runs in this range, newest first';
    el('runs-section').hidden = runs.length === 0;
  }

  function render(data) {
    var empty = data.tests.length === 0 && data.runs.length === 0;
    el('main').setAttribute('data-state', empty ? 'empty' : 'ready');
    var e = el('empty');
    e.hidden = !empty;
    if (empty) {
      clearCharts();
      el('runs-section').hidden = true;
      e.textContent = 'No results in the journal for this range (' + RANGES[state.since] + ', ' + data.from + ' to ' + data.to + '). The journal is ' + data.journal.dir +
        (data.journal.files === 0 ? ' and has no file for this range.' : '.');
    } else {
      renderTests(data);
      renderRuns(data);
    }
    state.loads += 1;
    el('main').setAttribute('data-loads', String(state.loads));
    setStatus(RANGES[state.since] + ': ' + data.from + ' to ' + data.to + ' (UTC), ' + data.tests.length + ' tests, ' + (data.runsTotal === undefined ? data.runs.length : data.runsTotal) +
      ' runs' + (data.skippedMinutes ? ', ' + data.skippedMinutes + ' minutes skipped (all lock slots busy)' : '') + '; updated ' + new Date().toISOString().slice(11, 19) + ' UTC' +
      (el('auto').checked ? '' : ' (auto-refresh paused)'));
  }

  function load() {
    var seq = ++state.seq;
    var url = '/api/report?since=' + encodeURIComponent(state.since) + '&limit=' + state.limit;
    return fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, status: res.status, body: body }; }); })
      .then(function (r) {
        if (seq !== state.seq) return;
        if (!r.ok) throw new Error((r.body && r.body.error) || 'HTTP ' + r.status);
        render(r.body);
      })
      .catch(function (err) {
        if (seq !== state.seq) return;
        // No stale charts under an error: what is shown is what was asked, or nothing.
        clearCharts();
        el('runs-section').hidden = true;
        el('empty').hidden = true;
        el('main').setAttribute('data-state', 'error');
        setStatus('Could not load the report: ' + err.message, true);
      });
  }

  function schedule() {
    clearInterval(state.timer);
    state.timer = 0;
    if (el('auto').checked) state.timer = setInterval(function () { if (!document.hidden) load(); }, REFRESH_MS);
  }

  el('range').addEventListener('change', function () { state.since = el('range').value; remember(); load(); });
  el('limit').addEventListener('change', function () {
    var n = Number(el('limit').value);
    if (n >= 1 && n <= 1000 && Math.floor(n) === n) { state.limit = n; remember(); load(); }
  });
  el('auto').addEventListener('change', function () { schedule(); if (el('auto').checked) load(); else setStatus(el('status').textContent + ' (auto-refresh paused)'); });
  el('refresh').addEventListener('click', function () { load(); });
  el('controls').addEventListener('submit', function (ev) { ev.preventDefault(); load(); });
  var resizing = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      state.charts.forEach(function (c) { c.setSize({ width: chartWidth(c.root.parentNode), height: 220 }); });
    }, 150);
  });
  schedule();
  load();
})();
`;
