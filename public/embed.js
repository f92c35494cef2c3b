// Belfry's embed script. On any page:
//   <script src="https://belfry.example/embed.js" defer></script>
//   <notification-bell server="https://belfry.example" token="…" token-url="/belfry/token"></notification-bell>
// or, from a script: Belfry.mount(element, { server, token, tokenUrl }).
// It loads the bell's stylesheet and its own small WASM bundle (client-side rendering only)
// from the server it was itself loaded from.
(function () {
  "use strict";
  const base = new URL(".", document.currentScript.src).href.replace(/\/$/, "");
  let loading = null;

  function load() {
    if (!loading) {
      const style = document.createElement("link");
      style.rel = "stylesheet";
      style.href = base + "/pkg/belfry.css";
      document.head.appendChild(style);
      loading = import(base + "/embed/belfry-embed.js").then(async (wasm) => {
        await wasm.default({ module_or_path: base + "/embed/belfry-embed_bg.wasm" });
        return wasm;
      });
    }
    return loading;
  }

  async function mount(element, options) {
    const settings = {
      server: (options && options.server) || base,
      token: (options && options.token) || "",
      tokenUrl: (options && options.tokenUrl) || "",
    };
    try {
      const wasm = await load();
      wasm.mount(element, settings);
    } catch (error) {
      // Visible, not silent: most often the page's origin is not in --allowed-origins.
      element.setAttribute("role", "alert");
      element.className = "belfry-embed-error";
      element.textContent =
        "Notifications are unavailable (" + settings.server + " could not be reached from this page).";
      console.error("Belfry:", error);
    }
  }

  window.Belfry = { mount };

  if (!customElements.get("notification-bell")) {
    customElements.define(
      "notification-bell",
      class extends HTMLElement {
        connectedCallback() {
          if (this.belfryMounted) return;
          this.belfryMounted = true;
          mount(this, {
            server: this.getAttribute("server"),
            token: this.getAttribute("token"),
            tokenUrl: this.getAttribute("token-url"),
          });
        }
      },
    );
  }
})();
