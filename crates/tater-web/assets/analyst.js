// The analyst's answer, streamed into the page: the question form is posted with the same
// fields (CSRF token included), asking for server-sent events; text is appended as it comes,
// lookups and proposals are named, and when the answer is complete the page is loaded again
// to show it with its proposed changes. A refusal before the stream starts (a form error, the
// features off) is left to the server: the form is then posted as it would be without this.
(function () {
  "use strict";
  var form = document.getElementById("ask");
  if (!form || !window.fetch || !window.TextDecoder || !window.URLSearchParams) {
    return;
  }
  var live = document.getElementById("live");
  var liveText = document.getElementById("live-text");
  var liveStatus = document.getElementById("live-status");
  var problem = document.getElementById("stream-problem");
  var send = document.getElementById("send");

  function status(text) {
    liveStatus.textContent = text;
  }

  function fail(detail) {
    problem.textContent = detail || "The analyst could not answer.";
    problem.hidden = false;
    send.disabled = false;
    status("");
  }

  function handle(name, data) {
    if (name === "text") {
      liveText.textContent += data.text;
    } else if (name === "tool") {
      status("looking up " + data.tool + "…");
    } else if (name === "action") {
      status("proposed a change: " + data.tool);
    } else if (name === "done") {
      status("");
      window.location.assign(window.location.pathname + "#latest");
      window.location.reload();
    } else if (name === "error") {
      fail(data.detail || data.title);
    }
  }

  // One block of the stream: its event name and JSON data.
  function dispatch(block) {
    var name = null;
    var data = "";
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) {
        name = line.slice(6).trim();
      } else if (line.indexOf("data:") === 0) {
        data += line.slice(5).replace(/^ /, "");
      }
    });
    if (!name) {
      return;
    }
    var parsed = {};
    try {
      parsed = JSON.parse(data);
    } catch (e) {
      parsed = {};
    }
    handle(name, parsed);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    problem.hidden = true;
    send.disabled = true;
    live.hidden = false;
    liveText.textContent = "";
    status("thinking…");
    fetch(form.action, {
      method: "POST",
      headers: { Accept: "text/event-stream" },
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    })
      .then(function (res) {
        var type = res.headers.get("content-type") || "";
        if (!res.ok || type.indexOf("text/event-stream") !== 0 || !res.body) {
          live.hidden = true;
          form.submit();
          return;
        }
        var reader = res.body.getReader();
        var decoder = new TextDecoder();
        var buffered = "";
        function read() {
          return reader.read().then(function (chunk) {
            if (chunk.done) {
              return;
            }
            buffered += decoder.decode(chunk.value, { stream: true });
            var end;
            while ((end = buffered.indexOf("\n\n")) !== -1) {
              dispatch(buffered.slice(0, end));
              buffered = buffered.slice(end + 2);
            }
            return read();
          });
        }
        return read();
      })
      .catch(function () {
        fail("The connection to the server was lost.");
      });
  });
})();
