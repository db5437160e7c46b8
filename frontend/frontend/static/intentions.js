// The intentions page: "Try it" posts the form as JSON, its CSRF token in the X-CSRFToken header
// (the session's sign-in is what authorises it), and shows what the mesh decided, or why the
// frontend or Consul refused: a sign-in that ran out, or a token that may not act as the source.
const tryForm = document.getElementById("try-form");  // only there for a signed-in operator
if (tryForm) tryForm.addEventListener("submit", async function (event) {
  event.preventDefault();
  const out = document.getElementById("try-result");
  out.className = "";
  out.textContent = "Calling…";
  const {csrf_token: token, ...body} = Object.fromEntries(new FormData(event.target));
  try {
    const response = await fetch(event.target.action, {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", "X-CSRFToken": token}});
    const r = await response.json();
    if (!response.ok) {
      out.className = "alert bad";
      out.textContent = (response.status === 403 ? "Refused: " : "") + r.error.message + " ";
      if (response.status === 401) {
        const link = document.createElement("a");
        link.href = tryForm.dataset.login;
        link.textContent = "Sign in again.";
        out.append(link);
      }
      return;
    }
    out.className = "alert " + (r.allowed ? "ok" : "bad");
    out.textContent = (r.allowed ? "Allowed" : "Denied") + `: ${r.method} ${r.path} from ${r.source} to ${r.destination} → ` +
      (r.status === null ? r.body : `HTTP ${r.status}${r.allowed ? "" : " (" + r.body.trim() + ")"}`);
  } catch (e) { out.className = "alert bad"; out.textContent = "The frontend did not answer: " + e.message; }
});
