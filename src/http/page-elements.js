'use strict';
// How the pages (the admin dashboard, the files page) build their DOM, inlined before their own
// scripts: el(tag, attrs, children) is an HTML element, fill(node, attrs, children) gives any
// node (an SVG one too) its attributes ('text' sets its text) and its children (falsy ones are
// left out).
function fill(node, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children || []) if (child) node.append(child);
  return node;
}

function el(tag, attrs, children) {
  return fill(document.createElement(tag), attrs, children);
}
