// Coldstart code editor. Bundled into static/editor/editor.bundle.js by
// `npm run build`; edit this file, never the bundle.
// Progressive enhancement for <textarea data-editor="python">.
//
// The textarea stays in the form (hidden) and is the thing that gets
// submitted; the CodeMirror view is mounted right after it and every change
// is copied back into textarea.value. Without JavaScript the page shows the
// plain textarea, and that still works.
//
// Attribute contract (see frontend/README.md):
//   textarea[data-editor="python"]   upgrade this textarea
//   textarea[data-draft-key="..."]   localStorage key for autosaved drafts
//   textarea[data-starter="..."]     code that a reset goes back to (default: server value)
//   [data-editor-run]                button that Ctrl/Cmd+Enter presses
//   [data-editor-submit]             button that Shift+Ctrl/Cmd+Enter presses
//   [data-editor-reset]              control that resets the editor and clears the draft

import { EditorView } from "codemirror";
import { EditorState, Prec } from "@codemirror/state";
import {
  keymap,
  lineNumbers,
  highlightActiveLineGutter,
  highlightSpecialChars,
  drawSelection,
  dropCursor,
  rectangularSelection,
  crosshairCursor,
  highlightActiveLine,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  indentOnInput,
  indentUnit,
  syntaxHighlighting,
  defaultHighlightStyle,
  bracketMatching,
} from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { python } from "@codemirror/lang-python";

const SELECTOR = 'textarea[data-editor="python"]';
const WRAPPER_CLASS = "coldstart-editor";
const SAVE_DELAY_MS = 300;

// textarea -> controller. A WeakMap (not a DOM attribute) marks upgraded
// textareas, so markup that is serialised and restored later (for example
// htmx's history cache) is upgraded again instead of being left with a dead
// copy of the editor DOM.
const editors = new WeakMap();

// ---------------------------------------------------------------- storage

function readDraft(key) {
  try {
    return window.localStorage.getItem(key);
  } catch (e) {
    return null; // storage disabled, private mode, sandboxed iframe...
  }
}

function writeDraft(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch (e) {
    /* quota exceeded or storage disabled: drafts are best effort */
  }
}

function removeDraft(key) {
  try {
    window.localStorage.removeItem(key);
  } catch (e) {
    /* ignore */
  }
}

// ---------------------------------------------------------------- buttons

// Controls that belong to the textarea's form, including ones placed
// outside the <form> element with a form="..." attribute.
function formControls(textarea, attr) {
  const form = textarea.form;
  if (form) {
    return Array.prototype.filter.call(form.elements, (el) => el.hasAttribute(attr));
  }
  // No form: use the nearest ancestor that holds such a control
  // (for layouts that post with hx-include instead of a <form>).
  for (let node = textarea.parentElement; node; node = node.parentElement) {
    const found = node.querySelectorAll("[" + attr + "]");
    if (found.length) return Array.prototype.slice.call(found);
  }
  return [];
}

function pressButton(textarea, attr) {
  const button = formControls(textarea, attr)[0];
  if (!button || button.disabled) return false;
  // click() behaves exactly like a user pressing the button: htmx sees the
  // click (hx-post on the button itself, and htmx's "which button submitted"
  // tracking), then a submit button submits its form with itself as the
  // submitter, which htmx intercepts when the form has hx-post. A disabled
  // button (e.g. htmx hx-disabled-elt during a request) ignores click(), so
  // holding Ctrl+Enter cannot queue duplicate runs.
  button.click();
  return true;
}

// ---------------------------------------------------------------- theme

const HEIGHT_MIN = "min(22rem, 70vh)";

const theme = EditorView.theme(
  {
    "&": {
      fontSize: "14px",
      color: "#1f2328",
      backgroundColor: "#ffffff",
      border: "1px solid #d0d7de",
      borderRadius: "6px",
      minHeight: HEIGHT_MIN,
      maxHeight: "70vh",
      overflow: "hidden",
    },
    "&.cm-focused": {
      outline: "2px solid #0969da",
      outlineOffset: "-1px",
    },
    ".cm-scroller": {
      fontFamily:
        'ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace',
      lineHeight: "1.5",
      overflow: "auto",
    },
    ".cm-content, .cm-gutter": {
      minHeight: "calc(" + HEIGHT_MIN + " - 2px)",
    },
    ".cm-content": {
      caretColor: "#1f2328",
      padding: "8px 0",
    },
    ".cm-line": {
      padding: "0 12px 0 8px",
    },
    ".cm-cursor, .cm-dropCursor": {
      borderLeftColor: "#1f2328",
      borderLeftWidth: "2px",
    },
    ".cm-gutters": {
      backgroundColor: "#f6f8fa",
      color: "#8c959f",
      borderRight: "1px solid #d8dee4",
    },
    ".cm-lineNumbers .cm-gutterElement": {
      padding: "0 10px 0 14px",
      minWidth: "2.5em",
    },
    ".cm-activeLine": {
      backgroundColor: "#f3f7fc",
    },
    ".cm-activeLineGutter": {
      backgroundColor: "#e7eef7",
      color: "#1f2328",
    },
    "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection":
      {
        backgroundColor: "#cfe3ff",
      },
    ".cm-selectionMatch": {
      backgroundColor: "#fff3b0",
    },
    "&.cm-focused .cm-matchingBracket": {
      backgroundColor: "#d4f0d9",
      outline: "1px solid #86c997",
    },
    "&.cm-focused .cm-nonmatchingBracket": {
      backgroundColor: "#ffe0e0",
    },
    ".cm-panels": {
      backgroundColor: "#f6f8fa",
      color: "#1f2328",
    },
    ".cm-panels.cm-panels-bottom": {
      borderTop: "1px solid #d0d7de",
    },
    ".cm-searchMatch": {
      backgroundColor: "#fff3b0",
      outline: "1px solid #e3c45c",
    },
    ".cm-searchMatch.cm-searchMatch-selected": {
      backgroundColor: "#ffd866",
    },
  },
  { dark: false }
);

// ---------------------------------------------------------------- upgrade

function labelFor(textarea) {
  const labels = textarea.labels ? Array.prototype.slice.call(textarea.labels) : [];
  return labels;
}

function contentAttributes(textarea) {
  const attrs = {
    spellcheck: "false",
    autocorrect: "off",
    autocapitalize: "off",
    translate: "no",
    "aria-multiline": "true",
  };
  const labels = labelFor(textarea);
  if (labels.length) {
    attrs["aria-labelledby"] = labels
      .map((label) => {
        if (!label.id) label.id = (textarea.id || textarea.name || "code") + "-label-" + Math.random().toString(36).slice(2, 8);
        return label.id;
      })
      .join(" ");
  } else {
    attrs["aria-label"] = textarea.getAttribute("aria-label") || "Python code editor";
  }
  const describedBy = textarea.getAttribute("aria-describedby");
  if (describedBy) attrs["aria-describedby"] = describedBy;
  return attrs;
}

function upgradeOne(textarea) {
  if (editors.has(textarea)) return null;

  // Remove a stale editor copy left by restored markup (htmx history cache).
  const next = textarea.nextElementSibling;
  if (next && next.classList.contains(WRAPPER_CLASS)) next.remove();

  // The value the server rendered: the learner's last submission or the starter.
  const serverValue = textarea.value;
  const resetValue = textarea.hasAttribute("data-starter")
    ? textarea.getAttribute("data-starter")
    : serverValue;
  const draftKey = textarea.getAttribute("data-draft-key") || "";

  let initial = serverValue;
  let draftRestored = false;
  if (draftKey) {
    const draft = readDraft(draftKey);
    if (draft !== null && draft !== serverValue) {
      initial = draft;
      draftRestored = true;
    }
  }
  textarea.value = initial;

  const readOnly = textarea.readOnly || textarea.disabled;

  let saveTimer = null;
  let suppressSave = false;
  function saveNow() {
    if (saveTimer !== null) {
      clearTimeout(saveTimer);
      saveTimer = null;
    }
    if (!draftKey) return;
    const value = textarea.value;
    // Storage mirrors the editor whenever it differs from what the server
    // rendered; once they match again there is nothing to keep.
    if (value === serverValue) removeDraft(draftKey);
    else writeDraft(draftKey, value);
  }
  function scheduleSave() {
    if (!draftKey) return;
    if (saveTimer !== null) clearTimeout(saveTimer);
    saveTimer = setTimeout(saveNow, SAVE_DELAY_MS);
  }

  const runKeys = (attr) => () => {
    saveNow();
    return pressButton(textarea, attr);
  };

  const extensions = [
    // Run / submit shortcuts win over defaultKeymap's Mod-Enter (insertBlankLine).
    Prec.highest(
      keymap.of([
        { key: "Mod-Enter", run: runKeys("data-editor-run") },
        { key: "Ctrl-Enter", run: runKeys("data-editor-run") },
        { key: "Shift-Mod-Enter", run: runKeys("data-editor-submit") },
        { key: "Shift-Ctrl-Enter", run: runKeys("data-editor-submit") },
      ])
    ),
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    bracketMatching(),
    closeBrackets(),
    rectangularSelection(),
    crosshairCursor(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    python(),
    indentUnit.of("    "),
    EditorState.tabSize.of(4),
    // Tab / Shift+Tab indent and dedent. To move focus out of the editor
    // with the keyboard press Escape, then Tab (or Shift+Tab) within two
    // seconds; Ctrl+M (Shift+Alt+M on macOS) toggles that "Tab moves focus"
    // mode permanently. Both come from @codemirror/view + defaultKeymap.
    keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, indentWithTab]),
    theme,
    EditorView.contentAttributes.of(contentAttributes(textarea)),
    EditorState.readOnly.of(readOnly),
    EditorView.editable.of(!textarea.disabled),
    EditorView.updateListener.of((update) => {
      if (!update.docChanged) return;
      textarea.value = update.state.doc.toString();
      if (!suppressSave) scheduleSave();
    }),
  ];

  const wrapper = document.createElement("div");
  wrapper.className = WRAPPER_CLASS;
  textarea.insertAdjacentElement("afterend", wrapper);

  const view = new EditorView({
    state: EditorState.create({ doc: initial, extensions }),
    parent: wrapper,
  });

  // Hide, but keep it in the form: it is what gets submitted.
  textarea.hidden = true;
  textarea.style.display = "none";
  textarea.setAttribute("aria-hidden", "true");

  function setDoc(value) {
    if (value === view.state.doc.toString()) return;
    view.dispatch({
      changes: { from: 0, to: view.state.doc.length, insert: value },
      selection: { anchor: 0 },
      scrollIntoView: true,
    });
  }

  const controller = {
    view,
    textarea,
    reset() {
      if (saveTimer !== null) clearTimeout(saveTimer);
      saveTimer = null;
      if (draftKey) removeDraft(draftKey);
      // A normal (undoable) transaction, so Ctrl+Z brings the code back.
      // The textarea is synced as usual, but the reset itself is not saved
      // as a draft: until the learner types again, a reload shows the
      // server-rendered code. The next edit starts a new draft.
      suppressSave = true;
      try {
        setDoc(resetValue);
      } finally {
        suppressSave = false;
      }
      view.focus();
    },
    flush: saveNow,
  };
  editors.set(textarea, controller);

  // Labels point at the hidden textarea; send their clicks to the editor.
  labelFor(textarea).forEach((label) => {
    label.addEventListener("click", (event) => {
      if (!editors.has(textarea) || !view.dom.isConnected) return;
      event.preventDefault();
      view.focus();
    });
  });

  // Constraint validation (required, maxlength) on a hidden control cannot
  // show its bubble; at least put the cursor where the problem is.
  textarea.addEventListener("invalid", () => view.focus());

  const form = textarea.form;
  if (form) {
    // <button type="reset"> puts the textarea back to its default value.
    form.addEventListener("reset", () => {
      setTimeout(() => setDoc(textarea.value), 0);
    });
  }

  // Show reset controls that the page renders hidden for no-JS visitors.
  formControls(textarea, "data-editor-reset").forEach((el) => {
    if (el.hasAttribute("hidden")) el.removeAttribute("hidden");
  });

  if (draftRestored) {
    textarea.setAttribute("data-draft-restored", "");
  }
  textarea.dispatchEvent(
    new CustomEvent("coldstart:editor-ready", {
      bubbles: true,
      detail: { view, textarea, draftRestored },
    })
  );
  return view;
}

function upgrade(root) {
  root = root || document;
  const created = [];
  if (!root || typeof root.querySelectorAll !== "function") return created;
  const found = Array.prototype.slice.call(root.querySelectorAll(SELECTOR));
  if (root.matches && root.matches(SELECTOR)) found.unshift(root);
  found.forEach((textarea) => {
    try {
      const view = upgradeOne(textarea);
      if (view) created.push(view);
    } catch (error) {
      // Leave the plain textarea usable if anything goes wrong.
      textarea.hidden = false;
      textarea.style.display = "";
      textarea.removeAttribute("aria-hidden");
      if (window.console) console.error("ColdstartEditor: upgrade failed", error);
    }
  });
  return created;
}

// ---------------------------------------------------------------- wiring

function onResetClick(event) {
  const control = event.target && event.target.closest && event.target.closest("[data-editor-reset]");
  if (!control) return;
  // Controls associated with a form (buttons, inputs) know it; links do not.
  const form = control.form || control.closest("form");
  const scope = form || control.parentElement || document;
  let targets = [];
  if (form) {
    targets = Array.prototype.filter.call(form.elements, (el) => el.matches && el.matches(SELECTOR));
  } else {
    targets = Array.prototype.slice.call(scope.querySelectorAll(SELECTOR));
  }
  // Optional data-editor-reset="<textarea id>" picks one editor out of several.
  const wanted = control.getAttribute("data-editor-reset");
  if (wanted) targets = targets.filter((t) => t.id === wanted);
  const controllers = targets.map((t) => editors.get(t)).filter(Boolean);
  if (!controllers.length) return;
  event.preventDefault();
  const message =
    control.getAttribute("data-confirm-message") ||
    "Discard your changes and restore the original code? Your local draft will be deleted.";
  if (!window.confirm(message)) return;
  controllers.forEach((c) => c.reset());
}

function flushAll() {
  document.querySelectorAll(SELECTOR).forEach((t) => {
    const c = editors.get(t);
    if (c) c.flush();
  });
}

if (!window.ColdstartEditor) {
  window.ColdstartEditor = {
    upgrade,
    // The EditorView mounted for a textarea, or undefined.
    get(textarea) {
      const c = editors.get(textarea);
      return c ? c.view : undefined;
    },
  };

  document.addEventListener("click", onResetClick);
  // htmx fires htmx:load for the initial body and for every swapped-in fragment.
  document.addEventListener("htmx:load", (event) => {
    upgrade((event.detail && event.detail.elt) || event.target);
  });
  // Don't lose the last 300 ms of typing when leaving the page.
  window.addEventListener("pagehide", flushAll);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => upgrade(document));
  } else {
    upgrade(document);
  }
}
