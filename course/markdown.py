"""Lesson Markdown to safe HTML: markdown-it-py (CommonMark + tables), Pygments, nh3."""

from functools import cache

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True)

ALLOWED_TAGS = {
    "h2", "h3", "h4", "p", "a", "em", "strong", "code", "pre", "span", "ul", "ol", "li",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td", "hr", "br", "img", "del",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "span": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "th": {"style"},
    "td": {"style"},
    "h2": {"id"},
    "h3": {"id"},
}


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return f'<pre class="highlight"><code class="language-{lexer.aliases[0]}">{highlight(code, lexer, _FORMATTER)}</code></pre>'


@cache
def _parser() -> MarkdownIt:
    return (
        MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
        .enable("table")
        .enable("strikethrough")
    )


def render_markdown(text: str) -> str:
    """Render lesson Markdown; raw HTML in the source is escaped, and the output is sanitized anyway."""
    html = _parser().render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def pygments_css() -> str:
    return _FORMATTER.get_style_defs(".highlight")
