/**
 * The dashboard page: plain HTML, no inline script or style (the Content-Security-Policy forbids
 * both); /assets/dashboard.js fills it from /api/report.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>canihaz dashboard</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/dashboard.css">
<script src="/assets/uPlot.iife.min.js" defer></script>
<script src="/assets/dashboard.js" defer></script>
</head>
<body>
<header>
<h1>canihaz <span class="sub">results on this host</span></h1>
<form id="controls" class="controls">
<label for="range">Range</label>
<select id="range" name="since">
<option value="1h">last hour</option>
<option value="24h">last day</option>
<option value="7d">last week</option>
</select>
<label for="limit">Runs listed</label>
<input id="limit" name="limit" type="number" min="1" max="1000" value="20" inputmode="numeric">
<label class="check"><input id="auto" type="checkbox" checked> auto-refresh every 10 s</label>
<button id="refresh" type="button">Refresh now</button>
</form>
<p id="status" class="status" role="status" aria-live="polite">loading…</p>
</header>
<main id="main" data-state="loading">
<p id="empty" class="empty" hidden></p>
<div id="tests"></div>
<section id="runs-section" aria-labelledby="runs-heading" hidden>
<h2 id="runs-heading">Recent runs</h2>
<table id="runs" class="runs">
<caption id="runs-caption"></caption>
<thead><tr><th scope="col">start (UTC)</th><th scope="col">end (UTC)</th><th scope="col">host</th><th scope="col">slot</th><th scope="col">ended</th></tr></thead>
<tbody></tbody>
</table>
</section>
</main>
<footer><p>Read-only: served by <code>canihaz dashboard</code> from this host's journal. Times are UTC.</p></footer>
</body>
</html>
`;
