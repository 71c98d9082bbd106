// Applies the saved theme before the first paint, so dark mode never flashes white. A file, not
// an inline script: the Content-Security-Policy allows scripts from this origin only.
try {
  var t = localStorage.getItem("ragenie.theme");
  if (t === "dark" || t === "light") document.documentElement.dataset.theme = t;
} catch (e) {}
