// Records every script error, console.error and failed resource load into the page itself
// (#iw-check), so a headless browser's --dump-dom shows them; runs before anything else.
(function () {
  var errors = [];
  window.__iwErrors = errors;
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.tagName === 'IMG' || t.tagName === 'image')) {
      errors.push('failed to load an image in ' + ((t.closest && t.closest('[id]')) ? t.closest('[id]').id : '?'));
    } else {
      errors.push('error: ' + (e.message || String(e)));
    }
  }, true);
  window.addEventListener('unhandledrejection', function (e) { errors.push('unhandled rejection: ' + e.reason); });
  var ce = console.error;
  console.error = function () {
    errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return ce.apply(console, arguments);
  };
})();
