/**
 * The node's web dashboard: one self-contained page (no external assets, so it works offline
 * and inside containers) that polls /status once a second.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>raftree node</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  .role { padding: 2px 8px; border-radius: 4px; color: #fff; background: #888; }
  .role.leader { background: #2a7d2a; } .role.follower { background: #2a5d9f; }
  .role.candidate, .role.preCandidate { background: #b8860b; }
  dl { display: grid; grid-template-columns: max-content auto; gap: 2px 1rem; }
  dt { color: #666; } dd { margin: 0; font-variant-numeric: tabular-nums; }
  table { border-collapse: collapse; margin-top: 1rem; }
  th, td { border-bottom: 1px solid #ddd; padding: 4px 12px; text-align: left; }
  #error { color: #b00; }
</style>
</head>
<body>
<h1>raftree node <span id="id">…</span> <span id="role" class="role">…</span></h1>
<p id="error"></p>
<dl id="facts"></dl>
<table>
  <thead><tr><th>member</th><th>address</th><th>kind</th><th>match</th><th>next</th><th>state</th><th>active</th></tr></thead>
  <tbody id="members"></tbody>
</table>
<p><a href="/metrics">metrics</a> · <a href="/status">status JSON</a> · <a href="/health">health</a></p>
<script>
const $ = (id) => document.getElementById(id);
const cell = (v) => { const td = document.createElement('td'); td.textContent = v ?? '–'; return td; };
async function refresh() {
  try {
    const s = await (await fetch('/status', { cache: 'no-store' })).json();
    $('error').textContent = '';
    $('id').textContent = s.id;
    $('role').textContent = s.role;
    $('role').className = 'role ' + s.role;
    const facts = { term: s.term, leader: s.leader ?? 'none', 'commit index': s.commitIndex,
      'applied index': s.appliedIndex, 'snapshot index': s.snapshotIndex, revision: s.revision,
      keys: s.keys, watchers: s.watchers, uptime: s.uptimeSeconds + ' s' };
    $('facts').replaceChildren(...Object.entries(facts).flatMap(([k, v]) => {
      const dt = document.createElement('dt'); dt.textContent = k;
      const dd = document.createElement('dd'); dd.textContent = v;
      return [dt, dd];
    }));
    $('members').replaceChildren(...s.members.map((m) => {
      const tr = document.createElement('tr');
      const p = m.progress ?? {};
      tr.append(cell(m.id + (m.id === s.leader ? ' ★' : '')), cell(m.address), cell(m.learner ? 'learner' : 'voter'),
        cell(p.match), cell(p.next), cell(p.state), cell(p.recentActive === undefined ? undefined : String(p.recentActive)));
      return tr;
    }));
  } catch (e) {
    $('error').textContent = 'node unreachable: ' + e.message;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
