// Re-snapshot button: POST to the API with the token, then poll the job and
// reload the page when the snapshot is recorded.
(function () {
  var section = document.querySelector(".resnapshot");
  if (!section) return;
  var button = section.querySelector(".resnapshot-button");
  var input = section.querySelector(".token");
  var status = section.querySelector(".job-status");
  input.value = sessionStorage.getItem("palimpsest-token") || "";

  function show(text) { status.textContent = text; }

  // A job the server does not know (404) failed; a server that cannot be
  // reached (restarting), or cannot reach Prefect, is asked again: jobs live
  // in its database.
  function poll(id) {
    fetch("/api/jobs/" + encodeURIComponent(id)).then(function (r) {
      if (r.status >= 500) throw new Error(r.statusText);
      return r.json().then(function (body) {
        return r.ok ? body : {status: "failed", error: body.detail || r.statusText};
      });
    }).then(function (job) {
      if (job.status === "done") {
        var r = job.result || {};
        show("Done: " + (r.outcome || "recorded") + (r.version ? " (v" + r.version + ")" : ""));
        setTimeout(function () { location.reload(); }, 600);
      } else if (job.status === "failed") {
        show("Failed: " + job.error);
        button.disabled = false;
      } else {
        show(job.status === "running" ? "Capturing…" : "Queued…");
        setTimeout(function () { poll(id); }, 700);
      }
    }, function () {
      show("No answer from the server; asking again…");
      setTimeout(function () { poll(id); }, 2000);
    });
  }

  button.addEventListener("click", function () {
    sessionStorage.setItem("palimpsest-token", input.value);
    button.disabled = true;
    show("Starting…");
    fetch("/api/snapshots", {
      method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + input.value},
      body: JSON.stringify({url: section.dataset.articleUrl})
    }).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      if (!res.ok) { show("Refused: " + (res.body.detail || "error")); button.disabled = false; return; }
      poll(res.body.id);
    });
  });
})();
