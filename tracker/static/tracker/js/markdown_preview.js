/*
 * "Write | Preview" tabs for Markdown textareas: every <textarea data-markdown-preview="<url>"> gets
 * two tabs; "Preview" POSTs the text to that URL (tracker/web/preview.py, with the form's CSRF token)
 * and shows the answer, HTML rendered and sanitized by the server with the renderer that stores it.
 * A textarea with data-format-input="<name>" is previewed only while the radio button of that name
 * chosen in its form is "markdown" (a comment may be plain text).
 *
 * Without JavaScript the textarea is what the server rendered and the form posts as before.
 */
(function () {
  "use strict";

  if (typeof window.fetch !== "function" || typeof window.FormData !== "function") {
    return;
  }

  var counter = 0;

  function isMarkdown(textarea) {
    var name = textarea.getAttribute("data-format-input");
    if (!name || !textarea.form) {
      return true;
    }
    var chosen = textarea.form.querySelector('input[name="' + name + '"]:checked');
    return Boolean(chosen) && chosen.value === "markdown";
  }

  function csrfToken(form) {
    var input = form ? form.querySelector('input[name="csrfmiddlewaretoken"]') : null;
    return input ? input.value : "";
  }

  function makeTab(label, id, panelId) {
    var tab = document.createElement("button");
    tab.type = "button";
    tab.className = "md-tab";
    tab.id = id;
    tab.textContent = label;
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", panelId);
    return tab;
  }

  function enhance(textarea) {
    var url = textarea.getAttribute("data-markdown-preview");
    counter += 1;
    if (!textarea.id) {
      textarea.id = "md-textarea-" + counter;
    }
    var base = textarea.id;
    var panel = document.createElement("div");
    panel.id = base + "-preview";
    panel.className = "comment md-preview";
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-live", "polite");
    panel.setAttribute("aria-labelledby", base + "-preview-tab");
    panel.hidden = true;

    var tabs = document.createElement("div");
    tabs.className = "md-tabs";
    tabs.setAttribute("role", "tablist");
    tabs.setAttribute("aria-label", "Write or preview");
    var write = makeTab("Write", base + "-write-tab", base);
    var preview = makeTab("Preview", base + "-preview-tab", panel.id);
    tabs.appendChild(write);
    tabs.appendChild(preview);
    textarea.parentNode.insertBefore(tabs, textarea);
    textarea.parentNode.insertBefore(panel, textarea.nextSibling);

    function select(previewing) {
      write.setAttribute("aria-selected", previewing ? "false" : "true");
      preview.setAttribute("aria-selected", previewing ? "true" : "false");
      textarea.hidden = previewing;
      panel.hidden = !previewing;
    }

    function showWrite() {
      select(false);
      textarea.focus();
    }

    function showPreview() {
      select(true);
      panel.textContent = "Loading the preview…";
      var body = new window.FormData();
      body.append("text", textarea.value);
      window
        .fetch(url, {
          method: "POST",
          body: body,
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": csrfToken(textarea.form) },
        })
        .then(function (response) {
          return response.json().then(function (data) {
            return { ok: response.ok, data: data };
          });
        })
        .then(function (answer) {
          if (answer.ok) {
            // Sanitized by the server (tracker.services.rendering), as the stored comment will be.
            panel.innerHTML = answer.data.html || '<p class="muted">Nothing to preview.</p>';
          } else {
            panel.textContent = answer.data.error || "The preview is not available.";
          }
        })
        .catch(function () {
          panel.textContent = "The preview is not available (no answer from the server).";
        });
    }

    function syncFormat() {
      // Plain text needs no preview: hide the tabs and go back to writing.
      var markdown = isMarkdown(textarea);
      tabs.hidden = !markdown;
      if (!markdown) {
        select(false);
      }
    }

    write.addEventListener("click", showWrite);
    preview.addEventListener("click", showPreview);
    var formatName = textarea.getAttribute("data-format-input");
    if (formatName && textarea.form) {
      textarea.form.addEventListener("change", function (event) {
        if (event.target && event.target.name === formatName) {
          syncFormat();
        }
      });
    }
    select(false);
    syncFormat();
  }

  function start() {
    var textareas = document.querySelectorAll("textarea[data-markdown-preview]");
    for (var i = 0; i < textareas.length; i += 1) {
      enhance(textareas[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
