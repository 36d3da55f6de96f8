"""The row of conversation tabs above the log, drawn as one widget.

It looks and behaves as Textual's ``Tabs`` (labels with a cell of padding, the active
one lit, a bar under the row marking it, scrolled to keep the active tab in the middle,
``left``/``right`` when focused, a click activates), but a tab is not a widget: with
``Tabs`` opening a tab mounted one (a layout of the whole screen, ~90 ms of CPU with 50
tabs) and every unread mark restyled one (a stylesheet pass each), which during a burst
of messages into 50 tabs kept keys waiting (issue #22). Here adding, marking and
activating a tab change a few fields and redraw these two lines, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.color import Color
from textual.css.styles import StylesBase
from textual.geometry import Size
from textual.message import Message
from textual.renderables.bar import Bar
from textual.strip import Strip
from textual.widget import Widget

PADDING = 1  # cells each side of a label, as a Tab's padding


@dataclass
class _Tab:
    key: str
    label: Text
    unread: bool = False
    closed: bool = False
    width: int = field(init=False)

    def __post_init__(self) -> None:
        self.width = self.label.cell_len + 2 * PADDING


class Layers:
    """Styles of component classes laid over each other, the later over the earlier, on
    the widget's own (``get_component_rich_style`` with several names styles only the
    last one): the colours of a ``Tab`` with ``-active``, ``-unread`` and ``-closed``."""

    def __init__(self, widget: Widget) -> None:
        self.widget = widget
        self._under = self._layer(
            (Color(0, 0, 0, 0), Color(255, 255, 255, 0), Style(), 1.0),
            [node.styles for node in reversed(widget.ancestors_with_self)],
        )
        self._made: dict[tuple[str, ...], Style] = {}

    @staticmethod
    def _layer(
        state: tuple[Color, Color, Style, float], layers: Sequence[StylesBase]
    ) -> tuple[Color, Color, Style, float]:
        """What ``DOMNode.rich_style`` does down a widget's ancestors."""
        background, color, style, opacity = state
        for styles in layers:
            has_rule = styles.has_rule
            opacity *= styles.opacity
            text_background = background
            if has_rule("background"):
                tinted = styles.background.tint(styles.background_tint)
                text_background = background + tinted
                background += tinted.multiply_alpha(opacity)
            if has_rule("color"):
                color = styles.color
            style += styles.text_style
            if has_rule("auto_color") and styles.auto_color:
                color = text_background.get_contrast_text(color.a)
        return background, color, style, opacity

    def of(self, names: tuple[str, ...]) -> Style:
        made = self._made.get(names)
        if made is None:
            layers = [self.widget.get_component_styles(name) for name in names]
            background, color, style, _ = self._layer(self._under, layers)
            made = style + Style.from_color(
                (background + color).rich_color if (background.a or color.a) else None,
                background.rich_color if background.a else None,
            )
            self._made[names] = made
        return made


class TabBar(Widget, can_focus=True):
    """Tabs by key (the main screen uses conversation ids); posts :class:`Activated`
    when the agent picks one (click, ``left``/``right``)."""

    BINDINGS = [
        Binding("left", "step(-1)", "Previous tab", show=False),
        Binding("right", "step(1)", "Next tab", show=False),
    ]
    COMPONENT_CLASSES = {
        "tab-bar--tab",
        "tab-bar--hover",
        "tab-bar--active",
        "tab-bar--unread",
        "tab-bar--closed",
        "tab-bar--bar",
    }
    # The colours of Textual's Tab, Tabs and Underline (tab-bar--unread and --closed are
    # the console's own marks, in app.tcss).
    DEFAULT_CSS = """
    TabBar {
        width: 100%;
        height: 2;
        & > .tab-bar--tab { color: $foreground 50%; }
        & > .tab-bar--hover { color: $foreground; }
        & > .tab-bar--active { color: $foreground; }
        & > .tab-bar--bar {
            color: $block-cursor-background;
            background: $foreground 10%;
        }
        &:focus {
            & > .tab-bar--active {
                text-style: $block-cursor-text-style;
                color: $block-cursor-foreground;
                background: $block-cursor-background;
            }
            & > .tab-bar--bar { background: $foreground 30%; }
        }
    }
    """

    class Activated(Message):
        """The agent picked the tab ``key``."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tabs: dict[str, _Tab] = {}
        self.active: str | None = None
        self._scroll_x = 0
        self._hover: str | None = None

    # ------------------------------------------------------------------ attributes down

    def __contains__(self, key: object) -> bool:
        return key in self._tabs

    def __len__(self) -> int:
        return len(self._tabs)

    def keys(self) -> list[str]:
        return list(self._tabs)

    def label(self, key: str) -> Text:
        return self._tabs[key].label

    def marks(self, key: str) -> tuple[bool, bool]:
        """(unread, closed) of the tab ``key``."""
        tab = self._tabs[key]
        return tab.unread, tab.closed

    def add_tab(self, key: str, label: Text) -> None:
        """A tab at the end (the first one added is made active, as with ``Tabs``)."""
        self._tabs[key] = _Tab(key, label)
        if self.active is None:
            self.activate(key)
        self.refresh()

    def remove_tab(self, key: str) -> str | None:
        """Take the tab away; answers the tab made active instead (the next one, else
        the one before), if ``key`` was the active one."""
        keys = list(self._tabs)
        if key not in self._tabs:
            return None
        index = keys.index(key)
        del self._tabs[key]
        keys.remove(key)
        if key == self._hover:
            self._hover = None
        if key != self.active:
            self.refresh()
            return None
        self.active = None
        if keys:
            self.activate(keys[min(index, len(keys) - 1)])
        self.refresh()
        return self.active

    def set_label(self, key: str, label: Text) -> None:
        tab = self._tabs[key]
        if label != tab.label:
            self._tabs[key] = _Tab(key, label, tab.unread, tab.closed)
            self._scroll_to_active()
            self.refresh()

    def mark(self, key: str, *, unread: bool, closed: bool) -> None:
        tab = self._tabs[key]
        if (tab.unread, tab.closed) != (unread, closed):
            tab.unread, tab.closed = unread, closed
            self.refresh()

    def activate(self, key: str) -> None:
        """Light ``key`` and scroll it into the middle (no message: the caller knows)."""
        if key not in self._tabs:
            raise ValueError(f"No tab {key!r}")
        self.active = key
        self._scroll_to_active()
        self.refresh()

    # ------------------------------------------------------------------ geometry

    def _spans(self) -> list[tuple[_Tab, int]]:
        """Every tab with the cell where it starts."""
        spans, x = [], 0
        for tab in self._tabs.values():
            spans.append((tab, x))
            x += tab.width
        return spans

    def _total_width(self) -> int:
        return sum(tab.width for tab in self._tabs.values())

    def _max_scroll(self) -> int:
        return max(0, self._total_width() - self.size.width)

    def _scroll_to_active(self) -> None:
        """The active tab's middle in the bar's middle, as far as the row allows (what
        ``Tabs`` does with ``scroll_to_center``)."""
        width = self.size.width
        for tab, start in self._spans():
            if tab.key == self.active:
                window_center = self._scroll_x + width / 2
                delta = int(start + tab.width / 2 - window_center + 0.5)
                scroll = min(max(0, self._scroll_x + delta), self._max_scroll())
                if not scroll <= start < scroll + width:  # its start stays in view
                    scroll = min(start, self._max_scroll())
                self._scroll_x = scroll
                return

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_active()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self._total_width()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 2

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        scroll = min(self._scroll_x, self._max_scroll())
        if not self._tabs:  # Tabs without a tab: its bar moves up to the first line
            return self._bar(width) if y == 0 else Strip.blank(width, base)
        if y == 0:
            segments: list[Segment] = []
            styles = Layers(self)
            for tab, _ in self._spans():
                style = styles.of(self._tab_names(tab))
                pad = Segment(" " * PADDING, Style(bgcolor=style.bgcolor))  # as a padding
                segments.append(pad)
                for part in tab.label.render(self.app.console, end=""):
                    # The label's own styles over the tab's, as on a Tab.
                    segments.append(Segment(part.text, style + part.style))
                segments.append(pad)
            line = Strip(segments)
        elif y == 1:
            line = self._bar(max(width, self._total_width()))
        else:
            return Strip.blank(width, base)
        return line.crop_extend(scroll, scroll + width, Style(bgcolor=base.bgcolor))

    def _tab_names(self, tab: _Tab) -> tuple[str, ...]:
        names = ["tab-bar--tab"]
        if tab.key == self.active:
            names.append("tab-bar--active")
        elif tab.key == self._hover:
            names.append("tab-bar--hover")
        if tab.unread:
            names.append("tab-bar--unread")
        if tab.closed:
            names.append("tab-bar--closed")
        return tuple(names)

    def _bar(self, width: int) -> Strip:
        bar_style = self.get_component_rich_style("tab-bar--bar")
        start = end = 0
        for tab, x in self._spans():
            if tab.key == self.active:
                start, end = x + PADDING, x + tab.width - PADDING
        bar = Bar(
            highlight_range=(start, end),
            highlight_style=Style.from_color(bar_style.color),
            background_style=Style.from_color(bar_style.bgcolor),
        )
        console = self.app.console
        options = console.options.update_width(width)
        return Strip(Segment.apply_style(console.render(bar, options), self.rich_style))

    # ------------------------------------------------------------------ keys and mouse

    def _at(self, x: int) -> str | None:
        cell = x + min(self._scroll_x, self._max_scroll())
        for tab, start in self._spans():
            if start <= cell < start + tab.width:
                return tab.key
        return None

    def action_step(self, step: int) -> None:
        keys = list(self._tabs)
        if not keys:
            return
        if self.active is None:
            key = keys[0 if step > 0 else -1]
        else:
            key = keys[(keys.index(self.active) + step) % len(keys)]
        self.activate(key)
        self.post_message(self.Activated(key))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        key = self._at(event.x)
        self.focus()
        if key is not None:
            self.activate(key)
            self.post_message(self.Activated(key))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        hover = self._at(event.x) if event.y == 0 else None
        if hover != self._hover:
            self._hover = hover
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.refresh()
