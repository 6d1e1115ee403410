/*
 * People pickers: every <select> or text <input> with a data-autocomplete-url becomes a Tom Select
 * (vendored, tracker/static/tracker/vendor/tom-select/) that asks that URL for the people matching
 * what is typed: GET <url>&q=<text>, answered by tracker/web/people.py as
 * {"results": [{"id": 7, "username": "carol", "label": "Carol (carol)"}]}.
 *
 * Without JavaScript (or if Tom Select failed to load) the inputs stay what the server rendered, and
 * the form posts the same names and values either way: the server's validation decides.
 */
(function () {
  "use strict";

  var MIN_QUERY_LENGTH = 2; // the endpoint refuses shorter prefixes (tracker/services/people_search.py)

  if (typeof window.TomSelect !== "function" || typeof window.fetch !== "function") {
    return;
  }

  function loader(url, valueKey) {
    var separator = url.indexOf("?") === -1 ? "?" : "&";
    return function (query, callback) {
      var picker = this;
      window
        .fetch(url + separator + "q=" + encodeURIComponent(query), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
        .then(function (response) {
          return response.ok ? response.json() : { results: [] };
        })
        .then(function (data) {
          var people = (data.results || []).map(function (person) {
            return { value: String(person[valueKey]), text: person.label };
          });
          if (picker.inputValue().trim() === query.trim()) {
            callback(people);
            return;
          }
          // The person chose (from the names already listed) before this answer came: Tom Select's
          // callback would open the list again over the form (its open() focuses, and the focus
          // handler reopens it). Keep the names for later and end the loading state quietly.
          picker.addOptions(people);
          picker.loading = Math.max(picker.loading - 1, 0);
          if (!picker.loading) {
            picker.wrapper.classList.remove(picker.settings.loadingClass);
          }
        })
        .catch(function () {
          callback(); // a network error: keep what is listed, the person can type again
        });
    };
  }

  function enhance(input) {
    var isSelect = input.tagName === "SELECT";
    var settings = {
      valueField: "value",
      labelField: "text",
      searchField: ["text"],
      maxOptions: 50,
      // Tom Select (2.4 and later) delays its handling of a key by refreshThrottle (300 ms) and does
      // not cancel it when a name is chosen meanwhile: the list then opens again over the form
      // (tom-select.ts, onInput). Filtering the names already listed is cheap: do it at once.
      refreshThrottle: 0,
      loadThrottle: 250, // the request to the server waits for a pause in the typing
      shouldLoad: function (query) {
        return query.trim().length >= MIN_QUERY_LENGTH;
      },
      load: loader(input.dataset.autocompleteUrl, input.dataset.autocompleteValue || "id"),
    };
    if (isSelect) {
      settings.plugins = input.multiple ? ["remove_button"] : ["clear_button"];
      // One name chosen in a single select is the end of it; a multiple one stays open, its text
      // cleared for the next name (Tom Select keeps the typed text otherwise).
      settings.closeAfterSelect = !input.multiple;
      settings.clearAfterSelect = input.multiple;
    } else {
      // A text input (member and notification-list forms) takes one username; what is typed is kept
      // as it is (an email address for the notification list, a name the server will judge).
      settings.maxItems = 1;
      settings.create = true;
      settings.createOnBlur = true;
      settings.persist = false;
      settings.render = {
        // Tom Select says "Add …", which reads like the form's own button: this only fills the box.
        option_create: function (data, escape) {
          return '<div class="create">Use <strong>' + escape(data.input) + "</strong></div>";
        },
      };
    }
    new window.TomSelect(input, settings);
    // Tom Select moves the <label> to its own control and keeps the original input only to post the
    // form (visually hidden, out of the tab order): hide it from assistive technology too, or screen
    // readers meet a second, unnamed copy of the field (axe-core: select-name, label-title-only).
    input.setAttribute("aria-hidden", "true");
  }

  function start() {
    var inputs = document.querySelectorAll("select[data-autocomplete-url], input[data-autocomplete-url]");
    Array.prototype.forEach.call(inputs, enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
