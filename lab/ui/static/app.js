// lab ui: draws each pushed view (server-sent events from /events). No framework, no build step.
"use strict";
const TONES = {available: "good", pendingAcceptance: "wait", pending: "wait", deleting: "wait",
  rejected: "bad", failed: "bad", expired: "bad", UP: "good", DOWN: "bad", NOLB: "wait", MAINT: "wait"};
const tone = (s) => TONES[s] || TONES[String(s).split(" ")[0]] || "neutral";
const $ = (sel) => document.querySelector(sel);
let graphVersion = -1;

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(tableId, rows, toCells) {
  const body = $(`#${tableId} tbody`);
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.append(...toCells(row));
    return tr;
  }));
}

function titled(text, title) {
  const td = cell(text);
  td.title = title;
  return td;
}

function stateCell(state) {
  const td = cell("");
  const span = document.createElement("span");
  span.className = `state ${tone(state)}`;
  span.textContent = state;
  td.append(span);
  return td;
}

const num = (v, digits = 0) => cell(v === null || v === undefined ? null : Number(v).toFixed(digits), "num");

async function drawGraph(version) {
  const reply = await fetch(`/graph.svg?v=${version}`, {cache: "no-store"});
  if (!reply.ok) throw new Error(`graph.svg: HTTP ${reply.status}`);
  $("#graph").innerHTML = await reply.text();
  graphVersion = version;
}

function markBusyLinks(links) {
  const rate = new Map(links.map((l) => [l.Id, l]));
  for (const edge of document.querySelectorAll("#graph g.edge")) {
    const a = edge.querySelector("a");
    const title = a ? (a.getAttribute("xlink:title") || a.getAttribute("title") || "") : "";
    const link = rate.get(title.split(" ").pop());
    if (!link) continue;
    edge.classList.toggle("busy", (link.PacketsPerSecond || 0) > 0.5);
    edge.dataset.pps = (link.PacketsPerSecond || 0).toFixed(1);
  }
}

async function draw(view) {
  if (view.Error) { $("#conn").textContent = view.Error; $("#conn").className = "conn bad"; }
  if (view.GraphVersion !== graphVersion) await drawGraph(view.GraphVersion);
  fill("endpoints", view.Endpoints || [], (e) => [cell(e.VpcEndpointId), cell(e.Lab.Name), titled(e.Lab.Service, e.ServiceName),
    cell(e.VpcId), stateCell(e.State), cell(e.NetworkInterfaces.map((n) => n.PrivateIpAddress).join(" "))]);
  fill("targets", view.TargetHealth || [], (t) => [cell(t.Node), cell(t.TargetGroup), cell(t.Target),
    stateCell(t.Health), num(t.Connections)]);
  fill("links", view.Links || [], (l) => [cell(l.Name), num(l.PacketsPerSecond, 1), num(l.BytesPerSecond, 0),
    num(l.rx_packets + l.tx_packets), num(l.rx_bytes + l.tx_bytes)]);
  fill("metrics", view.Metrics || [], (m) => [cell(m.Namespace.replace("AWS/PrivateLink", "")), cell(m.VpcEndpointId),
    titled(m.Service.split(".").pop(), m.Service),
    num(m.ActiveConnections), num(m.NewConnections), num(m.BytesProcessed), num(m.PacketsDropped),
    num(m.EndpointsCount)]);
  $("#events").replaceChildren(...(view.Events || []).slice().reverse().map((ev) => {
    const li = document.createElement("li");
    li.textContent = `${ev.EventTime || ""} ${ev.EventId} ${ev.ConnectionEvent || ""} ${ev.VpcEndpointId || ""} ` +
      `${ev.VpcEndpointState || ""}`;
    return li;
  }));
  markBusyLinks(view.Links || []);
  $("#updated").textContent = `updated ${new Date(view.Time * 1000).toLocaleTimeString()}`;
  document.body.dataset.seq = String(Number(document.body.dataset.seq || 0) + 1);
}

function connect() {
  const source = new EventSource("/events");
  let drawing = Promise.resolve();
  source.addEventListener("view", (msg) => {
    const view = JSON.parse(msg.data);
    drawing = drawing.then(() => draw(view)).catch((err) => console.error(err));  // in order, one at a time
  });
  source.onopen = () => { $("#conn").textContent = "live"; $("#conn").className = "conn good"; };
  source.onerror = () => { $("#conn").textContent = "reconnecting…"; $("#conn").className = "conn wait"; };
}

connect();
