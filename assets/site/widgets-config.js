// Glue between the saved ipywidgets and this site's self-hosted scripts.
(function () {
  // RequireJS: each AMD module of the embed bundle computes the folder of its font files from
  // its own URL; without these mappings they look for them next to the page.
  var root = document.documentElement.dataset.content_root || "";
  var folder = root + "_static/html-manager/";
  var paths = { "@jupyter-widgets/html-manager/dist": folder.slice(0, -1) };
  ["base", "base7", "controls", "controls7", "html-manager"].forEach(function (name) {
    paths["@jupyter-widgets/" + name] = folder + name;
  });
  require.config({ paths: paths });
  // The widgets typeset their labels with MathJax 2's API (MathJax.Hub.Queue); the site serves
  // MathJax 3. Deferred MathJax has run by DOMContentLoaded, before the widgets render.
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (mj && !mj.Hub && mj.typesetPromise) {
      mj.Hub = {
        Queue: function (command) {
          var element = command[2];
          return mj.typesetPromise(element ? [element] : undefined);
        },
      };
    }
  });
})();
