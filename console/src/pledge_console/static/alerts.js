// The alerts inbox refreshes itself from its JSON twin (no reload, no inline script: CSP script-src 'self').
"use strict";
(function () {
  const inbox = document.getElementById("inbox");
  if (!inbox) return;
  const source = inbox.dataset.source;
  const csrf = inbox.dataset.csrf;
  const canManage = inbox.dataset.canManage === "true";
  const ackLabel = inbox.dataset.ackLabel;
  const next = inbox.dataset.next;
  const PERIOD_MS = 15000;

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function local(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function row(alert) {
    const tr = document.createElement("tr");
    tr.dataset.alert = alert.id;
    const level = cell("");
    const badge = document.createElement("span");
    badge.className = "badge level-" + alert.level;
    badge.textContent = alert.level;
    level.appendChild(badge);
    tr.appendChild(level);
    tr.appendChild(cell(alert.process));
    tr.appendChild(cell(alert.node || "—"));
    tr.appendChild(cell(alert.department || ""));
    tr.appendChild(cell(local(alert.raised_at)));
    const ticket = cell("");
    const link = document.createElement("a");
    link.href = "/console/tickets/" + encodeURIComponent(alert.ticket_id);
    link.textContent = alert.ticket_id.slice(-8);
    ticket.appendChild(link);
    tr.appendChild(ticket);
    const action = cell("");
    if (canManage && alert.state === "open") {
      const form = document.createElement("form");
      form.method = "post";
      form.action = "/console/alerts/" + encodeURIComponent(alert.id) + "/acknowledge";
      form.className = "inline";
      for (const [name, value] of [["csrf", csrf], ["next", next]]) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        form.appendChild(input);
      }
      const button = document.createElement("button");
      button.type = "submit";
      button.className = "ack";
      button.textContent = ackLabel;
      form.appendChild(button);
      action.appendChild(form);
    }
    tr.appendChild(action);
    return tr;
  }

  function draw(data) {
    const body = document.querySelector("#alert-list tbody");
    body.replaceChildren(...data.alerts.map(row));
    const summary = document.querySelector("#alert-summary tbody");
    summary.replaceChildren(
      ...Object.entries(data.summary).map(([dept, counts]) => {
        const tr = document.createElement("tr");
        tr.appendChild(cell(dept));
        for (const level of data.levels) tr.appendChild(cell(String(counts[level] || 0), "num"));
        return tr;
      })
    );
    const empty = document.getElementById("no-alerts");
    if (empty) empty.hidden = data.alerts.length > 0;
    document.getElementById("updated-at").textContent = local(data.updated_at);
  }

  async function refresh() {
    try {
      const response = await fetch(source, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.status === 401) {
        window.location.assign("/console/sign-in");
        return;
      }
      if (response.ok) draw(await response.json());
    } catch (err) {
      // offline for a moment: the next tick tries again
    }
  }

  inbox.dataset.polling = "true";
  setInterval(refresh, PERIOD_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
})();
