"""Every key of the console, in one table: the main screen's bindings, the footer, the help
screen and docs/console.md are all made from (or checked against) it.

Keys work while typing in the message box: none of them is a key the input uses for
editing (ctrl+a/e/k/u/w/d/x/c/v stay the input's).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Key:
    keys: str  # Textual key names, comma separated
    action: str
    description: str  # short, for the footer
    help: str = ""  # longer, for the help screen and the docs
    show: bool = True  # in the footer


MAIN_KEYS: tuple[Key, ...] = (
    Key("f1", "help", "Help", "Show this list of keys"),
    Key(
        "ctrl+g",
        "accept_next",
        "Grab",
        "Accept the next waiting conversation (the open tab if it is queued, else the "
        "highlighted one, else one offered to you, else the oldest one in the queue)",
    ),
    Key(
        "ctrl+n",
        "next_unread",
        "Unread",
        "Go to the next of my conversations with unread messages",
    ),
    Key(
        "ctrl+o",
        "toggle_note",
        "Note",
        "Switch the message box between a reply and a private note (agents only)",
    ),
    Key(
        "ctrl+t",
        "transfer",
        "Transfer",
        "Transfer the open conversation to another agent or a department",
    ),
    Key("ctrl+l", "close_conversation", "Close", "Close the open conversation (asks first)"),
    Key(
        "ctrl+f",
        "search",
        "Search",
        "Search all conversations on the server (notes too; filters for status, agent, "
        "department, label, dates)",
    ),
    Key("f3", "labels", "Labels", "Add or remove labels of the open conversation"),
    Key(
        "alt+l",
        "by_label",
        "By label",
        "List the open conversations with a label (search, label filter first)",
        show=False,
    ),
    Key(
        "alt+f",
        "narrow_lists",
        "Lists by label",
        "Show only the conversations with a label in the queue, mine and all open "
        "(the label in their titles; again: all of them)",
        show=False,
    ),
    Key("f5", "my_canned", "My replies", "Create, edit or delete my canned replies", show=False),
    Key(
        "f7",
        "earlier",
        "Earlier chats",
        "Open one of the visitor's earlier conversations (read-only)",
        show=False,
    ),
    Key("ctrl+s", "status", "Status", "Set my status: online, away or offline"),
    Key("ctrl+r", "refresh", "Refresh", "Reload the lists and the open conversation", show=False),
    Key(
        "f2",
        "app.link_code",
        "Link code",
        "Show a one-time code to link my Slack or Telegram account",
        show=False,
    ),
    Key(
        "f8",
        "app.monitor",
        "Monitor",
        "Live monitor (admins): visitors on the sites now, the queue, the agents; "
        "i invites the highlighted visitor",
        show=False,
    ),
    Key(
        "alt+w",
        "hide_tab",
        "Hide tab",
        "Hide the open tab (the conversation stays as it is)",
        show=False,
    ),
    *(Key(f"alt+{n}", f"switch_tab({n})", f"Tab {n}", show=False) for n in range(1, 10)),
    Key("alt+q", "focus_list('queue')", "Queue", "Go to the queue list", show=False),
    Key("alt+m", "focus_list('mine')", "Mine", "Go to my conversations", show=False),
    Key("alt+a", "focus_list('open')", "All open", "Go to all open conversations", show=False),
    Key("escape", "focus_composer", "Message box", "Back to the message box", show=False),
    Key("f4", "send_file", "Attach", "Send a file by path into the open conversation"),
    Key(
        "f6",
        "files",
        "Files",
        "List the open conversation's files: save one to the downloads folder or open it",
    ),
    Key("ctrl+q", "app.quit", "Quit", "Quit (the login token stays saved)"),
)

# Keys only an admin has (bound on the desk, refused and hidden for anyone else).
ADMIN_KEYS: tuple[Key, ...] = (
    Key(
        "f9",
        "admin",
        "Admin",
        "Admin screens (admins only): agents, departments, sites, logs, reports",
        show=False,
    ),
)

# Keys that live in widgets and dialogs, listed by the help screen and the docs.
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("alt+1 … alt+9", "Switch to conversation tab 1 to 9"),
    ("tab / shift+tab", "Move between the lists, the tabs and the message box"),
    ("up / down, enter", "In a list: move, open the conversation in a tab"),
    ("left / right", "On the tab bar: previous / next tab"),
    ("enter", "In the message box: send (a /shortcut is expanded first)"),
    ("/word, tab", "In the message box: complete a canned reply (up / down to choose)"),
    ("escape", "Close a dialog; hide the canned-reply list"),
    ("ctrl+a / ctrl+e", "Message box: start / end of line (ctrl+u, ctrl+k, ctrl+w delete)"),
)


def main_bindings() -> list[BindingType]:
    return [
        Binding(k.keys, k.action, k.description, show=k.show, priority=k.keys != "escape")
        for k in (*MAIN_KEYS, *ADMIN_KEYS)
    ]


def help_rows(admin: bool = False) -> list[tuple[str, str]]:
    rows = [
        (k.keys, k.help or k.description)
        for k in (*MAIN_KEYS, *(ADMIN_KEYS if admin else ()))
        if not k.action.startswith("switch_tab")
    ]
    return rows + list(OTHER_KEYS)
