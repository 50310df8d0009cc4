// The salesagent operator console: sign in, watch the queue, take a
// conversation over from the agent, reply, write internal notes, hand the
// conversation back and resolve it. It talks to /console/api/ and listens
// to /console/api/events, a stream of server-sent events, so the queue and
// the open conversation change without a reload. Everything the server
// sends is shown as text, never parsed as HTML.
(function () {
  "use strict";

  var api = "/console/api";
  var state = { me: null, csrf: "", current: 0, detail: null, events: null };

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // request calls the API and resolves with the decoded body, or rejects
  // with the server's error message.
  function request(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: {} };
    if (method !== "GET") { opts.headers["X-CSRF-Token"] = state.csrf; }
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(api + path, opts).then(function (resp) {
      if (resp.status === 204) { return {}; }
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (resp.ok) { return data; }
        if (resp.status === 401 && path !== "/login") { showLogin(); }
        var msg = (data && data.error && data.error.message) || ("Request failed with status " + resp.status);
        throw new Error(msg);
      });
    });
  }

  // --- Signing in and out ---

  function showLogin() {
    if (state.events) { state.events.close(); state.events = null; }
    state.me = null;
    $("desk").hidden = true;
    $("who").hidden = true;
    $("login-view").hidden = false;
    var params = new URLSearchParams(location.search);
    var shop = params.get("shop") || localStorage.getItem("salesagent-console-shop") || "";
    if (!$("login-shop").value) { $("login-shop").value = shop; }
    (shop ? $("login-email") : $("login-shop")).focus();
  }

  function signedIn(session) {
    state.me = session.operator;
    state.csrf = session.csrf_token;
    $("shop-name").textContent = "· " + session.shop.name;
    $("operator-name").textContent = session.operator.name + " (" + session.operator.role + ")";
    $("open-operators").hidden = session.operator.role !== "admin";
    $("login-view").hidden = true;
    $("who").hidden = false;
    $("desk").hidden = false;
    listen();
    route();
  }

  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("login-error").textContent = "";
    var shop = $("login-shop").value.trim();
    request("POST", "/login", {
      shop: shop, email: $("login-email").value.trim(), password: $("login-password").value
    }).then(function (session) {
      localStorage.setItem("salesagent-console-shop", shop);
      $("login-password").value = "";
      signedIn(session);
    }).catch(function (err) { $("login-error").textContent = err.message; });
  });

  $("logout").addEventListener("click", function () {
    request("POST", "/logout").then(showLogin, showLogin);
  });

  // --- Live updates ---

  var queueTimer = 0;
  function refreshQueueSoon() {
    if (queueTimer) { return; }
    queueTimer = setTimeout(function () { queueTimer = 0; loadQueue(); }, 150);
  }

  function listen() {
    if (state.events) { state.events.close(); }
    var source = new EventSource(api + "/events");
    state.events = source;
    setLive("Connecting…", false);
    // resync comes first on every (re)connection and whenever the server
    // dropped notifications: reload everything shown.
    source.addEventListener("resync", function () {
      setLive("Live", true);
      loadQueue();
      if (state.current) { loadConversation(state.current); }
    });
    source.addEventListener("message", function (e) {
      var data = JSON.parse(e.data);
      // Every turn of every chat is announced; only the queue's own
      // conversations change what the queue shows.
      if (queued[data.conversation_id]) { refreshQueueSoon(); }
      if (data.conversation_id === state.current && (!state.detail || data.seq > lastSeq())) {
        loadConversation(state.current);
      }
    });
    source.addEventListener("conversation", function (e) {
      var data = JSON.parse(e.data);
      refreshQueueSoon();
      if (data.conversation_id === state.current) { loadConversation(state.current); }
    });
    source.addEventListener("open", function () { retryDelay = 1000; });
    source.onerror = function () {
      setLive("Reconnecting…", false);
      if (source.readyState !== EventSource.CLOSED) { return; }
      // The browser gave up, as on a 401 or a proxy's 502. A 401 shows the
      // sign-in form (request does that); anything else retries, later
      // each time.
      var delay = retryDelay;
      retryDelay = Math.min(retryDelay * 2, 30000);
      request("GET", "/me").then(function () { retry(delay); }, function () {
        if (state.me) { retry(delay); }
      });
    };
  }

  var retryDelay = 1000;
  function retry(delay) {
    setTimeout(function () { if (state.me && state.events && state.events.readyState === EventSource.CLOSED) { listen(); } }, delay);
  }

  function setLive(text, ok) {
    var node = $("live");
    node.textContent = text;
    node.classList.toggle("ok", ok);
  }

  // --- Queue ---

  function waiting(seconds) {
    if (seconds < 60) { return seconds + " s"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + " min"; }
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
  }

  function loadQueue() {
    return request("GET", "/queue").then(renderQueue).catch(function (err) {
      $("queue-empty").hidden = false;
      $("queue-empty").textContent = err.message;
    });
  }

  var queued = {};
  var lastQueue = { conversations: [] };
  var loadedAt = Date.now();

  // Waiting times count on between loads.
  setInterval(function () { if (state.me) { renderQueue(lastQueue, true); } }, 15000);

  function renderQueue(data, tick) {
    if (!tick) { lastQueue = data; loadedAt = Date.now(); }
    var elapsed = Math.floor((Date.now() - loadedAt) / 1000);
    queued = {};

    var list = $("queue-list");
    clear(list);
    var items = data.conversations || [];
    var waitingCount = items.filter(function (item) { return item.status === "escalated"; }).length;
    // The count in the tab's title shows waiting shoppers from other tabs.
    document.title = (waitingCount ? "(" + waitingCount + ") " : "") + "salesagent console";
    $("queue-empty").hidden = items.length > 0;
    $("queue-empty").textContent = "Nobody is waiting for a person.";

    items.forEach(function (item) {
      queued[item.id] = true;
      var li = el("li", "queue-item" + (item.id === state.current ? " current" : ""));
      li.dataset.conversation = item.id;
      var link = el("a");
      link.href = "#conversation/" + item.id;
      var shopper = (item.customer && item.customer.name) || "Shopper";
      link.appendChild(el("strong", null, shopper + " · #" + item.id));
      link.appendChild(el("span", "channel", item.channel));
      var waitText = item.status === "operator"
        ? "with " + (item.owner ? item.owner.name : "an operator")
        : "waiting " + waiting(item.waiting_seconds + elapsed);
      link.appendChild(el("span", "wait " + item.status, waitText));
      if (item.reason) { link.appendChild(el("span", "reason", item.reason)); }
      if (item.summary) { link.appendChild(el("span", "summary", item.summary)); }
      if (item.last_message) { link.appendChild(el("span", "last", item.last_message.text)); }
      li.appendChild(link);
      list.appendChild(li);
    });
  }

  // --- Conversation ---

  function route() {
    var m = /^#conversation\/(\d+)$/.exec(location.hash);
    state.current = m ? Number(m[1]) : 0;
    state.detail = null;
    // Nothing of the previous conversation stays on screen, so no action
    // can go to a conversation other than the one shown.
    $("conversation-view").hidden = true;
    $("context").hidden = true;
    $("conversation-empty").hidden = false;
    $("conversation-empty").textContent = state.current ? "Loading conversation #" + state.current + "…" : "Choose a conversation from the queue.";
    $("action-error").textContent = "";
    $("draft-hint").hidden = true;
    document.querySelectorAll(".queue-item").forEach(function (li) {
      li.classList.toggle("current", Number(li.dataset.conversation) === state.current);
    });
    if (state.current) { loadConversation(state.current); }
  }
  window.addEventListener("hashchange", function () { if (state.me) { route(); } });

  function lastSeq() {
    var msgs = (state.detail && state.detail.messages) || [];
    return msgs.length ? msgs[msgs.length - 1].seq : 0;
  }

  var loading = {};
  function loadConversation(id) {
    // One load at a time per conversation; a change during it loads again.
    if (loading[id]) { loading[id] = "again"; return; }
    loading[id] = true;
    request("GET", "/conversations/" + id).then(function (detail) {
      if (id === state.current) { renderConversation(detail); }
    }).catch(function (err) {
      if (id === state.current && !state.detail) { $("conversation-empty").textContent = err.message; }
      else if (id === state.current) { $("action-error").textContent = err.message; }
    }).then(function () {
      var again = loading[id] === "again";
      delete loading[id];
      if (again) { loadConversation(id); }
    });
  }

  var roleNames = { shopper: "Shopper", agent: "Agent", operator: "Operator", system: "Notice" };

  function renderConversation(detail) {
    state.detail = detail;
    $("conversation-empty").hidden = true;
    $("conversation-view").hidden = false;
    $("context").hidden = false;
    var conv = detail.conversation;
    var shopper = (detail.customer && detail.customer.name) || "Shopper";
    $("conversation-title").textContent = shopper + " · " + conv.channel + " · #" + conv.id;
    var mine = conv.owner && state.me && conv.owner.id === state.me.id;
    var admin = state.me && state.me.role === "admin";
    var statusText = {
      escalated: "Waiting for a person", operator: conv.owner ? "Held by " + conv.owner.name : "Held",
      open: "The agent handles this chat", resolved: "Resolved"
    }[conv.status] || conv.status;
    $("conversation-status").textContent = statusText;
    $("conversation-status").className = "status " + conv.status;
    $("claim").hidden = conv.status === "operator";
    $("handback").hidden = !(conv.status === "operator" && (mine || admin));
    $("resolve").hidden = conv.status === "resolved" || (conv.status === "operator" && !mine && !admin);
    $("send-reply").disabled = !mine;
    $("send-reply").title = mine ? "" : "Take the conversation over to reply";
    // Say why replying is off: the buttons alone only show it greyed out.
    var hint = "";
    if (!mine && conv.status === "operator" && conv.owner) {
      hint = admin ? conv.owner.name + " holds this chat. Take it over to reply to the shopper." :
        conv.owner.name + " holds this chat, so only " + conv.owner.name + " or an admin can reply to the shopper. Internal notes still work.";
    } else if (!mine && conv.status !== "resolved") {
      hint = "Take the conversation over to reply to the shopper.";
    }
    $("reply-hint").textContent = hint;
    $("reply-hint").hidden = hint === "";

    var list = $("messages");
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    clear(list);
    (detail.messages || []).forEach(function (m) {
      var li = el("li", "msg " + m.role + (m.internal ? " note" : ""));
      li.dataset.seq = m.seq;
      var label = m.internal ? "Internal note" : roleNames[m.role] || m.role;
      if (m.author) { label += " · " + m.author; }
      li.appendChild(el("span", "who", label));
      li.appendChild(el("p", "text", m.text));
      (m.cards || []).forEach(function (c) { li.appendChild(el("span", "card", cardText(c))); });
      li.appendChild(el("time", "when", new Date(m.created_at).toLocaleTimeString()));
      list.appendChild(li);
    });
    if (atBottom) { list.scrollTop = list.scrollHeight; }

    renderContext(detail);
  }

  function cardText(c) {
    switch (c.type) {
      case "products": return "Products: " + (c.products || []).map(function (p) { return p.title; }).join(", ");
      case "size_guide": return "Size guide" + (c.title ? ": " + c.title : "");
      case "cart": return "Saved cart" + (c.url ? " " + c.url : "");
      case "handoff": return "Asked for a person";
      default: return (c.type || "card") + (c.title ? ": " + c.title : "");
    }
  }

  function renderContext(detail) {
    var dl = $("customer");
    clear(dl);
    var c = detail.customer;
    function row(k, v) {
      if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) { return; }
      dl.appendChild(el("dt", null, k));
      dl.appendChild(el("dd", null, Array.isArray(v) ? v.join(", ") : v));
    }
    if (!c) {
      row("Who", "Not identified");
    } else {
      row("Name", c.name);
      row("Email", c.email);
      row("Phone", c.phone);
      row("Asks about", c.top_needs);
      row("Preferred size", c.preferred_size);
      row("Carts saved", c.carts_saved);
      row("Purchases", c.purchases);
      row("Handoffs", c.escalations);
    }

    var cart = $("cart");
    clear(cart);
    var items = (detail.cart && detail.cart.items) || [];
    if (!items.length) { cart.appendChild(el("li", "muted", "No cart saved")); }
    items.forEach(function (it) {
      cart.appendChild(el("li", null, it.qty + " × " + it.sku));
    });

    var events = $("events");
    clear(events);
    (detail.events || []).forEach(function (e) {
      events.appendChild(el("li", null, eventText(e) + " · " + new Date(e.created_at).toLocaleTimeString()));
    });
    if (!(detail.events || []).length) { events.appendChild(el("li", "muted", "None yet")); }
  }

  // eventText names an outcome with its detail, such as the need or tool.
  function eventText(e) {
    var d = e.data || {};
    var text = e.type.replace(/_/g, " ");
    var detail = d.need || d.tool || d.reason || "";
    return detail ? text + ": " + detail : text;
  }

  function act(path, body) {
    $("action-error").textContent = "";
    var id = state.current;
    return request("POST", "/conversations/" + id + path, body).then(function (data) {
      loadConversation(id);
      refreshQueueSoon();
      return data;
    }).catch(function (err) {
      $("action-error").textContent = err.message;
      throw err;
    });
  }

  $("claim").addEventListener("click", function () { act("/claim").catch(function () {}); });
  $("handback").addEventListener("click", function () {
    // The agent replies to a shopper message left without a reply. When
    // that cannot start, the operator is shown a request to reply.
    act("/handback").then(function (data) {
      if (data && data.resume === "failed") {
        $("action-error").textContent = "The agent could not start a reply to the shopper's last message. Please answer it yourself.";
      }
    }).catch(function () {});
  });
  $("resolve").addEventListener("click", function () { act("/resolve").catch(function () {}); });

  function send(path) {
    var box = $("composer-text");
    var text = box.value.trim();
    if (!text) { box.focus(); return; }
    act(path, { text: text }).then(function () { box.value = ""; $("draft-hint").hidden = true; box.focus(); }, function () {});
  }
  $("composer").addEventListener("submit", function (e) { e.preventDefault(); send("/reply"); });
  $("suggest").addEventListener("click", function () {
    var box = $("composer-text");
    if (box.value.trim() && !confirm("Replace what you wrote with the agent's suggestion?")) { return; }
    var button = $("suggest");
    button.disabled = true;
    button.textContent = "Writing…";
    $("action-error").textContent = "";
    request("POST", "/conversations/" + state.current + "/draft").then(function (draft) {
      box.value = draft.text;
      $("draft-hint").hidden = false;
      // The hint takes room from the message list; keep its end in view.
      $("messages").scrollTop = $("messages").scrollHeight;
      box.focus();
    }).catch(function (err) {
      $("action-error").textContent = err.message;
    }).then(function () {
      button.disabled = false;
      button.textContent = "Suggest a reply";
    });
  });
  $("add-note").addEventListener("click", function () { send("/note"); });
  $("composer-text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !$("send-reply").disabled) { e.preventDefault(); send("/reply"); }
  });

  // --- Operators (admins) ---

  function loadOperators() {
    return request("GET", "/operators").then(function (data) {
      var list = $("operators-list");
      clear(list);
      (data.operators || []).forEach(function (op) {
        var li = el("li", null, op.name + " <" + op.email + "> · " + op.role + " ");
        if (!state.me || op.id !== state.me.id) {
          var remove = el("button", "secondary", "Remove");
          remove.type = "button";
          remove.addEventListener("click", function () {
            if (!confirm("Remove " + op.name + "? Conversations they hold go back to the queue.")) { return; }
            $("operator-error").textContent = "";
            request("DELETE", "/operators/" + op.id).then(loadOperators).catch(function (err) {
              $("operator-error").textContent = err.message;
            });
          });
          li.appendChild(remove);
        }
        list.appendChild(li);
      });
    }).catch(function (err) { $("operator-error").textContent = err.message; });
  }

  $("open-operators").addEventListener("click", function () {
    $("operator-error").textContent = "";
    loadOperators();
    $("operators-dialog").showModal();
  });
  $("close-operators").addEventListener("click", function () { $("operators-dialog").close(); });
  $("operator-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target;
    $("operator-error").textContent = "";
    request("POST", "/operators", {
      name: field(f, "name").trim(), email: field(f, "email").trim(), role: field(f, "role"), password: field(f, "password")
    }).then(function () { f.reset(); loadOperators(); }).catch(function (err) {
      $("operator-error").textContent = err.message;
    });
  });

  // field reads a form control by name; form.name would be the form's own
  // name attribute.
  function field(form, name) { return form.elements.namedItem(name).value; }

  // --- Start ---

  request("GET", "/me").then(signedIn).catch(showLogin);
})();
