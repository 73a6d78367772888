/* The Hallmark editor: records every change to the text as process-journal events (issue #3).

   Each change to the textarea becomes one or two events (a delete, then an insert, paste or
   import) in the journal wire format of docs/journal.md: positions and lengths count Unicode
   code points, not the UTF-16 units JavaScript strings index by. How the change happened comes
   from the input event's inputType: typing, IME composition (recorded once, when committed, as
   typing), paste and drop, cut, undo and redo.

   Events wait in a queue that is kept in localStorage, so a reload or a crash loses nothing;
   they are sent in batches and removed only once the server has acknowledged them, by the
   server's next_seq. Sending again what the server already holds is harmless (the API accepts
   identical events twice), so a lost answer never causes a gap or a duplicate.

   Text taken from the muse (issue #8) is recorded as a "muse" event whose ref is the
   suggestion's id: inserted from the muse's panel (muse.js calls root.museHooks.insert), or
   pasted after being copied from it (muse.js tells which suggestion a pasted text comes from,
   through root.museSourceOf).

   No inline script runs on this site (strict CSP): the page passes data in data-* attributes. */
(function () {
  "use strict";

  var root = document.getElementById("editor");
  if (!root) {
    return;
  }

  var SEND_AFTER_MS = 2000;
  var SEND_AT_EVENTS = 50;
  var MAX_BATCH = 500;
  var MAX_BACKOFF_MS = 30000;
  var API = "/api/v1/drafts";

  var area = document.getElementById("editor-text");
  var titleInput = document.getElementById("editor-title");
  var statusEl = document.getElementById("save-status");
  var countEl = document.getElementById("char-count");
  var form = document.getElementById("finish-form");
  var formError = document.getElementById("finish-error");
  var finishButton = document.getElementById("finish-button");
  var csrf = root.getAttribute("data-csrf") || "";
  var owner = root.getAttribute("data-user") || "anonymous";
  var draftId = root.getAttribute("data-draft-id") || null;

  var prev = "";              // the text as the journal knows it
  var queue = [];             // events not yet acknowledged by the server, in seq order
  var nextSeq = 0;            // the seq the next recorded event gets
  var lastT = 0;              // time of the last event: events never go back in time
  var lastCopied = null;      // text last copied or cut from this editor
  var pendingInput = null;    // what beforeinput saw: the input type and the selection
  var composing = false;
  var compositionSelection = null;
  var inFlight = false;
  var creating = false;
  var failures = 0;
  var timer = null;
  var timerDue = 0;
  var stopped = false;        // the server refused a batch: stop until the page is reloaded
  var ready = false;
  var finished = false;       // submitted: nothing more is kept for this draft

  // Code points ---------------------------------------------------------------------------

  function isHigh(code) { return code >= 0xd800 && code <= 0xdbff; }
  function isLow(code) { return code >= 0xdc00 && code <= 0xdfff; }

  /* The number of code points in s (a surrogate pair counts once, as in Python). */
  function cpLength(s) {
    var n = s.length;
    for (var i = 0; i + 1 < s.length; i++) {
      if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) {
        n--;
        i++;
      }
    }
    return n;
  }

  /* The UTF-16 offset of code point index cp in s. */
  function unitOffset(s, cp) {
    var i = 0;
    while (cp > 0 && i < s.length) {
      i += isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
      cp--;
    }
    if (cp > 0) {
      throw new Error("position outside the text");
    }
    return i;
  }

  /* Apply journal events to a text; throws when an event does not fit it. */
  function applyEvents(text, events) {
    for (var k = 0; k < events.length; k++) {
      var e = events[k];
      var at = unitOffset(text, e.pos);
      if (e.op === "delete") {
        var end = unitOffset(text.slice(at), e.len) + at;
        text = text.slice(0, at) + text.slice(end);
      } else {
        text = text.slice(0, at) + e.text + text.slice(at);
      }
    }
    return text;
  }

  function splitsPair(s, i) {
    return i > 0 && i < s.length && isHigh(s.charCodeAt(i - 1)) && isLow(s.charCodeAt(i));
  }

  /* The changed span between two texts, [start, removed, added] in UTF-16 units: the shortest
     one, with the longest common prefix. Used when the browser did not say where the change
     was; it never splits a surrogate pair. */
  function diff(before, after) {
    var limit = Math.min(before.length, after.length);
    var p = 0;
    while (p < limit && before.charCodeAt(p) === after.charCodeAt(p)) {
      p++;
    }
    if (splitsPair(before, p) || splitsPair(after, p)) {
      p--;
    }
    var s = 0;
    while (
      s < limit - p &&
      before.charCodeAt(before.length - 1 - s) === after.charCodeAt(after.length - 1 - s)
    ) {
      s++;
    }
    if (splitsPair(before, before.length - s) || splitsPair(after, after.length - s)) {
      s--;
    }
    return [p, before.slice(p, before.length - s), after.slice(p, after.length - s)];
  }

  /* Input types whose selection does not say where the change happens: undo and redo act
     anywhere, a drop lands where the pointer is, a spelling fix replaces some other word. */
  var UNPLACED = /^(history|insertFromDrop|insertReplacementText)/;
  var BACKWARD = /Backward$/;

  /* The change exactly as the browser made it, from the selection seen at beforeinput, or
     null when that does not explain the new text. The shortest diff would get a replaced
     selection wrong: selecting "cat" and pasting "cart" is not the insertion of an "r", and
     pasted text must be counted as pasted. */
  function exactChange(info, before, after) {
    if (!info || UNPLACED.test(info.type) || info.start === null) {
      return null;
    }
    var a = info.start;
    var b = info.end;
    var removed = before.length - after.length;
    if (info.type.indexOf("delete") === 0) {
      if (a === b) {
        if (removed <= 0) {
          return null;
        }
        if (BACKWARD.test(info.type)) {
          a -= removed;
        } else {
          b += removed;
        }
      } else if (removed !== b - a) {
        return null;
      }
    }
    var added = after.length - before.length + (b - a);
    if (a < 0 || b > before.length || added < 0 || splitsPair(before, a) || splitsPair(before, b)) {
      return null;
    }
    if (before.slice(0, a) !== after.slice(0, a) || before.slice(b) !== after.slice(a + added)) {
      return null;
    }
    return [a, before.slice(a, b), after.slice(a, a + added)];
  }

  // Storage -------------------------------------------------------------------------------

  function storageKey(id) {
    return "hallmark:" + owner + ":draft:" + (id || "new");
  }

  function loadStored(id) {
    try {
      var raw = window.localStorage.getItem(storageKey(id));
      var value = raw ? JSON.parse(raw) : null;
      if (value && Array.isArray(value.events)) {
        return value;
      }
    } catch (err) {
      // Unreadable storage is the same as empty storage: the server holds the text.
    }
    return { events: [], title: null };
  }

  function persist() {
    if (finished) {
      return;
    }
    try {
      window.localStorage.setItem(
        storageKey(draftId),
        JSON.stringify({ v: 1, events: queue, title: titleInput.value, refused: stopped })
      );
    } catch (err) {
      // Storage may be full or disabled; the queue still lives in memory until it is sent.
    }
  }

  function forget(id) {
    try {
      window.localStorage.removeItem(storageKey(id));
    } catch (err) {
      // Nothing to do: an entry left behind is dropped the next time the draft opens.
    }
  }

  // Status --------------------------------------------------------------------------------

  var STATUS = {
    loading: "Loading your draft…",
    empty: "Nothing written yet",
    saved: "Saved",
    saving: "Saving…",
    offline: "Offline — will retry",
    signedout: "Signed out — log in again in another tab; your changes are kept here",
    error: "Not saved"
  };

  function setStatus(state, detail) {
    var text = STATUS[state] + (detail ? ": " + detail : "");
    if (statusEl.textContent !== text) {
      statusEl.textContent = text;
    }
    root.setAttribute("data-state", state);
  }

  function showCount() {
    var n = cpLength(area.value);
    countEl.textContent = n.toLocaleString("en") + (n === 1 ? " character" : " characters");
  }

  // Recording -----------------------------------------------------------------------------

  function now() {
    lastT = Math.max(Date.now(), lastT);
    return lastT;
  }

  /* The id of the muse suggestion a pasted or dropped text was copied from, or null. */
  function museSource(added) {
    return typeof root.museSourceOf === "function" ? root.museSourceOf(added) : null;
  }

  /* [op, src, ref] of an insertion. */
  function insertKind(type, added) {
    var museRef;
    switch (type) {
      case "insertFromPaste":
      case "insertFromPasteAsQuotation":
        if (added === lastCopied) {
          return ["paste", "copy"];
        }
        museRef = museSource(added);
        return museRef ? ["muse", null, museRef] : ["paste", null];
      case "insertFromDrop":
        museRef = museSource(added);
        return museRef ? ["muse", null, museRef] : ["paste", "drop"];
      case "historyUndo":
        return ["insert", "undo"];
      case "historyRedo":
        return ["insert", "redo"];
      case "insertReplacementText":
        return ["insert", "autocorrect"];
      default:
        return ["insert", "key"];
    }
  }

  function deleteSource(type) {
    if (type === "deleteByCut") {
      return "cut";
    }
    if (type === "historyUndo") {
      return "undo";
    }
    if (type === "historyRedo") {
      return "redo";
    }
    return null;
  }

  function record(info, forcedSource) {
    var current = area.value;
    if (current === prev) {
      return;
    }
    var type = info ? info.type : "";
    var change = exactChange(info, prev, current) || diff(prev, current);
    var pos = cpLength(prev.slice(0, change[0]));
    var t = now();
    if (change[1]) {
      var del = { op: "delete", pos: pos, len: cpLength(change[1]) };
      var dsrc = forcedSource ? null : deleteSource(type);
      if (dsrc) {
        del.src = dsrc;
      }
      push(del, t);
    }
    if (change[2]) {
      var kind = forcedSource ? ["insert", forcedSource] : insertKind(type, change[2]);
      var ins = { op: kind[0], pos: pos, text: change[2] };
      if (kind[1]) {
        ins.src = kind[1];
      }
      if (kind[2]) {
        ins.ref = kind[2];
      }
      push(ins, t);
    }
    prev = current;
    recorded();
  }

  /* After events were queued: keep them, show the count, and send them in a while. */
  function recorded() {
    persist();
    showCount();
    if (!stopped && failures === 0 && navigator.onLine !== false) {
      // "Saved" must never show while a change waits to be sent.
      setStatus("saving");
    }
    if (!draftId) {
      createDraft();
    }
    schedule(queue.length >= SEND_AT_EVENTS ? 0 : SEND_AFTER_MS);
  }

  function push(event, t) {
    var e = { seq: nextSeq, t: t, op: event.op, pos: event.pos };
    if (event.op === "delete") {
      e.len = event.len;
    } else {
      e.text = event.text;
    }
    if (event.src) {
      e.src = event.src;
    }
    if (event.ref) {
      e.ref = event.ref;
    }
    nextSeq++;
    queue.push(e);
  }

  area.addEventListener("beforeinput", function (event) {
    pendingInput = {
      type: event.inputType || "",
      start: area.selectionStart,
      end: area.selectionEnd
    };
  });

  area.addEventListener("input", function (event) {
    if (!ready) {
      return;
    }
    if (composing || event.isComposing) {
      // Intermediate composition states are not recorded; compositionend records the result.
      return;
    }
    var seen = pendingInput;
    pendingInput = null;
    record({
      type: event.inputType || (seen ? seen.type : ""),
      start: seen ? seen.start : null,
      end: seen ? seen.end : null
    }, null);
  });

  area.addEventListener("compositionstart", function () {
    composing = true;
    compositionSelection = [area.selectionStart, area.selectionEnd];
  });

  area.addEventListener("compositionend", function () {
    composing = false;
    pendingInput = null;
    if (ready) {
      // What the IME committed is typing, whatever script it is in: recorded as one insert.
      var sel = compositionSelection || [null, null];
      record({ type: "insertCompositionText", start: sel[0], end: sel[1] }, "ime");
    }
    compositionSelection = null;
  });

  function rememberCopy() {
    var selected = area.value.slice(area.selectionStart, area.selectionEnd);
    lastCopied = selected || null;
  }
  area.addEventListener("copy", rememberCopy);
  area.addEventListener("cut", rememberCopy);

  titleInput.addEventListener("input", persist);

  // Sending -------------------------------------------------------------------------------

  function schedule(ms) {
    if (failures > 0) {
      // Backing off: typing does not hurry the next try.
      ms = Math.max(ms, timerDue - Date.now());
    }
    var due = Date.now() + ms;
    if (timer !== null && timerDue <= due) {
      return;
    }
    if (timer !== null) {
      window.clearTimeout(timer);
    }
    timerDue = due;
    timer = window.setTimeout(function () {
      timer = null;
      flush();
    }, Math.max(0, ms));
  }

  function backoff() {
    failures++;
    var delay = Math.min(1000 * Math.pow(2, failures - 1), MAX_BACKOFF_MS);
    delay += Math.floor(Math.random() * 300);
    if (timer !== null) {
      window.clearTimeout(timer);
      timer = null;
    }
    timerDue = Date.now() + delay;
    timer = window.setTimeout(function () {
      timer = null;
      if (draftId) {
        flush();
      } else {
        createDraft();
      }
    }, delay);
  }

  function request(method, url, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = csrf;
      init.body = JSON.stringify(body || {});
    }
    return window.fetch(url, init);
  }

  function problemText(response) {
    return response.json().then(
      function (doc) {
        var text = (doc && doc.detail) || response.statusText || "error " + response.status;
        return doc && doc.hint ? text + " " + doc.hint : text;
      },
      function () { return "The server answered " + response.status + "."; }
    );
  }

  function retryable(status) {
    return status >= 500 || status === 408 || status === 429;
  }

  function idle() {
    setStatus(queue.length ? "saving" : draftId ? "saved" : "empty");
  }

  function createDraft() {
    if (draftId || creating || stopped) {
      return;
    }
    if (navigator.onLine === false) {
      setStatus("offline");
      return;
    }
    creating = true;
    setStatus("saving");
    request("POST", API, { title: titleInput.value.trim() || null }).then(
      function (response) {
        creating = false;
        if (response.ok) {
          return response.json().then(function (doc) {
            failures = 0;
            draftId = doc.draft_id;
            root.setAttribute("data-draft-id", draftId);
            persist();
            forget(null);
            // The address now names the draft, so a reload resumes it.
            window.history.replaceState(null, "", "/write/" + encodeURIComponent(draftId));
            schedule(0);
          });
        }
        return handleFailure(response);
      },
      function () {
        creating = false;
        setStatus("offline");
        backoff();
      }
    );
  }

  function handleFailure(response) {
    if (retryable(response.status)) {
      setStatus("offline");
      backoff();
      return null;
    }
    if (response.status === 401 || response.status === 403) {
      setStatus("signedout");
      backoff();
      return null;
    }
    return problemText(response).then(function (text) {
      stopped = true;
      persist();
      setStatus("error", text + " Reload the page to continue from the saved text.");
    });
  }

  function flush() {
    if (inFlight || stopped || !draftId) {
      return;
    }
    if (!queue.length) {
      idle();
      return;
    }
    if (navigator.onLine === false) {
      // The "online" event resumes sending; no request is made that is sure to fail.
      setStatus("offline");
      return;
    }
    var batch = queue.slice(0, MAX_BATCH);
    inFlight = true;
    setStatus("saving");
    request("POST", API + "/" + encodeURIComponent(draftId) + "/events", { events: batch }).then(
      function (response) {
        if (response.ok) {
          return response.json().then(function (doc) {
            inFlight = false;
            failures = 0;
            acknowledge(doc.next_seq);
            if (queue.length) {
              schedule(queue.length >= SEND_AT_EVENTS ? 0 : SEND_AFTER_MS);
            }
            idle();
          });
        }
        inFlight = false;
        return handleFailure(response);
      },
      function () {
        inFlight = false;
        setStatus("offline");
        backoff();
      }
    );
  }

  /* Drop the events the server holds: all those below its next_seq. */
  function acknowledge(serverNext) {
    var kept = [];
    for (var i = 0; i < queue.length; i++) {
      if (queue[i].seq >= serverNext) {
        kept.push(queue[i]);
      }
    }
    queue = kept;
    persist();
  }

  window.addEventListener("online", function () {
    failures = 0;
    if (draftId) {
      flush();
    } else if (queue.length) {
      createDraft();
    }
  });
  window.addEventListener("offline", function () {
    setStatus("offline");
  });
  window.addEventListener("pagehide", persist);

  /* Resolves once every event is acknowledged; rejects if that does not happen in time. */
  function whenSaved(ms) {
    var deadline = Date.now() + ms;
    return new Promise(function (resolve, reject) {
      (function check() {
        if (stopped) {
          reject(new Error(statusEl.textContent));
        } else if (draftId && !queue.length && !inFlight) {
          resolve();
        } else if (Date.now() > deadline) {
          reject(new Error(
            "The last changes are not saved yet (" + statusEl.textContent + "). They are " +
            "kept in this browser; try again when the connection is back."
          ));
        } else {
          if (!inFlight && failures === 0) {
            if (draftId) {
              flush();
            } else {
              createDraft();
            }
          }
          window.setTimeout(check, 100);
        }
      })();
    });
  }

  // Finishing -----------------------------------------------------------------------------

  function showError(message, hint) {
    formError.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = message;
    var p = document.createElement("p");
    p.appendChild(strong);
    formError.appendChild(p);
    if (hint) {
      var more = document.createElement("p");
      more.textContent = hint;
      formError.appendChild(more);
    }
    formError.hidden = false;
    formError.focus();
  }

  function checkedValue(name) {
    var chosen = form.querySelector("input[name='" + name + "']:checked");
    return chosen ? chosen.value : null;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    formError.hidden = true;
    if (!titleInput.value.trim()) {
      showError("Give the text a title first.", "The title field is above the text.");
      titleInput.focus();
      return;
    }
    if (!area.value.trim()) {
      showError("There is nothing to certify yet.", "Write the text first.");
      return;
    }
    finishButton.disabled = true;
    area.readOnly = true;
    var body = {
      title: titleInput.value,
      declare: checkedValue("declare") || "human-made",
      visibility: form.querySelector("[name='visibility']").value,
      report_public: form.querySelector("[name='report_public']").checked,
      text: area.value
    };
    var id = null;
    whenSaved(15000)
      .then(function () {
        id = draftId;
        body.text = area.value;
        return request("POST", API + "/" + encodeURIComponent(id) + "/submit", body);
      })
      .then(function (response) {
        if (response.status === 201 || response.ok) {
          return response.json().then(function (doc) {
            finished = true;
            forget(id);
            window.location.assign("/works/" + encodeURIComponent(doc.work_id));
          });
        }
        return response.json().then(
          function (doc) {
            var hint = doc.hint;
            if (response.status === 409) {
              // The API's hint speaks to programs; a writer needs to know what to do here.
              hint = "Reload the page: the editor then shows the text as its journal " +
                "recorded it, and you can finish from there.";
            }
            throw { message: doc.detail || "The server refused the text.", hint: hint };
          },
          function () {
            throw { message: "The server answered " + response.status + "." };
          }
        );
      })
      .catch(function (err) {
        finishButton.disabled = false;
        area.readOnly = false;
        showError(err.message || String(err), err.hint || null);
      });
  });

  // Starting ------------------------------------------------------------------------------

  function begin(text, serverSeq, pending, title) {
    var restored = text;
    try {
      restored = applyEvents(text, pending);
    } catch (err) {
      pending = [];
      restored = text;
    }
    queue = pending;
    nextSeq = serverSeq + pending.length;
    for (var i = 0; i < pending.length; i++) {
      lastT = Math.max(lastT, pending[i].t);
    }
    area.value = restored;
    prev = area.value;
    if (prev !== restored) {
      // The textarea changed the text (it normalizes line breaks); record that honestly
      // rather than letting positions drift from the server's text.
      prev = restored;
      record({ type: "insertReplacementText", start: null, end: null }, null);
    }
    if (typeof title === "string") {
      titleInput.value = title;
    }
    area.readOnly = false;
    ready = true;
    showCount();
    persist();
    idle();
    if (queue.length) {
      if (draftId) {
        schedule(0);
      } else {
        createDraft();
      }
    }
  }

  function loadDraft(attempt) {
    setStatus("loading");
    request("GET", API + "/" + encodeURIComponent(draftId)).then(
      function (response) {
        if (!response.ok) {
          if (retryable(response.status)) {
            window.setTimeout(function () { loadDraft(attempt + 1); }, 2000);
            return null;
          }
          return problemText(response).then(function (text) {
            stopped = true;
            setStatus("error", text);
          });
        }
        return response.json().then(function (doc) {
          if (doc.status && doc.status !== "open") {
            forget(draftId);
            if (doc.work_id) {
              window.location.replace("/works/" + encodeURIComponent(doc.work_id));
              return;
            }
          }
          var stored = loadStored(draftId);
          var pending = [];
          for (var i = 0; i < stored.events.length; i++) {
            if (stored.events[i].seq >= doc.next_seq) {
              pending.push(stored.events[i]);
            }
          }
          var dropped = stored.refused && pending.length > 0;
          if (dropped || (pending.length && pending[0].seq !== doc.next_seq)) {
            // Events the server refused, or a gap, cannot be sent again: the server's text is
            // the truth, and the writer is told that the last changes were not kept.
            pending = [];
          }
          var title = typeof stored.title === "string" ? stored.title : doc.title || "";
          begin(doc.text, doc.next_seq, pending, title);
          if (dropped) {
            setStatus("error", "the server refused the last changes, so this is the text " +
              "as it was last saved");
          }
        });
      },
      function () {
        setStatus("offline");
        var wait = Math.min(1000 * Math.pow(2, attempt), MAX_BACKOFF_MS);
        window.setTimeout(function () { loadDraft(attempt + 1); }, wait);
      }
    );
  }

  area.readOnly = true;
  if (draftId) {
    loadDraft(0);
  } else {
    var stored = loadStored(null);
    var pending = stored.events.length && stored.events[0].seq === 0 ? stored.events : [];
    begin("", 0, pending, stored.title);
  }

  // The muse ------------------------------------------------------------------------------

  /* Insert a muse suggestion at the cursor (after the selection, which stays as it was) and
     record it as a "muse" event naming the suggestion. A space is put between it and a word
     it would otherwise run into; it is part of the recorded muse text. */
  function museInsert(text, ref) {
    if (!ready || finished || stopped || composing || area.readOnly || !text) {
      return false;
    }
    var value = area.value;
    var at = area.selectionEnd;
    if (at > 0 && !/\s/.test(value.charAt(at - 1)) && !/^\s/.test(text)) {
      text = " " + text;
    }
    area.value = value.slice(0, at) + text + value.slice(at);
    push({ op: "muse", pos: cpLength(value.slice(0, at)), text: text, ref: ref }, now());
    prev = area.value;
    area.selectionStart = area.selectionEnd = at + text.length;
    recorded();
    area.focus();
    return true;
  }

  /* Resolves with the draft's id, creating the draft first if there is none yet. */
  function whenDraft(ms) {
    var deadline = Date.now() + ms;
    return new Promise(function (resolve, reject) {
      (function check() {
        if (draftId) {
          resolve(draftId);
        } else if (stopped || Date.now() > deadline) {
          reject(new Error("The draft could not be saved yet (" + statusEl.textContent + ")."));
        } else {
          createDraft();
          window.setTimeout(check, 100);
        }
      })();
    });
  }

  root.museHooks = {
    insert: museInsert,
    ensureDraft: whenDraft,
    saved: whenSaved,
    draftId: function () { return draftId; },
    selection: function () {
      var a = area.selectionStart;
      var b = area.selectionEnd;
      return { text: area.value.slice(a, b), position: cpLength(area.value.slice(0, b)) };
    }
  };

  // For tests and for people curious about what is recorded: the queue, read only.
  root.journalQueue = function () { return queue.slice(); };
})();
