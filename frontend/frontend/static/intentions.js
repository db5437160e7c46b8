// The intentions page: "Try it" posts the form as JSON, its CSRF token in the X-CSRFToken header,
// and shows what the mesh decided.
document.getElementById("try-form").addEventListener("submit", async function (event) {
  event.preventDefault();
  const out = document.getElementById("try-result");
  out.textContent = "Calling…";
  const {csrf_token: token, ...body} = Object.fromEntries(new FormData(event.target));
  try {
    const response = await fetch(event.target.action, {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", "X-CSRFToken": token}});
    const r = await response.json();
    if (!response.ok) { out.className = "alert bad"; out.textContent = r.error.message; return; }
    out.className = "alert " + (r.allowed ? "ok" : "bad");
    out.textContent = (r.allowed ? "Allowed" : "Denied") + `: ${r.method} ${r.path} from ${r.source} to ${r.destination} → ` +
      (r.status === null ? r.body : `HTTP ${r.status}${r.allowed ? "" : " (" + r.body.trim() + ")"}`);
  } catch (e) { out.className = "alert bad"; out.textContent = "The frontend did not answer: " + e.message; }
});
