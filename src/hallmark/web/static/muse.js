/* The muse's panel in the editor (issue #8): ask, watch the answer arrive, insert or copy it.

   A request goes to POST /api/v1/drafts/{id}/muse with Accept: text/event-stream and is read
   as it streams (fetch and a ReadableStream, since EventSource cannot POST): "start" opens a
   suggestion, "token" adds text, "suggestion" gives the final text, "error" a problem. Stop
   aborts the request; the server then stores the suggestion as cancelled.

   Nothing from the muse reaches the text unrecorded. Insert hands the suggestion to the
   editor (editor.js, root.museHooks.insert), which records a "muse" event naming it. Copy puts
   it on the clipboard and tells the server; when the copied text is pasted into the editor,
   root.museSourceOf tells editor.js which suggestion it came from, and the paste is recorded
   as muse text too. With prose switched off for the draft the panel offers no continuation.

   No inline script runs on this site (strict CSP); the page passes data in data-* attributes
   and the text of suggestions is only ever set as text, never as HTML. */
(function () {
  "use strict";

  var panel = document.getElementById("muse");
  var editor = document.getElementById("editor");
  if (!panel || !editor || !editor.museHooks) {
    return;
  }

  var API = "/api/v1/drafts/";
  var SAVE_WAIT_MS = 15000;
  //: A pasted text shorter than this is not searched for in the suggestions: a short phrase
  //: is as likely to be the writer's own.
  var MIN_RECOGNISED = 12;
  var MODE_NAMES = {
    questions: "Questions",
    ideas: "Ideas",
    critique: "Critique",
    "continue": "Continuation"
  };

  var hooks = editor.museHooks;
  var csrf = editor.getAttribute("data-csrf") || "";
  var statusEl = document.getElementById("muse-status");
  var stopButton = document.getElementById("muse-stop");
  var list = document.getElementById("muse-suggestions");
  var continueBox = document.getElementById("muse-allow-continue");
  var personalBox = document.getElementById("muse-personal");
  var modeButtons = panel.querySelectorAll("button[data-mode]");

  var known = [];           // {id, text} of finished suggestions, newest last
  var controller = null;    // the AbortController of the request in flight

  function say(text, isError) {
    statusEl.textContent = text || "";
    statusEl.classList.toggle("form-error", Boolean(isError));
  }

  function allowContinue() {
    return panel.getAttribute("data-continue") === "on";
  }

  function setBusy(busy) {
    for (var i = 0; i < modeButtons.length; i++) {
      modeButtons[i].disabled = busy;
    }
    stopButton.hidden = !busy;
    panel.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function request(method, path, body, accept) {
    var init = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: accept || "application/json" }
    };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = csrf;
      init.body = JSON.stringify(body || {});
    }
    if (controller && accept === "text/event-stream") {
      init.signal = controller.signal;
    }
    return window.fetch(API + path, init);
  }

  function problemText(response) {
    return response.json().then(
      function (doc) {
        var text = (doc && doc.detail) || "The muse could not answer (" + response.status + ").";
        return doc && doc.hint ? text + " " + doc.hint : text;
      },
      function () { return "The muse could not answer (" + response.status + ")."; }
    );
  }

  // Pastes from the panel -------------------------------------------------------------------

  editor.museSourceOf = function (text) {
    var needle = (text || "").trim();
    if (needle.length < MIN_RECOGNISED) {
      return null;
    }
    for (var i = known.length - 1; i >= 0; i--) {
      if (known[i].text.indexOf(needle) !== -1) {
        return known[i].id;
      }
    }
    return null;
  };

  // Suggestions -----------------------------------------------------------------------------

  function recordCopy(id) {
    var draftId = hooks.draftId();
    if (!draftId) {
      return;
    }
    request(
      "POST",
      encodeURIComponent(draftId) + "/muse/" + encodeURIComponent(id) + "/copied",
      {}
    ).catch(function () {
      // The copy is still recognised when pasted; only the count in the report is missed.
    });
  }

  function button(label, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button button-quiet button-small";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  /* A list item for a suggestion; its text is filled in as it arrives. */
  function newItem(id, mode, model) {
    var item = document.createElement("li");
    item.className = "muse-suggestion";
    item.setAttribute("data-id", id);
    item.setAttribute("data-mode", mode);
    var meta = document.createElement("p");
    meta.className = "meta";
    var tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = MODE_NAMES[mode] || mode;
    meta.appendChild(tag);
    meta.appendChild(document.createTextNode(" " + (model || "")));
    var text = document.createElement("div");
    text.className = "muse-text";
    item.appendChild(meta);
    item.appendChild(text);
    list.insertBefore(item, list.firstChild);
    return item;
  }

  function finishItem(item, doc) {
    var textEl = item.querySelector(".muse-text");
    textEl.textContent = doc.text || "(The muse had nothing to say this time; ask again.)";
    item.setAttribute("data-status", doc.status || "complete");
    if (!doc.text) {
      return;
    }
    known.push({ id: doc.id, text: doc.text });
    var actions = document.createElement("p");
    actions.className = "muse-actions";
    if (doc.mode === "continue") {
      actions.appendChild(button("Insert", function () {
        if (!allowContinue()) {
          say("Prose from the muse is switched off for this draft.", true);
          return;
        }
        if (hooks.insert(doc.text, doc.id)) {
          item.setAttribute("data-used", "true");
          say("Inserted. The journal records it as text from the muse.");
        } else {
          say("The text cannot be changed right now.", true);
        }
      }));
    }
    actions.appendChild(button("Copy", function () {
      var done = function () {
        recordCopy(doc.id);
        say("Copied. Pasted into your text, it is recorded as text from the muse.");
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(doc.text).then(done, function () {
          say("The browser did not allow copying; select the text and copy it.", true);
        });
      } else {
        say("Select the text and copy it.", true);
      }
    }));
    item.appendChild(actions);
    textEl.addEventListener("copy", function () { recordCopy(doc.id); });
  }

  // Asking ----------------------------------------------------------------------------------

  function dispatch(block, state) {
    var name = "message";
    var data = "";
    var lines = block.split("\n");
    for (var i = 0; i < lines.length; i++) {
      if (lines[i].indexOf("event:") === 0) {
        name = lines[i].slice(6).trim();
      } else if (lines[i].indexOf("data:") === 0) {
        data += lines[i].slice(5).trim();
      }
    }
    var doc = data ? JSON.parse(data) : {};
    if (name === "start") {
      state.item = newItem(doc.id, doc.mode, doc.model);
      say("The muse is writing…");
    } else if (name === "token" && state.item) {
      state.item.querySelector(".muse-text").textContent += doc.text;
    } else if (name === "suggestion" && state.item) {
      finishItem(state.item, doc);
      state.done = true;
      say(doc.mode === "continue"
        ? "Done. Insert it, copy it, or leave it: only what you take counts as AI text."
        : "Done. Questions, ideas and critique do not change how your work is labelled.");
    } else if (name === "error") {
      state.done = true;
      var message = (doc.detail || "The muse stopped.") + (doc.hint ? " " + doc.hint : "");
      if (state.item) {
        state.item.setAttribute("data-status", "failed");
      }
      say(message, true);
    }
  }

  function readEvents(response, state) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          if (buffer.trim()) {
            dispatch(buffer, state);
          }
          return null;
        }
        buffer += decoder.decode(chunk.value, { stream: true });
        var at = buffer.indexOf("\n\n");
        while (at !== -1) {
          dispatch(buffer.slice(0, at), state);
          buffer = buffer.slice(at + 2);
          at = buffer.indexOf("\n\n");
        }
        return pump();
      });
    }
    return pump();
  }

  function ask(mode) {
    if (controller) {
      return;
    }
    if (mode === "continue" && !allowContinue()) {
      return;
    }
    var selection = hooks.selection();
    var state = { item: null, done: false };
    controller = new AbortController();
    setBusy(true);
    say("Asking the muse…");
    hooks.ensureDraft(SAVE_WAIT_MS)
      .then(function (draftId) {
        // The muse reads the draft as the server holds it: send what is waiting first.
        return hooks.saved(SAVE_WAIT_MS).then(
          function () { return draftId; },
          function () { return draftId; }
        );
      })
      .then(function (draftId) {
        var body = { mode: mode, position: selection.position };
        if (selection.text.trim()) {
          body.selection = selection.text;
        }
        return request("POST", encodeURIComponent(draftId) + "/muse", body, "text/event-stream");
      })
      .then(function (response) {
        if (!response.ok) {
          return problemText(response).then(function (text) { say(text, true); });
        }
        return readEvents(response, state).then(function () {
          if (!state.done) {
            say("The connection to the muse was lost before it finished.", true);
          }
        });
      })
      .catch(function (err) {
        if (err && err.name === "AbortError") {
          if (state.item) {
            state.item.setAttribute("data-status", "cancelled");
          }
          say("Stopped. What the muse had written is kept in the draft's record.");
        } else {
          say((err && err.message) || "The muse could not be reached.", true);
        }
      })
      .then(function () {
        controller = null;
        setBusy(false);
      });
  }

  for (var i = 0; i < modeButtons.length; i++) {
    modeButtons[i].addEventListener("click", function (event) {
      ask(event.currentTarget.getAttribute("data-mode"));
    });
  }

  stopButton.addEventListener("click", function () {
    if (controller) {
      controller.abort();
    }
  });

  // Switches --------------------------------------------------------------------------------

  function showSwitches(settings) {
    panel.setAttribute("data-continue", settings["continue"] ? "on" : "off");
    continueBox.checked = Boolean(settings["continue"]);
    personalBox.checked = Boolean(settings.personal);
    var continueButton = panel.querySelector("button[data-mode='continue']");
    if (continueButton) {
      continueButton.hidden = !settings["continue"];
    }
  }

  function saveSwitch(box, name) {
    box.addEventListener("change", function () {
      var wanted = box.checked;
      var body = {};
      body[name] = wanted;
      box.disabled = true;
      hooks.ensureDraft(SAVE_WAIT_MS)
        .then(function (draftId) {
          return request("POST", encodeURIComponent(draftId) + "/muse/settings", body);
        })
        .then(function (response) {
          if (!response.ok) {
            return problemText(response).then(function (text) { throw new Error(text); });
          }
          return response.json().then(function (settings) {
            showSwitches(settings);
            say(name === "continue"
              ? (wanted ? "The muse may write prose for this draft." :
                "The muse writes no prose for this draft.")
              : (wanted ? "The muse draws on your earlier works." :
                "The muse leaves your earlier works alone."));
          });
        })
        .catch(function (err) {
          box.checked = !wanted;
          say((err && err.message) || "The setting was not saved.", true);
        })
        .then(function () { box.disabled = false; });
    });
  }
  saveSwitch(continueBox, "continue");
  saveSwitch(personalBox, "personal");

  // Starting --------------------------------------------------------------------------------

  /* A draft opened again shows what the muse said before, so its pastes are recognised. */
  function loadEarlier() {
    var draftId = hooks.draftId();
    if (!draftId) {
      return;
    }
    request("GET", encodeURIComponent(draftId) + "/muse").then(function (response) {
      if (!response.ok) {
        return null;
      }
      return response.json().then(function (doc) {
        showSwitches(doc.settings);
        for (var k = 0; k < doc.suggestions.length; k++) {
          var s = doc.suggestions[k];
          if (s.text) {
            finishItem(newItem(s.id, s.mode, s.model), s);
          }
        }
      });
    }).catch(function () {
      // Without the earlier suggestions the panel still works; pastes of them count as pastes.
    });
  }

  setBusy(false);
  loadEarlier();
})();
