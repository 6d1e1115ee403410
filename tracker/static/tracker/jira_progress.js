/* Live progress of Jira imports, without any library.
 *
 * Every element with a data-jira-import-status attribute (the JSON status URL of an import) is
 * refreshed every 2 seconds: its [data-field] children get the status and "Imported N / total
 * issues". When the import ends, the page reloads to show the outcome. Without JavaScript the page
 * shows the progress as of its last load.
 */
(function () {
  "use strict";

  var INTERVAL = 2000;
  var BACKOFF = 10000;

  function each(root, name, action) {
    root.querySelectorAll('[data-field="' + name + '"]').forEach(action);
  }

  function update(root, data) {
    each(root, "status_label", function (element) {
      element.textContent = data.status_label;
      element.className = element.className.replace(/\bimport-\w+\b/, "import-" + data.status);
    });
    if (data.progress_total > 0) {
      each(root, "bar", function (bar) {
        bar.max = data.progress_total;
        bar.value = data.progress_done;
      });
      each(root, "progress-text", function (element) {
        element.textContent = "Imported " + data.progress_done + " / " + data.progress_total + " issues";
      });
    }
    if (data.status === "running" && !data.cancel_requested) {
      each(root, "explanation", function (element) {
        if (element.dataset.pending !== undefined) {
          element.textContent = "The import runs in the background: you can leave this page. An email is sent when it ends.";
        }
      });
    }
  }

  function watch(root) {
    var url = root.getAttribute("data-jira-import-status");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("status " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          update(root, data);
          if (data.active) {
            window.setTimeout(poll, INTERVAL);
          } else {
            window.location.reload();
          }
        })
        .catch(function () {
          // The server restarting, or the network gone: try again, less often.
          window.setTimeout(poll, BACKOFF);
        });
    }
    window.setTimeout(poll, INTERVAL);
  }

  function start() {
    document.querySelectorAll("[data-jira-import-status]").forEach(watch);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
