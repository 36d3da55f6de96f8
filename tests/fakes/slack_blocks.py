"""Slack's Block Kit limits, as its reference states them, for the local Slack to refuse
what real Slack refuses (``invalid_blocks``, ``invalid_arguments``): a bridge that builds a
header of 151 characters, an option of 76 or a modal title of 25 fails here as it would
there. Only the block and element types the bridge uses are known; others are refused.
"""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS_MAX = 50
MODAL_BLOCKS_MAX = 100
TEXT_MAX = 3000
ID_MAX = 255


def _text(where: str, obj: Any, limit: int, *, plain: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"{where}: must be a text object"]
    if plain and obj["type"] != "plain_text":
        return [f"{where}: must be plain_text"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"{where}: must be more than 0 characters"]
    if len(text) > limit:
        return [f"{where}: must be less than {limit + 1} characters"]
    return []


def _option(where: str, option: Any) -> list[str]:
    if not isinstance(option, dict):
        return [f"{where}: must be an option object"]
    problems = _text(f"{where}/text", option.get("text"), 75, plain=True)
    value = option.get("value")
    if not isinstance(value, str) or not 0 < len(value) <= 150:
        problems.append(f"{where}/value: must be 1 to 150 characters")
    return problems


def _element(where: str, element: Any) -> list[str]:
    if not isinstance(element, dict):
        return [f"{where}: must be an element"]
    kind = element.get("type")
    problems: list[str] = []
    if len(str(element.get("action_id", ""))) > ID_MAX:
        problems.append(f"{where}/action_id: must be less than 256 characters")
    if kind == "button":
        problems += _text(f"{where}/text", element.get("text"), 75, plain=True)
        if len(str(element.get("value", ""))) > 2000:
            problems.append(f"{where}/value: must be less than 2001 characters")
    elif kind == "static_select":
        if "placeholder" in element:
            problems += _text(f"{where}/placeholder", element["placeholder"], 150, plain=True)
        options, groups = element.get("options"), element.get("option_groups")
        if (options is None) == (groups is None):
            problems.append(f"{where}: needs exactly one of options and option_groups")
        for n, option in enumerate(options or []):
            problems += _option(f"{where}/options/{n}", option)
        if options is not None and not 0 < len(options) <= 100:
            problems.append(f"{where}/options: must hold 1 to 100 items")
        for g, group in enumerate(groups or []):
            problems += _text(
                f"{where}/option_groups/{g}/label", group.get("label"), 75, plain=True
            )
            inner = group.get("options") or []
            if not 0 < len(inner) <= 100:
                problems.append(f"{where}/option_groups/{g}/options: must hold 1 to 100 items")
            for n, option in enumerate(inner):
                problems += _option(f"{where}/option_groups/{g}/options/{n}", option)
        if groups is not None and not 0 < len(groups) <= 100:
            problems.append(f"{where}/option_groups: must hold 1 to 100 items")
    else:
        problems.append(f"{where}: unknown element type {kind!r}")
    return problems


def block_problems(blocks: Any, *, modal: bool = False) -> list[str]:
    """What Slack would refuse in ``blocks`` (empty when it would take them)."""
    if not isinstance(blocks, list):
        return ["/blocks: must be an array"]
    limit = MODAL_BLOCKS_MAX if modal else MESSAGE_BLOCKS_MAX
    problems = [f"/blocks: must hold at most {limit} blocks"] if len(blocks) > limit else []
    for n, block in enumerate(blocks):
        where = f"/blocks/{n}"
        if not isinstance(block, dict):
            problems.append(f"{where}: must be a block")
            continue
        kind = block.get("type")
        if len(str(block.get("block_id", ""))) > ID_MAX:
            problems.append(f"{where}/block_id: must be less than 256 characters")
        if kind == "header":
            problems += _text(f"{where}/text", block.get("text"), 150, plain=True)
        elif kind == "section":
            problems += _text(f"{where}/text", block.get("text"), TEXT_MAX)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10:
                problems.append(f"{where}/elements: must hold 1 to 10 items")
            for e, element in enumerate(elements):
                problems += _text(f"{where}/elements/{e}", element, TEXT_MAX)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 25:
                problems.append(f"{where}/elements: must hold 1 to 25 items")
            for e, element in enumerate(elements):
                problems += _element(f"{where}/elements/{e}", element)
        elif kind == "input" and modal:
            problems += _text(f"{where}/label", block.get("label"), 2000, plain=True)
            problems += _element(f"{where}/element", block.get("element"))
        else:
            problems.append(f"{where}: unsupported block type {kind!r}")
    return problems


def view_problems(view: Any) -> list[str]:
    """What ``views.open`` would refuse in a modal view."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        return ["/view/type: must be modal"]
    problems = _text("/view/title", view.get("title"), 24, plain=True)
    for key in ("submit", "close"):
        if key in view:
            problems += _text(f"/view/{key}", view[key], 24, plain=True)
    has_input = any(
        isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
    )
    if has_input and "submit" not in view:
        problems.append("/view/submit: required when the view has input blocks")
    if len(str(view.get("callback_id", ""))) > ID_MAX:
        problems.append("/view/callback_id: must be less than 256 characters")
    if len(str(view.get("private_metadata", ""))) > TEXT_MAX:
        problems.append("/view/private_metadata: must be less than 3001 characters")
    return problems + [f"/view{p}" for p in block_problems(view.get("blocks"), modal=True)]
