"""The fake Telegram Bot API, served under /telegram/: only `sendMessage`, which alerts use.

Knobs on `SandboxState` (set up by `prepare`):
  telegram_messages    {"chat_id", "text"} for every message accepted, in order
  telegram_down        True: every request answers 502, as a proxy in front of a dead service would
"""

import json
import time
from urllib.parse import parse_qs

from .wire import gateway_error, json_response


def prepare(state):
    state.telegram_messages = []
    state.telegram_down = False


def handle(state, request):
    if state.telegram_down:
        return gateway_error(502)
    if len(request.segments) != 2 or not request.segments[0].startswith("bot") or request.segments[1] != "sendMessage":
        return _refused(404, "Not Found")
    fields = {**request.params, **_body(request)}
    chat_id, text = str(fields.get("chat_id") or ""), str(fields.get("text") or "")
    if not chat_id:
        return _refused(400, "Bad Request: chat_id is empty")
    if not text.strip():
        return _refused(400, "Bad Request: message text is empty")
    state.telegram_messages.append({"chat_id": chat_id, "text": text})
    message = {"message_id": len(state.telegram_messages), "date": int(time.time()), "chat": {"id": chat_id},
               "text": text}
    return json_response({"ok": True, "result": message})


def _body(request):
    """Telegram takes form fields or JSON, as the Content-Type says."""
    if not request.body:
        return {}
    if "json" in (request.headers.get("Content-Type") or ""):
        try:
            body = json.loads(request.body)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    return {name: values[-1] for name, values in parse_qs(request.body.decode("utf-8", "replace")).items()}


def _refused(status, description):
    return json_response({"ok": False, "error_code": status, "description": description}, status)
