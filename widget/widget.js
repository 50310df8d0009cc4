/*
 * salesagent chat widget. Add it to a page with one tag:
 *
 *   <script src="https://HOST/widget.js" data-shop-key="pk_..." async></script>
 *
 * Optional attributes: data-product (product handle in view) and data-sku.
 * A page may also set window.salesagentPage = {product, sku, url, cart}, which
 * wins over the attributes and over the cart kept in localStorage under
 * "salesagent:cart:<shop key>" as [{sku, qty}].
 *
 * The widget speaks the protocol in docs/widget-protocol.md over /ws of the
 * host that served this script, and loads nothing from anywhere else.
 */
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector("script[data-shop-key]");
  if (!script) { return; }
  var shopKey = script.getAttribute("data-shop-key");
  if (!shopKey || window.salesagentWidgetLoaded) { return; }
  window.salesagentWidgetLoaded = true;

  var base = new URL(script.src, location.href);
  var socketURL = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/ws";
  var storeKey = "salesagent:" + shopKey;
  var cartKey = "salesagent:cart:" + shopKey;
  var maxKept = 100;
  var maxText = 2000;
  var maxBackoff = 30000;

  // ---- Saved state: visitor token, last seq, recent messages, unsent outbox.

  function loadState() {
    var empty = { visitor_token: "", last_seq: 0, messages: [], outbox: [] };
    try {
      var saved = JSON.parse(localStorage.getItem(storeKey) || "null");
      if (saved && typeof saved === "object") {
        return {
          visitor_token: typeof saved.visitor_token === "string" ? saved.visitor_token : "",
          last_seq: saved.last_seq > 0 ? saved.last_seq : 0,
          messages: Array.isArray(saved.messages) ? saved.messages : [],
          outbox: Array.isArray(saved.outbox) ? saved.outbox : []
        };
      }
    } catch (e) { /* storage blocked or corrupt: start empty */ }
    return empty;
  }

  function saveState() {
    if (state.messages.length > maxKept) {
      state.messages = state.messages.slice(state.messages.length - maxKept);
    }
    try { localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* storage full or blocked */ }
  }

  var state = loadState();

  // ---- Page context and cart.

  function pageContext() {
    var p = window.salesagentPage || {};
    return {
      product: String(p.product || script.getAttribute("data-product") || "").slice(0, 255),
      sku: String(p.sku || script.getAttribute("data-sku") || "").slice(0, 128),
      url: String(p.url || location.href).slice(0, 2048)
    };
  }

  function cart() {
    var p = window.salesagentPage || {};
    var items = p.cart;
    if (!Array.isArray(items)) {
      try { items = JSON.parse(localStorage.getItem(cartKey) || "[]"); } catch (e) { items = []; }
    }
    var clean = [];
    for (var i = 0; i < items.length && clean.length < 50; i++) {
      var sku = items[i] && items[i].sku, qty = items[i] && parseInt(items[i].qty, 10);
      if (typeof sku === "string" && sku && sku.length <= 128 && qty >= 1 && qty <= 999) {
        clean.push({ sku: sku, qty: qty });
      }
    }
    return clean;
  }

  function newClientID() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = "";
    for (var i = 0; i < 16; i++) { hex += (b[i] + 0x100).toString(16).slice(1); }
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  // safeURL keeps http(s) links, resolving relative ones against this
  // widget's server, and drops every other scheme.
  function safeURL(raw) {
    if (!raw) { return ""; }
    try {
      var u = new URL(raw, base.origin);
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : "";
    } catch (e) { return ""; }
  }

  // ---- DOM.

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  var host = el("div");
  host.id = "salesagent-widget";
  host.style.visibility = "hidden";
  var root = host.attachShadow({ mode: "open" });

  var style = el("link");
  style.rel = "stylesheet";
  style.href = base.origin + "/widget.css";
  style.onload = style.onerror = function () { host.style.visibility = "visible"; };
  root.appendChild(style);

  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "sa-dialog");
  launcher.appendChild(el("span", "launcher-label", "Chat with us"));
  var badge = el("span", "badge");
  badge.hidden = true;
  launcher.appendChild(badge);
  root.appendChild(launcher);

  var dialog = el("div", "dialog");
  dialog.id = "sa-dialog";
  dialog.setAttribute("role", "dialog");
  dialog.setAttribute("aria-modal", "false");
  dialog.setAttribute("aria-labelledby", "sa-title");
  dialog.hidden = true;

  var header = el("header", "head");
  var title = el("h2", "title", "Chat with us");
  title.id = "sa-title";
  var closeButton = el("button", "close");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "Close chat");
  closeButton.textContent = "\u00d7";
  header.appendChild(title);
  header.appendChild(closeButton);
  dialog.appendChild(header);

  var status = el("p", "status");
  status.setAttribute("role", "status");
  dialog.appendChild(status);

  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  log.tabIndex = 0;
  dialog.appendChild(log);

  var form = el("form", "composer");
  var label = el("label", "visually-hidden", "Your message");
  label.htmlFor = "sa-input";
  var input = el("textarea", "input");
  input.id = "sa-input";
  input.rows = 2;
  input.maxLength = maxText;
  input.placeholder = "Ask about sizes, stock, delivery…";
  var send = el("button", "send", "Send");
  send.type = "submit";
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(send);
  dialog.appendChild(form);
  root.appendChild(dialog);

  function mount() { document.body.appendChild(host); }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }

  // ---- Open and close.

  function openDialog() {
    dialog.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    host.classList.add("open");
    badge.hidden = true;
    badge.textContent = "";
    connect();
    input.focus();
    scrollDown();
  }

  function closeDialog() {
    dialog.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    host.classList.remove("open");
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (dialog.hidden) { openDialog(); } else { closeDialog(); }
  });
  closeButton.addEventListener("click", closeDialog);
  dialog.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      e.stopPropagation();
      closeDialog();
    }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    submit();
  });

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function notify() {
    if (!dialog.hidden) { return; }
    var n = (parseInt(badge.textContent, 10) || 0) + 1;
    badge.textContent = String(n);
    badge.hidden = false;
    badge.setAttribute("aria-label", n + " new " + (n === 1 ? "message" : "messages"));
  }

  // ---- Rendering.

  var bySeq = {};      // seq -> element of a stored message
  var byClient = {};   // client_id -> element of a shopper message
  var turns = {};      // turn -> {node, text, cards, extra} while streaming

  var roleNames = { shopper: "You", agent: "Assistant", operator: "Shop staff", system: "Notice" };

  function bubble(role) {
    var node = el("div", "msg " + role);
    node.appendChild(el("span", "visually-hidden", roleNames[role] + ": "));
    var text = el("p", "text");
    node.appendChild(text);
    var cards = el("div", "cards");
    node.appendChild(cards);
    return { node: node, text: text, cards: cards };
  }

  function notice(text, kind) {
    var node = el("p", "notice" + (kind ? " " + kind : ""), text);
    log.appendChild(node);
    scrollDown();
    return node;
  }

  function renderStored(m, turn) {
    if (!m || !(m.seq > 0) || bySeq[m.seq]) { return; }
    if (m.role === "shopper" && m.client_id && byClient[m.client_id]) {
      markSent(m.client_id, m.seq);
      return;
    }
    var streaming = turns[turn || m.reply_to];
    var b;
    if (streaming && m.role === "agent") {
      b = streaming;
      delete turns[turn || m.reply_to];
      b.cards.textContent = "";
    } else {
      b = bubble(m.role);
      if (m.role === "operator" && m.author) {
        // A person from the shop signs each reply with their name.
        b.node.insertBefore(el("span", "author", m.author + " · shop staff"), b.text);
      }
    }
    placeBySeq(b.node, m.seq);
    b.node.classList.remove("streaming");
    b.text.textContent = m.text || "";
    (m.cards || []).forEach(function (c) { b.cards.appendChild(renderCard(c)); });
    if (m.citations && m.citations.length) {
      var titles = [];
      m.citations.forEach(function (c) { if (c.title && titles.indexOf(c.title) < 0) { titles.push(c.title); } });
      if (titles.length) { b.node.appendChild(el("p", "sources", "Sources: " + titles.join("; "))); }
    }
    b.node.dataset.seq = m.seq;
    bySeq[m.seq] = b.node;
    if (m.role === "shopper" && m.client_id) { byClient[m.client_id] = b.node; }
    if (m.role !== "shopper") { notify(); }
    busy(false);
    scrollDown();
  }

  function renderPending(item) {
    if (byClient[item.client_id]) { return; }
    var b = bubble("shopper");
    b.text.textContent = item.text;
    b.node.classList.add("pending");
    b.node.appendChild(el("span", "state", "Sending…"));
    log.appendChild(b.node);
    byClient[item.client_id] = b.node;
    scrollDown();
  }

  // placeBySeq puts a stored message's node in the log in seq order: after
  // the stored messages with a lower seq, and before any with a higher seq
  // and before the shopper's messages still waiting to be sent. Messages
  // replayed after a reconnect and a message acknowledged late then show
  // in the order the conversation has.
  function placeBySeq(node, seq) {
    var children = log.children;
    for (var i = 0; i < children.length; i++) {
      var c = children[i];
      if (c === node || !c.classList.contains("msg")) { continue; }
      var s = Number(c.dataset.seq || 0);
      var waiting = !s && (c.classList.contains("pending") || c.classList.contains("failed"));
      if (s > seq || waiting) {
        log.insertBefore(node, c);
        return;
      }
    }
    log.appendChild(node);
  }

  function markSent(clientID, seq) {
    var node = byClient[clientID];
    if (!node) { return; }
    node.classList.remove("pending", "failed");
    var st = node.querySelector(".state");
    if (st) { st.remove(); }
    if (seq) {
      node.dataset.seq = seq;
      bySeq[seq] = node;
      placeBySeq(node, seq);
    }
  }

  function markFailed(clientID, reason) {
    var node = byClient[clientID];
    if (!node) { return; }
    node.classList.remove("pending");
    node.classList.add("failed");
    var st = node.querySelector(".state") || node.appendChild(el("span", "state"));
    st.textContent = reason;
  }

  // markNotSent shows that the server did not store a message, and offers
  // to put its text back in the input to change and send it again.
  function markNotSent(clientID, reason, text) {
    markFailed(clientID, "Not sent: " + reason);
    var node = byClient[clientID];
    if (!node || node.querySelector(".edit")) { return; }
    var edit = el("button", "edit", "Edit and send again");
    edit.type = "button";
    edit.addEventListener("click", function () {
      node.remove();
      delete byClient[clientID];
      input.value = text;
      input.focus();
    });
    node.appendChild(edit);
  }

  function markSending(clientID) {
    var node = byClient[clientID];
    if (!node) { return; }
    node.classList.remove("failed");
    node.classList.add("pending");
    var st = node.querySelector(".state");
    if (st) { st.textContent = "Sending…"; }
  }

  function streamingTurn(turn) {
    var b = turns[turn];
    if (!b) {
      b = bubble("agent");
      b.node.classList.add("streaming");
      turns[turn] = b;
      log.appendChild(b.node);
      busy(true);
    }
    return b;
  }

  // busy suppresses screen reader announcements while a reply streams in,
  // so the reply is read once, whole.
  function busy(on) { log.setAttribute("aria-busy", on ? "true" : "false"); }

  function renderCard(c) {
    var box = el("div", "card card-" + (c.type || "other"));
    if (c.type === "size_guide" && c.table) {
      var table = el("table");
      if (c.title) { table.appendChild(el("caption", null, c.title)); }
      var thead = el("thead"), hr = el("tr");
      (c.table.columns || []).forEach(function (col) {
        var th = el("th", null, col);
        th.scope = "col";
        hr.appendChild(th);
      });
      thead.appendChild(hr);
      table.appendChild(thead);
      var tbody = el("tbody");
      (c.table.rows || []).forEach(function (row) {
        var tr = el("tr");
        row.forEach(function (cell, i) {
          var td = el(i === 0 ? "th" : "td", null, cell);
          if (i === 0) { td.scope = "row"; }
          tr.appendChild(td);
        });
        tbody.appendChild(tr);
      });
      table.appendChild(tbody);
      var scroller = el("div", "table-scroll");
      scroller.appendChild(table);
      box.appendChild(scroller);
      if (c.table.notes) { box.appendChild(el("p", "card-notes", c.table.notes)); }
      if (c.text) { box.appendChild(el("p", "card-text", c.text)); }
      return box;
    }
    if (c.title) { box.appendChild(el("h3", "card-title", c.title)); }
    var fields = Array.isArray(c.fields) ? c.fields : [];
    if (c.type === "discount") { fields = renderDiscountTerms(box, fields); }
    if (c.type === "products" && c.products) {
      var list = el("ul", "tiles");
      c.products.forEach(function (p) {
        var li = el("li", "tile");
        var href = safeURL(p.url);
        var link = el(href ? "a" : "div", "tile-link");
        if (href) { link.href = href; link.target = "_top"; }
        var img = safeURL(p.image_url);
        if (img) {
          var image = el("img");
          image.src = img;
          image.alt = "";
          image.loading = "lazy";
          link.appendChild(image);
        }
        link.appendChild(el("span", "tile-title", p.title));
        link.appendChild(el("span", "tile-price", p.price));
        link.appendChild(el("span", p.in_stock ? "tile-stock ok" : "tile-stock out", p.in_stock ? "In stock" : "Out of stock"));
        li.appendChild(link);
        list.appendChild(li);
      });
      box.appendChild(list);
    }
    // A handoff card repeats the reply's own words, so only its title shows.
    if (c.text && c.type !== "handoff") { box.appendChild(el("p", "card-text", c.text)); }
    if (fields.length) {
      var dl = el("dl", "fields");
      fields.forEach(function (f) {
        dl.appendChild(el("dt", null, f.label));
        dl.appendChild(el("dd", null, f.value));
      });
      box.appendChild(dl);
    }
    var url = safeURL(c.url);
    if (url) {
      var a = el("a", "card-link", c.type === "cart" ? "Open your saved cart" : "Open link");
      a.href = url;
      a.target = "_top";
      box.appendChild(a);
    }
    return box;
  }

  // renderDiscountTerms shows a discount card's code and percentage, which
  // the apply_discount tool sends as the fields labelled "Code" and
  // "Discount", and returns the fields left to list. Without a code field
  // it shows nothing and returns every field.
  function renderDiscountTerms(box, fields) {
    var code = null, percent = null, rest = [];
    fields.forEach(function (f) {
      var label = String(f.label || "").toLowerCase();
      if (!code && label === "code") {
        code = f;
      } else if (!percent && label === "discount") {
        percent = f;
      } else {
        rest.push(f);
      }
    });
    if (!code) { return fields; }
    var line = el("p", "discount-code");
    line.appendChild(el("span", "visually-hidden", "Code: "));
    line.appendChild(el("code", null, code.value));
    box.appendChild(line);
    if (percent) { box.appendChild(el("p", "discount-percent", percent.value + " off")); }
    return rest;
  }

  // ---- Connection.

  var ws = null;
  var ready = false;       // welcome received on the current socket
  var stopped = false;     // a fatal error ended the session
  var attempt = 0;
  var retryTimer = null;
  // Messages go out one at a time, in order: inFlight is the client_id of
  // the one sent and not yet acknowledged. One unacknowledged message at a
  // time keeps the order, keeps the socket under the server's frame limit,
  // and identifies the message that an error without a client_id is about.
  var inFlight = null;
  var resendTimer = null;  // waits out a rate_limited error
  var rateNotice = null;   // the log's notice of the latest rate_limited error

  function setStatus(text) { status.textContent = text; }

  function connect() {
    if (ws || stopped) { return; }
    clearTimeout(retryTimer);
    retryTimer = null;
    setStatus("Connecting…");
    var sock;
    try { sock = new WebSocket(socketURL); } catch (e) { scheduleReconnect(); return; }
    ws = sock;
    ready = false;
    sock.onopen = function () {
      sendFrame({
        type: "hello",
        shop_key: shopKey,
        visitor_token: state.visitor_token || undefined,
        last_seq: state.last_seq || undefined,
        page: pageContext(),
        cart: cart()
      });
    };
    sock.onmessage = function (e) {
      var frame;
      try { frame = JSON.parse(e.data); } catch (err) { return; }
      handle(frame);
    };
    sock.onclose = function (e) {
      if (ws !== sock) { return; }
      ws = null;
      ready = false;
      inFlight = null;
      busy(false);
      if (!stopped) {
        setStatus(e.code === 1001 ? "The chat server is restarting. Reconnecting…" : "Connection lost. Reconnecting…");
        scheduleReconnect();
      }
    };
  }

  function scheduleReconnect() {
    if (retryTimer || stopped) { return; }
    var delay = Math.min(maxBackoff, 1000 * Math.pow(2, attempt));
    delay = delay / 2 + Math.random() * delay / 2;
    attempt++;
    retryTimer = setTimeout(function () { retryTimer = null; connect(); }, delay);
  }

  window.addEventListener("online", function () {
    if (!ws && !stopped) { attempt = 0; connect(); }
  });

  function sendFrame(frame) {
    if (!ws || ws.readyState !== 1) { return false; }
    ws.send(JSON.stringify(frame));
    return true;
  }

  function handle(f) {
    switch (f.type) {
      case "welcome": return onWelcome(f);
      case "ack": return onAck(f);
      case "delta":
        var b = streamingTurn(f.turn);
        b.text.textContent += f.text;
        scrollDown();
        return;
      case "replace":
        // The agent corrected the reply it streamed, so the new text takes
        // the place of every delta of the turn so far.
        var r = streamingTurn(f.turn);
        r.text.textContent = f.text || "";
        scrollDown();
        return;
      case "card":
        streamingTurn(f.turn).cards.appendChild(renderCard(f.card || {}));
        scrollDown();
        return;
      case "tool":
        var t = streamingTurn(f.turn);
        if (f.summary) { t.cards.appendChild(el("p", "tool" + (f.ok ? "" : " failed"), f.summary)); }
        return;
      case "handoff":
        notice("A member of the shop's team will take over this conversation." + (f.reason ? " (" + f.reason + ")" : ""), "handoff");
        return;
      case "held":
        // A person from the shop has the conversation, so no agent reply
        // comes, and text streamed before they took over is withdrawn.
        if (turns[f.turn]) {
          log.removeChild(turns[f.turn].node);
          delete turns[f.turn];
        }
        busy(false);
        return;
      case "message":
        keep(f.message);
        renderStored(f.message, f.turn);
        return;
      case "error": return onError(f);
    }
  }

  function onWelcome(f) {
    ready = true;
    attempt = 0;
    setStatus("");
    if (f.shop_name) { title.textContent = "Chat with " + f.shop_name; }
    if (f.reset) {
      // The server has no record of what this browser kept: start over,
      // keeping only the messages still waiting to be sent.
      state.messages = [];
      state.last_seq = 0;
      bySeq = {};
      byClient = {};
      turns = {};
      log.textContent = "";
      state.outbox.forEach(renderPending);
    }
    state.visitor_token = f.visitor_token;
    (f.history || []).forEach(function (m) { keep(m); renderStored(m, 0); });
    state.last_seq = Math.max(state.last_seq, f.last_seq || 0);
    saveState();
    inFlight = null;
    sendNext();
  }

  function onAck(f) {
    state.outbox = state.outbox.filter(function (o) {
      if (o.client_id !== f.client_id) { return true; }
      keep({ seq: f.seq, role: "shopper", text: o.text, client_id: o.client_id });
      return false;
    });
    markSent(f.client_id, f.seq);
    state.last_seq = Math.max(state.last_seq, f.seq);
    saveState();
    if (f.client_id === inFlight) {
      inFlight = null;
      sendNext();
    }
  }

  function onError(f) {
    if (f.fatal) {
      stopped = true;
      setStatus(f.message);
      state.outbox.forEach(function (o) { markFailed(o.client_id, "Not sent"); });
      notice(f.message, "error");
      return;
    }
    if (f.client_id && f.code === "rate_limited") {
      if (f.client_id === inFlight) { inFlight = null; }
      markFailed(f.client_id, "Waiting to send…");
      // One notice stands for a run of rate_limited errors.
      if (rateNotice && rateNotice === log.lastChild) {
        rateNotice.textContent = f.message;
      } else {
        rateNotice = notice(f.message, "error");
      }
      clearTimeout(resendTimer);
      resendTimer = setTimeout(function () { resendTimer = null; sendNext(); }, Math.max(1000, f.retry_after_ms || 2000));
      return;
    }
    // An error without client_id or turn, such as too_large for a frame
    // whose client_id the server could not read, is about the message in
    // flight, because only one is.
    var failedID = f.client_id || (!f.turn ? inFlight : null);
    if (failedID && !f.turn) {
      // The server did not store the message, so it leaves the outbox.
      var text = "";
      state.outbox = state.outbox.filter(function (o) {
        if (o.client_id !== failedID) { return true; }
        text = o.text;
        return false;
      });
      saveState();
      markNotSent(failedID, f.message, text);
      if (failedID === inFlight) {
        inFlight = null;
        sendNext();
      }
      return;
    }
    if (f.turn && turns[f.turn]) {
      turns[f.turn].node.classList.remove("streaming");
      delete turns[f.turn];
    }
    busy(false);
    notice(f.message, "error");
  }

  // keep records a stored message in the saved state.
  function keep(m) {
    if (!m || !(m.seq > 0)) { return; }
    for (var i = state.messages.length - 1; i >= 0; i--) {
      if (state.messages[i].seq === m.seq) { return; }
    }
    state.messages.push({
      seq: m.seq, role: m.role, text: m.text, cards: m.cards, citations: m.citations,
      client_id: m.client_id, reply_to: m.reply_to
    });
    state.messages.sort(function (a, b) { return a.seq - b.seq; });
    state.last_seq = Math.max(state.last_seq, m.seq);
    saveState();
  }

  // sendNext sends the oldest message of the outbox unless one is in
  // flight or a rate_limited error asked to wait.
  function sendNext() {
    if (!ready || inFlight || resendTimer || !state.outbox.length) { return; }
    var o = state.outbox[0];
    markSending(o.client_id);
    if (sendFrame({ type: "message", client_id: o.client_id, text: o.text, page: pageContext(), cart: cart() })) {
      inFlight = o.client_id;
    }
  }

  function submit() {
    var text = input.value.trim();
    if (!text) {
      setStatus("Type a message first.");
      input.focus();
      return;
    }
    if (text.length > maxText) {
      setStatus("Your message is too long: keep it under " + maxText + " characters.");
      return;
    }
    var item = { client_id: newClientID(), text: text };
    state.outbox.push(item);
    saveState();
    renderPending(item);
    input.value = "";
    setStatus(ready ? "" : "Connecting… your message will be sent when the chat is back.");
    if (ready) {
      sendNext();
    } else {
      connect();
    }
  }

  // ---- Start: show what this browser kept, and reconnect a returning
  // visitor at once so operator replies arrive while the dialog is closed.

  state.messages.forEach(function (m) { renderStored(m, 0); });
  badge.hidden = true;
  badge.textContent = "";
  state.outbox.forEach(renderPending);
  if (state.visitor_token) { connect(); }
})();
