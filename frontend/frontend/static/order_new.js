// The order form: "Add another product" adds a row. Progressive enhancement: without JavaScript the
// form simply has a fixed number of rows.
(function () {
  const add = document.getElementById("add-row");
  const rows = document.getElementById("item-rows");
  add.hidden = false;
  add.addEventListener("click", function () {
    const last = rows.querySelector("[data-row]:last-of-type");
    const row = last.cloneNode(true);
    const n = rows.querySelectorAll("[data-row]").length + 1;
    row.querySelectorAll(".field-error").forEach(e => e.remove());
    row.querySelectorAll("select, input").forEach(el => {
      const base = el.name;
      el.id = base + "-" + n;
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
      el.value = base === "quantity" ? "1" : "";
    });
    row.querySelectorAll("label").forEach(l => {
      const base = l.htmlFor.replace(/-\d+$/, "");
      l.htmlFor = base + "-" + n;
      l.textContent = (base === "quantity" ? "Quantity " : "Product ") + n;
    });
    rows.appendChild(row);
    row.querySelector("select").focus();
  });
})();
