// The mesh page: refresh the services from /mesh.json every 3 seconds.
(function () {
  const esc = s => String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const badge = s => `<span class="badge ${esc(s)}">${esc(s)}</span>`;
  const checks = cs => "<ul>" + cs.map(c => `<li>${badge(c.status)} ${esc(c.name)}${c.status !== "passing" && c.output ? ` <span class="muted">— ${esc(c.output)}</span>` : ""}</li>`).join("") + "</ul>";
  function render(services) {
    return services.map(s => `<section class="card service" aria-labelledby="svc-${esc(s.name)}" data-service="${esc(s.name)}">
      <h2 id="svc-${esc(s.name)}">${esc(s.name)} ${badge(s.status)}</h2>` + s.instances.map(i =>
      `<p><strong>${esc(i.id)}</strong>${i.version ? ` (${esc(i.version)})` : ""} at ${esc(i.address)}:${esc(i.port)} on node ${esc(i.node)}</p>${checks(i.checks)}` +
      (i.sidecar ? `<p>Sidecar <strong>${esc(i.sidecar.id)}</strong> (mTLS port ${esc(i.sidecar.port)}) ${badge(i.sidecar.status)}</p>${checks(i.sidecar.checks)}
        <p>Upstreams: ${i.sidecar.upstreams.length ? i.sidecar.upstreams.map(u => `${esc(u.destination)} on 127.0.0.1:${esc(u.local_port)}`).join(", ") : "none"}</p>`
        : `<p class="muted">No sidecar.</p>`)).join("") + "</section>").join("");
  }
  async function refresh() {
    try {
      const response = await fetch(document.getElementById("services").dataset.source, {headers: {"Accept": "application/json"}});
      const body = await response.json();
      if (!response.ok) throw new Error(body.error ? body.error.message : response.status);
      document.getElementById("services").innerHTML = render(body.services);
      document.getElementById("problem").innerHTML = "";
      document.getElementById("refreshed").textContent = "Updated " + new Date().toLocaleTimeString() + ".";
    } catch (e) {
      document.getElementById("problem").innerHTML = `<p class="alert bad" role="alert">Could not refresh: ${esc(e.message)}</p>`;
    }
  }
  // the traffic drawing: a box per service (its border its health), an arrow per call with its numbers
  const W = 130, H = 44, DX = 300, DY = 110, PAD = 20, TOP = 80;
  const num = (v, unit) => v === null || v === undefined ? "–" : `${v}${unit}`;
  function drawing(t) {
    const at = {};
    t.services.forEach(s => { at[s.name] = {x: PAD + s.column * DX, y: TOP + s.row * DY}; });
    const width = PAD * 2 + Math.max(...t.services.map(s => s.column), 0) * DX + W;
    const height = TOP + PAD * 3 + Math.max(...t.services.map(s => s.row), 0) * DY + H;
    const edges = t.edges.map(e => {
      const a = at[e.from], b = at[e.to];
      const forward = b.x > a.x;
      const x1 = forward ? a.x + W : a.x + W / 2, y1 = forward ? a.y + H / 2 : a.y + H;
      const x2 = forward ? b.x : b.x + W / 2, y2 = forward ? b.y + H / 2 : b.y;
      // a call that skips a column bows around the boxes between: below when it goes down a row
      const skips = Math.abs(b.x - a.x) > DX;
      const cx = (x1 + x2) / 2;
      const cy = !skips ? (y1 + y2) / 2 : b.y > a.y ? Math.max(y1, y2) + DY * 0.6 : Math.min(y1, y2) - TOP + 10;
      const lx = (x1 + 2 * cx + x2) / 4, ly = (y1 + 2 * cy + y2) / 4 - 6;
      // a split edge: the version's weight, and what the callers sent it
      const label = e.split ? `${num(e.weight, " %")}` + (t.problem ? "" : ` · ${num(e.rps, "/s")}`)
        : t.problem ? "" : `${num(e.rps, "/s")} · ${num(e.errors_pct, "%")} · p99 ${num(e.p99_ms, " ms")}` +
        (e.refused ? ` · ${e.refused} refused` : "");
      return `<g class="edge${e.split ? " split" : ""}${e.errors_pct > 0 || e.refused > 0 ? " failing" : ""}" data-edge="${esc(e.from)}->${esc(e.to)}">
        <path d="M${x1},${y1} Q${cx},${cy} ${x2},${y2}" fill="none" marker-end="url(#arrow)"></path>
        <text x="${lx}" y="${ly}" text-anchor="middle">${esc(label)}</text></g>`;
    }).join("");
    const boxes = t.services.map(s => `<g class="box ${esc(s.status)}" data-box="${esc(s.name)}">
      <rect x="${at[s.name].x}" y="${at[s.name].y}" width="${W}" height="${H}" rx="8"></rect>
      <text x="${at[s.name].x + W / 2}" y="${at[s.name].y + H / 2 + 5}" text-anchor="middle">${esc(s.name)}${t.denied[s.name] ? ` (${t.denied[s.name]} refused)` : ""}</text></g>`).join("");
    return `<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="The services and the calls between them">
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M0,0 L10,5 L0,10 z" fill="#667"></path></marker></defs>${edges}${boxes}</svg>`;
  }
  function table(t) {
    return t.edges.map(e => `<tr data-edge="${esc(e.from)}->${esc(e.to)}"><td>${esc(e.from)}</td><td>${esc(e.to)}` +
      (e.split ? ` (${num(e.weight, " %")} of its requests)` : "") + "</td>" +
      (t.problem ? `<td colspan="4" class="muted">no numbers</td>` : e.split ? `<td>${num(e.rps, "")}</td><td colspan="3" class="muted">counted on the edges into ${esc(e.from)}</td>` :
        `<td>${num(e.rps, "")}</td><td>${num(e.errors_pct, " %")}</td><td>${num(e.p99_ms, " ms")}</td><td>${num(e.refused, "")}</td>`) +
      "</tr>").join("");
  }
  async function refreshTraffic() {
    const box = document.getElementById("traffic");
    if (!box) return;
    try {
      const response = await fetch(box.dataset.source, {headers: {"Accept": "application/json"}});
      const body = await response.json();
      if (!response.ok) throw new Error(body.error ? body.error.message : response.status);
      box.innerHTML = drawing(body);
      document.querySelector("#edges tbody").innerHTML = table(body);
      document.getElementById("traffic-note").innerHTML = body.problem
        ? `<p class="alert bad">${esc(body.problem)}</p>` : "";
    } catch (e) {
      document.getElementById("traffic-note").innerHTML = `<p class="alert bad">Could not refresh the traffic: ${esc(e.message)}</p>`;
    }
  }
  refreshTraffic();
  setInterval(refresh, 3000);
  setInterval(refreshTraffic, 3000);
})();
