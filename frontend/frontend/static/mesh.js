// The mesh page: refresh the services from /mesh.json every 3 seconds.
(function () {
  const esc = s => String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const badge = s => `<span class="badge ${esc(s)}">${esc(s)}</span>`;
  const checks = cs => "<ul>" + cs.map(c => `<li>${badge(c.status)} ${esc(c.name)}${c.status !== "passing" && c.output ? ` <span class="muted">— ${esc(c.output)}</span>` : ""}</li>`).join("") + "</ul>";
  function render(services) {
    return services.map(s => `<section class="card service" aria-labelledby="svc-${esc(s.name)}" data-service="${esc(s.name)}">
      <h2 id="svc-${esc(s.name)}">${esc(s.name)} ${badge(s.status)}</h2>` + s.instances.map(i =>
      `<p><strong>${esc(i.id)}</strong> at ${esc(i.address)}:${esc(i.port)} on node ${esc(i.node)}</p>${checks(i.checks)}` +
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
  setInterval(refresh, 3000);
})();
