/* The replay player of the authorship report (issue #3, item 6).

   It fetches the raw journal (only its owner may) and rebuilds the text event by event in the
   browser: play, pause, scrub and speed. Positions and lengths in the journal count Unicode
   code points, so the text is held as an array of code points while it is rebuilt. When the
   end is reached, the rebuilt text is hashed and compared with the certified work's SHA-256.

   Long pauses in the writing are shortened when playing, so a text written over days still
   plays in minutes; scrubbing moves through the events themselves. */
(function () {
  "use strict";

  var root = document.getElementById("replay");
  if (!root) {
    return;
  }

  var CHECKPOINT_EVERY = 500;   // events between stored snapshots, for fast scrubbing back
  var MAX_PAUSE_MS = 1500;      // a longer pause in the writing plays as this long

  var url = root.getAttribute("data-journal-url");
  var expectedSha = root.getAttribute("data-sha256") || "";
  var playButton = document.getElementById("replay-play");
  var range = document.getElementById("replay-range");
  var speedSelect = document.getElementById("replay-speed");
  var position = document.getElementById("replay-position");
  var output = document.getElementById("replay-text");
  var statusEl = document.getElementById("replay-status");
  var matchEl = document.getElementById("replay-match");

  var events = [];
  var playTimes = [];           // when each event happens in play time (pauses shortened)
  var checkpoints = [];         // checkpoints[k]: the text after k * CHECKPOINT_EVERY events
  var chars = [];
  var applied = 0;              // how many events the text in `chars` reflects
  var playing = false;
  var clock = 0;                // play time reached, in ms
  var lastFrame = 0;

  function splice(array, at, remove, insert) {
    // Spreading a very long insert into splice() overflows the call stack; concatenate it.
    if (insert.length > 10000) {
      return array.slice(0, at).concat(insert, array.slice(at + remove));
    }
    array.splice.apply(array, [at, remove].concat(insert));
    return array;
  }

  function apply(event) {
    if (event.op === "delete") {
      chars = splice(chars, event.pos, event.len, []);
    } else {
      chars = splice(chars, event.pos, 0, Array.from(event.text));
    }
  }

  function seek(target) {
    target = Math.max(0, Math.min(events.length, target));
    if (target < applied || target - applied > CHECKPOINT_EVERY) {
      var k = Math.floor(target / CHECKPOINT_EVERY);
      if (k < checkpoints.length && (target < applied || k * CHECKPOINT_EVERY > applied)) {
        chars = Array.from(checkpoints[k]);
        applied = k * CHECKPOINT_EVERY;
      }
    }
    while (applied < target) {
      apply(events[applied]);
      applied++;
    }
    render();
  }

  function elapsed(ms) {
    var seconds = Math.floor(ms / 1000);
    var hours = Math.floor(seconds / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var secs = seconds % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return hours ? hours + ":" + two(minutes) + ":" + two(secs) : minutes + ":" + two(secs);
  }

  function render() {
    output.textContent = chars.join("");
    range.value = String(applied);
    var when = applied > 0 ? events[applied - 1].t - events[0].t : 0;
    position.textContent =
      "Event " + applied.toLocaleString("en") + " of " + events.length.toLocaleString("en") +
      " · " + elapsed(when) + " into the writing";
    if (applied === events.length) {
      verify();
    } else {
      matchEl.textContent = "";
      matchEl.removeAttribute("data-match");
    }
  }

  function toHex(buffer) {
    var bytes = new Uint8Array(buffer);
    var hex = "";
    for (var i = 0; i < bytes.length; i++) {
      hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return hex;
  }

  function verify() {
    var text = chars.join("");
    root.setAttribute("data-final", "true");
    if (!expectedSha || !window.crypto || !window.crypto.subtle) {
      // Without a secure context the browser offers no SHA-256; the server checked at submit.
      return;
    }
    window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (d) {
      if (applied !== events.length) {
        return;
      }
      var same = toHex(d) === expectedSha;
      matchEl.setAttribute("data-match", same ? "yes" : "no");
      matchEl.textContent = same
        ? "The replay rebuilds the certified text exactly (its SHA-256 matches)."
        : "The replay does not rebuild the certified text: their SHA-256 digests differ.";
    });
  }

  function frame(stamp) {
    if (!playing) {
      return;
    }
    var speed = Number(speedSelect.value) || 1;
    clock += Math.min(stamp - lastFrame, 250) * speed;
    lastFrame = stamp;
    var target = applied;
    while (target < events.length && playTimes[target] <= clock) {
      target++;
    }
    if (target !== applied) {
      seek(target);
    }
    if (applied >= events.length) {
      pause();
      return;
    }
    window.requestAnimationFrame(frame);
  }

  function play() {
    if (applied >= events.length) {
      seek(0);
    }
    playing = true;
    clock = applied > 0 ? playTimes[applied - 1] : 0;
    playButton.textContent = "Pause";
    playButton.setAttribute("aria-pressed", "true");
    lastFrame = window.performance.now();
    window.requestAnimationFrame(frame);
  }

  function pause() {
    playing = false;
    playButton.textContent = applied >= events.length ? "Play again" : "Play";
    playButton.setAttribute("aria-pressed", "false");
  }

  function prepare(list) {
    events = list;
    var text = [];
    var at = 0;
    playTimes = [];
    checkpoints = [""];
    for (var i = 0; i < events.length; i++) {
      if (i > 0) {
        at += Math.min(Math.max(events[i].t - events[i - 1].t, 0), MAX_PAUSE_MS);
      }
      playTimes.push(at);
      var e = events[i];
      text = e.op === "delete"
        ? splice(text, e.pos, e.len, [])
        : splice(text, e.pos, 0, Array.from(e.text));
      if ((i + 1) % CHECKPOINT_EVERY === 0) {
        checkpoints.push(text.join(""));
      }
    }
    range.max = String(events.length);
    range.disabled = false;
    playButton.disabled = false;
    speedSelect.disabled = false;
    statusEl.textContent = events.length
      ? "Ready: " + events.length.toLocaleString("en") + " events."
      : "The journal is empty.";
    seek(0);
  }

  playButton.addEventListener("click", function () {
    if (playing) {
      pause();
    } else {
      play();
    }
  });

  range.addEventListener("input", function () {
    if (playing) {
      pause();
    }
    seek(Number(range.value));
  });

  statusEl.textContent = "Loading the journal…";
  window.fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("The journal could not be loaded (the server answered " +
          response.status + ").");
      }
      return response.json();
    })
    .then(function (doc) {
      prepare(Array.isArray(doc.events) ? doc.events : []);
    })
    .catch(function (err) {
      statusEl.textContent = err.message || "The journal could not be loaded.";
    });
})();
