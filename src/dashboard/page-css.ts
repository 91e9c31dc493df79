/** The dashboard page's style sheet (served as /assets/dashboard.css: no inline style under the CSP). */
export const PAGE_CSS = `:root { color-scheme: light; --ok: #2a9d3f; --failed: #d1495b; --p50: #1f6fb2; --p99: #e07b00; --line: #d0d4d9; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 0 1rem 2rem; font: 15px/1.4 system-ui, sans-serif; color: #1d2125; background: #fff; }
h1 { font-size: 1.4rem; margin: 1rem 0 .5rem; }
h1 .sub { font-weight: normal; color: #5b636b; font-size: 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .25rem; }
h3 { font-size: .95rem; margin: .75rem 0 .25rem; font-weight: 600; }
.controls { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; }
.controls input[type=number] { width: 5rem; }
.check { display: inline-flex; gap: .3rem; align-items: center; }
.status { color: #5b636b; margin: .5rem 0; min-height: 1.4em; }
.status.error { color: var(--failed); font-weight: 600; }
.empty { padding: 2rem; border: 1px dashed var(--line); text-align: center; font-size: 1.05rem; }
.test { border-top: 1px solid var(--line); padding-top: .25rem; }
.figures { margin: .25rem 0; color: #3b4248; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
@media (max-width: 800px) { .charts { grid-template-columns: 1fr; } }
.chart { min-width: 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: #5b636b; padding: .25rem 0; }
th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid var(--line); }
td.n { text-align: right; }
.reasons { max-width: 40rem; }
.bar { height: .8rem; background: var(--failed); min-width: 1px; }
.none { color: #5b636b; }
footer { margin-top: 2rem; color: #5b636b; font-size: .85rem; }
`;
