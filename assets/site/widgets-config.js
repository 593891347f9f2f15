// Glue between the saved ipywidgets and this site's self-hosted scripts.
(function () {
  // RequireJS: the embed bundle computes the folder of its font files from its module's URL;
  // without this mapping it looks for them next to the page.
  var root = document.documentElement.dataset.content_root || "";
  require.config({
    paths: { "@jupyter-widgets/html-manager/dist": root + "_static/html-manager" },
  });
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
