// Belfry's embed script. On any page:
//   <script src="https://belfry.example/embed.js" defer></script>
//   <notification-bell server="https://belfry.example" token="…" token-url="/belfry/token"
//                      lang="fr" strings='{"title": "Notifications"}' badge="unread"
//                      tabs='["billing", {"key": "social", "label": "People"}]'></notification-bell>
// or, from a script: const bell = Belfry.mount(element, { server, token, tokenUrl, lang, strings, badge, tabs });
// (`badge`: which count the badge shows, "unseen" (the default) or "unread"; `tabs`: a tab per
// category, beside "All", as JSON text or an array; `ring`: "sound", "desktop" or both, which
// the user may then turn on in the bell.)
// then bell.destroy() to take it away again (bell.ready resolves once it is mounted).
//
// The bell lives in the element's shadow root, with its stylesheet: the page's styles do not
// reach in, and the bell's do not leak out. It is themed through the --belfry-* custom
// properties and styled further with ::part(…). It tells the page what happens with events on
// the element: belfry:notification, belfry:unread-count, belfry:error (see docs/API.md).
// Its small WASM bundle (client-side rendering only) comes from the server this script came from.
(function () {
  "use strict";
  const base = new URL(".", document.currentScript.src).href.replace(/\/$/, "");
  let loading = null;

  function load() {
    if (!loading) {
      loading = import(base + "/embed/belfry-embed.js").then(async (wasm) => {
        await wasm.default({ module_or_path: base + "/embed/belfry-embed_bg.wasm" });
        return wasm;
      });
    }
    return loading;
  }

  // The page's language for relative times: the element's own, its nearest ancestor's, or the
  // browser's.
  function language(element, options) {
    if (options && options.lang) return options.lang;
    const marked = element.closest("[lang]");
    return (marked && marked.lang) || navigator.language || "";
  }

  function mount(element, options) {
    options = options || {};
    const strings = options.strings;
    const settings = {
      server: options.server || base,
      token: options.token || "",
      tokenUrl: options.tokenUrl || "",
      lang: language(element, options),
      badge: options.badge || "",
      ring: options.ring || "",
      tabs: typeof options.tabs === "string" ? options.tabs : options.tabs ? JSON.stringify(options.tabs) : "",
      strings: typeof strings === "string" ? strings : strings ? JSON.stringify(strings) : "",
    };
    const root = element.shadowRoot || element.attachShadow({ mode: "open" });
    root.replaceChildren();
    const style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = base + "/pkg/belfry.css";
    const container = document.createElement("span");
    root.append(style, container);

    let bell = null;
    let destroyed = false;
    const handle = {
      destroy() {
        destroyed = true;
        if (bell) bell.destroy();
        bell = null;
        root.replaceChildren();
      },
      ready: null,
    };
    handle.ready = load()
      .then((wasm) => {
        if (destroyed) return handle;
        bell = wasm.mount(container, element, settings);
        return handle;
      })
      .catch((error) => {
        // Visible, not silent: most often the page's origin is not in --allowed-origins.
        const message =
          "Notifications are unavailable (" + settings.server + " could not be reached from this page).";
        const alert = document.createElement("span");
        alert.setAttribute("role", "alert");
        alert.setAttribute("part", "error");
        alert.textContent = message;
        container.replaceChildren(alert);
        element.dispatchEvent(new CustomEvent("belfry:error", { bubbles: true, composed: true, detail: { message } }));
        console.error("Belfry:", error);
        return handle;
      });
    return handle;
  }

  window.Belfry = { mount };

  if (!customElements.get("notification-bell")) {
    customElements.define(
      "notification-bell",
      class extends HTMLElement {
        connectedCallback() {
          if (this.belfryBell) return;
          this.belfryBell = mount(this, {
            server: this.getAttribute("server"),
            token: this.getAttribute("token"),
            tokenUrl: this.getAttribute("token-url"),
            lang: this.getAttribute("lang"),
            strings: this.getAttribute("strings"),
            badge: this.getAttribute("badge"),
            tabs: this.getAttribute("tabs"),
            ring: this.getAttribute("ring"),
          });
        }

        disconnectedCallback() {
          if (this.belfryBell) this.belfryBell.destroy();
          this.belfryBell = null;
        }
      },
    );
  }
})();
