"""How a pipeline alert reaches people: e-mail through Airflow's SMTP provider, and a group robot's
webhook — DingTalk (钉钉), WeCom (企业微信), Feishu (飞书) — or a plain JSON POST.

What went wrong, and the Chinese text that says it, is composed elsewhere (`minqing.run_alerts`);
here one `Alert` goes to every notifier that is configured, each on its own: one that fails is
logged and reported as failed, and the others still go out.

Secrets are Airflow connections only (the metadata database, a secrets backend, or an
`AIRFLOW_CONN_<ID>` environment variable in Airflow's JSON form), never code or settings:
- e-mail is on when MINQING_ALERT_EMAIL_TO names recipients; it is sent through
  `SmtpHook` with the connection MINQING_ALERT_SMTP_CONN_ID (default `smtp_default`), whose
  extra `from_email` is the sender (else its login, when that is an address);
- the webhook is on when the connection MINQING_ALERT_WEBHOOK_CONN_ID (default
  `minqing_alert_webhook`) exists: `host` holds the robot's whole URL, `password` its signing
  secret (optional), extra `{"kind": "dingtalk" | "wecom" | "feishu" | "json"}` (default: from the
  host name, else `json`).

Connections are read with `airflow.sdk.BaseHook.get_connection`: inside a task (or a triggerer's
callback) through the supervisor, which sees every connection; in a plain process, from the
`AIRFLOW_CONN_*` variables and any secrets backend configured, but not the metadata database.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import html
import json
import logging
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

from minqing import config

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"
WEBHOOK_CONN_ID = "minqing_alert_webhook"
WEBHOOK_TIMEOUT_SECONDS = 10
KINDS = ("dingtalk", "wecom", "feishu", "json")
# a robot URL's host name → its kind, when the connection's extra does not say
KIND_BY_HOST = (("dingtalk.com", "dingtalk"), ("weixin.qq.com", "wecom"), ("feishu.cn", "feishu"),
                ("larksuite.com", "feishu"))
WECOM_MARKDOWN_BYTES = 4096  # WeCom refuses a markdown content longer than this (UTF-8 bytes)
ROBOT_TEXT_BYTES = 16_000  # DingTalk and Feishu take request bodies up to about 20 KB
TRUNCATED = "…（已截断）"
SIGNATURE_HEADER = "X-Minqing-Signature"  # the generic JSON kind's: sha256=<hex HMAC of the body>


@dataclass(frozen=True)
class Alert:
    """One notification: a one-line subject and the body's lines (Chinese), and where it comes from."""

    subject: str
    lines: tuple[str, ...]
    day: dt.date | None = None
    dag_id: str | None = None
    run_id: str | None = None
    link: str | None = None  # the run's page in the Airflow UI, when known

    def __post_init__(self):
        lines = self.lines.splitlines() if isinstance(self.lines, str) else self.lines
        object.__setattr__(self, "lines", tuple(str(line) for line in lines))
        object.__setattr__(self, "subject", " ".join(str(self.subject).split()))  # one line: a mail header

    @property
    def extra_link(self) -> str | None:
        """The link, when no line already gives it."""
        if self.link and not any(self.link in line for line in self.lines):
            return self.link
        return None

    def text(self) -> str:
        """Subject, a blank line, the lines, and the run's link after a blank line."""
        tail = ["", self.extra_link] if self.extra_link else []
        return "\n".join([self.subject, "", *self.lines, *tail])


def notify(alert: Alert) -> list[str]:
    """Send to every configured notifier; one line per notifier saying what was sent where, or that
    it failed and why (`… failed: reason`, also logged as an error). Never raises; nothing configured
    is [] (and an INFO line)."""
    results = []
    recipients = email_recipients()
    if recipients:
        smtp_conn = config.env("MINQING_ALERT_SMTP_CONN_ID") or SMTP_CONN_ID
        results.append(_attempt(f"email to {', '.join(recipients)} via {smtp_conn}",
                                lambda: _send_email(alert, recipients, smtp_conn)))
    webhook_conn = config.env("MINQING_ALERT_WEBHOOK_CONN_ID") or WEBHOOK_CONN_ID
    try:
        robot = webhook_robot(webhook_conn)
    except Exception as exc:  # noqa: BLE001 - an unreadable connection is a failed notifier, not a crash
        results.append(_failed(f"webhook via {webhook_conn}", _reason(exc)))
    else:
        if robot:
            results.append(_attempt(f"webhook {robot.kind} via {webhook_conn}", lambda: _post(robot, alert),
                                    hide=robot.private_parts()))
    if not results:
        log.info("no alert notifier is configured (MINQING_ALERT_EMAIL_TO, the Airflow connection %s): "
                 "not sent: %s", webhook_conn, alert.subject)
    return results


async def anotify(alert: Alert) -> list[str]:
    """`notify` from async code (Airflow's triggerer runs Deadline Alert callbacks as coroutines): the
    blocking sends run in a thread, so the event loop is not held up."""
    return await asyncio.to_thread(notify, alert)


def _attempt(what: str, send, hide: tuple[str, ...] = ()) -> str:
    try:
        send()
    except Exception as exc:  # noqa: BLE001 - one broken notifier must not stop the others
        return _failed(what, _reason(exc, hide))
    log.info("alert sent: %s", what)
    return what


def _failed(what: str, reason: str) -> str:
    log.error("alert not sent: %s: %s", what, reason)
    return f"{what} failed: {reason}"


def _reason(exc: Exception, hide: tuple[str, ...] = ()) -> str:
    """The exception in one line, with the robot's token and secret taken out."""
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    for private in sorted(hide, key=len, reverse=True):
        reason = reason.replace(private, "***")
    return reason


# -- e-mail -------------------------------------------------------------------------------------------

def email_recipients() -> list[str]:
    """MINQING_ALERT_EMAIL_TO: addresses separated by commas (or semicolons), each once."""
    found = [a.strip() for a in re.split(r"[,;]", config.env("MINQING_ALERT_EMAIL_TO") or "")]
    return list(dict.fromkeys(a for a in found if a))


def _send_email(alert: Alert, recipients: list[str], conn_id: str) -> None:
    with _alert_smtp_hook()(conn_id, alert.text()) as hook:
        sender = hook.from_email or (hook.smtp_user if "@" in hook.smtp_user else None)
        if not sender:
            raise ValueError(f"no sender address: set from_email in the extra of the connection {conn_id}")
        hook.send_email_smtp(to=recipients, subject=alert.subject, html_content=email_html(alert),
                             from_email=sender, mime_subtype="alternative", mime_charset="utf-8")


@lru_cache(maxsize=1)
def _alert_smtp_hook():
    """SmtpHook (connection, TLS, login and retries as its connection says) whose message is plain
    text with the HTML as its alternative; the provider's own sends the HTML alone. Built on first
    use, so that importing this module does not import Airflow."""
    from email.mime.text import MIMEText

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    class AlertSmtpHook(SmtpHook):
        def __init__(self, smtp_conn_id: str, plain_text: str):
            super().__init__(smtp_conn_id=smtp_conn_id)
            self.plain_text = plain_text

        def _build_mime_message(self, *args, **kwargs):
            message, recipients = super()._build_mime_message(*args, **kwargs)
            message.get_payload().insert(0, MIMEText(self.plain_text, "plain", "utf-8"))  # first: least preferred
            return message, recipients

    return AlertSmtpHook


def email_html(alert: Alert) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in alert.lines)
    link = ""
    if alert.extra_link:
        link = f'<p><a href="{html.escape(alert.extra_link)}">{html.escape(alert.extra_link)}</a></p>'
    return (f'<html lang="zh-CN"><body><p><strong>{html.escape(alert.subject)}</strong></p>'
            f'<ul style="white-space: pre-wrap">{items}</ul>{link}</body></html>')


# -- webhook ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Robot:
    kind: str
    url: str
    secret: str | None = None

    def private_parts(self) -> tuple[str, ...]:
        """What must not appear in a log: the robot's token (the URL's query, or the last part of its
        path: Feishu's) and the secret."""
        parts = urlsplit(self.url)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        last = parts.path.rsplit("/", 1)[-1]
        return tuple(p for p in (self.url, tail, parts.query, last if len(last) >= 16 else "", self.secret)
                     if p and len(p) > 3)


def webhook_robot(conn_id: str) -> Robot | None:
    """The robot of the Airflow connection, or None when there is no such connection."""
    conn = _connection(conn_id)
    if conn is None:
        return None
    url = (conn.host or "").strip()
    if not url:
        raise ValueError(f"the connection {conn_id} has no host: put the robot's whole URL there")
    if "://" not in url:
        url = f"https://{url}"
    kind = str(conn.extra_dejson.get("kind") or guess_kind(url)).strip().lower()
    if kind not in KINDS:
        raise ValueError(f"the connection {conn_id} says kind {kind!r}; expected one of {', '.join(KINDS)}")
    return Robot(kind, url, conn.password or None)


def _connection(conn_id: str):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def guess_kind(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return next((kind for suffix, kind in KIND_BY_HOST if host == suffix or host.endswith(f".{suffix}")), "json")


def webhook_request(robot: Robot, alert: Alert, now: float | None = None) -> tuple[str, bytes, dict[str, str]]:
    """(URL, body, headers) of the POST for the robot's kind, signed when it has a secret."""
    now = time.time() if now is None else now
    url, headers = robot.url, {"Content-Type": "application/json; charset=utf-8"}
    if robot.kind == "dingtalk":
        payload = {"msgtype": "markdown",
                   "markdown": {"title": alert.subject, "text": _fit(_markdown(alert, "\n\n"), ROBOT_TEXT_BYTES)}}
        if robot.secret:
            timestamp = str(int(now * 1000))
            sign = quote(dingtalk_sign(timestamp, robot.secret), safe="")
            url += f"{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
    elif robot.kind == "wecom":
        payload = {"msgtype": "markdown", "markdown": {"content": _fit(_markdown(alert, "\n"), WECOM_MARKDOWN_BYTES)}}
    elif robot.kind == "feishu":
        payload = {"msg_type": "text", "content": {"text": _fit(alert.text(), ROBOT_TEXT_BYTES)}}
        if robot.secret:
            timestamp = str(int(now))
            payload = {"timestamp": timestamp, "sign": feishu_sign(timestamp, robot.secret), **payload}
    else:
        payload = {"subject": alert.subject, "lines": list(alert.lines), "text": alert.text(),
                   "day": alert.day.isoformat() if alert.day else None, "dag_id": alert.dag_id,
                   "run_id": alert.run_id, "link": alert.link}
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    if robot.kind == "json" and robot.secret:
        headers[SIGNATURE_HEADER] = "sha256=" + hmac.new(robot.secret.encode(), body, hashlib.sha256).hexdigest()
    return url, body, headers


def dingtalk_sign(timestamp_ms: str, secret: str) -> str:
    """DingTalk's 加签: base64(HMAC-SHA256(key=secret, msg="timestamp\\nsecret")), before URL encoding."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(timestamp_s: str, secret: str) -> str:
    """Feishu's 签名校验: base64(HMAC-SHA256(key="timestamp\\nsecret", msg=empty))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _markdown(alert: Alert, separator: str) -> str:
    """The robots' markdown: the subject as a heading, the lines (DingTalk needs a blank line to break
    one), the link as a link."""
    link = [f"[{alert.extra_link}]({alert.extra_link})"] if alert.extra_link else []
    return separator.join([f"#### {alert.subject}", *alert.lines, *link])


def _fit(text: str, limit: int) -> str:
    """The text within `limit` UTF-8 bytes, cut on a character and marked when it had to be cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    mark = f"\n{TRUNCATED}"
    return data[: limit - len(mark.encode("utf-8"))].decode("utf-8", "ignore") + mark


def _post(robot: Robot, alert: Alert) -> None:
    import httpx

    url, body, headers = webhook_request(robot, alert)
    response = httpx.post(url, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS)
    check_answer(robot.kind, response.status_code, response.text)


class RobotRefused(Exception):
    """The receiver answered, and not with success."""


def check_answer(kind: str, status: int, text: str) -> None:
    """The robots answer HTTP 200 with an error code in JSON (DingTalk and WeCom `errcode`, Feishu
    `code`): anything but 0 is a failure, with the robot's message; the generic kind needs a 2xx."""
    if not 200 <= status < 300:
        raise RobotRefused(f"HTTP {status}: {text[:300]}")
    if kind == "json":
        return
    try:
        answer = json.loads(text)
    except ValueError:
        raise RobotRefused(f"HTTP {status} without a JSON answer: {text[:300]!r}") from None
    code_key, message_key = ("code", "msg") if kind == "feishu" else ("errcode", "errmsg")
    code = answer.get(code_key, answer.get("StatusCode")) if isinstance(answer, dict) else None
    if code != 0:
        message = answer.get(message_key) if isinstance(answer, dict) else answer
        raise RobotRefused(f"{kind} answered {code_key} {code}: {message}")
