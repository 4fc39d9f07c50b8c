// The admin token of the console's actions: typed once per tab (kept in sessionStorage),
// sent as `Authorization: Bearer TOKEN`, exactly as the shop's admin API wants it.
(function () {
  "use strict";
  const KEY = "faultyard-admin-token";

  function bindField() {
    const field = document.getElementById("admin-token");
    if (!field) return;
    field.value = sessionStorage.getItem(KEY) || "";
    field.addEventListener("change", () => sessionStorage.setItem(KEY, field.value.trim()));
  }

  function token() {
    const field = document.getElementById("admin-token");
    const typed = field ? field.value.trim() : "";
    if (typed) sessionStorage.setItem(KEY, typed);
    return typed || sessionStorage.getItem(KEY) || "";
  }

  // POST JSON with the token; resolves to the answer's JSON, rejects with the API's error text.
  async function post(url, body) {
    const answer = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token()}` },
      body: JSON.stringify(body || {}),
    });
    const data = await answer.json().catch(() => ({ error: answer.statusText }));
    if (!answer.ok) throw new Error(data.error || answer.statusText);
    return data;
  }

  window.faultyardAdmin = { token, post, bindField };
  bindField();
})();
