"""Alerts reach real receivers started here on 127.0.0.1 (an SMTP server, an HTTP server answering as
the group robots do), configured as in production: Airflow connections in `AIRFLOW_CONN_*`
variables (JSON) and the MINQING_ALERT_* settings. No database."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import logging
import socket
import time
import warnings
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from minqing import alerts
from minqing.alerts import Alert, anotify, notify

ALERT = Alert(
    subject="【民情】2026-07-30 日报运行失败",
    lines=("失败的任务：validate_hotline（12345 热线）", "排查：minqing held list",
           "隔离行：select * from raw.quarantine"),
    day=dt.date(2026, 7, 30), dag_id="minqing_daily", run_id="scheduled__2026-07-30T22:00:00+00:00",
    link="http://localhost:8080/dags/minqing_daily/runs/scheduled__2026-07-30",
)
TOKEN = "t0k-secret-robot-token"
SECRET = "SEC0123456789abcdef"
SETTINGS = ("MINQING_ALERT_EMAIL_TO", "MINQING_ALERT_SMTP_CONN_ID", "MINQING_ALERT_WEBHOOK_CONN_ID")
CONNECTIONS = ("AIRFLOW_CONN_SMTP_DEFAULT", "AIRFLOW_CONN_MINQING_ALERT_WEBHOOK", "AIRFLOW_CONN_ALERT_MAIL")


@pytest.fixture(scope="module", autouse=True)
def _airflow_logging_put_back():
    """Importing Airflow configures the process's root logger (a stdout handler, INFO); put it back
    after this module, so that the tests after it log as they did."""
    root = logging.getLogger()
    handlers, level, filters = root.handlers[:], root.level, warnings.filters[:]
    import airflow.sdk  # noqa: F401 - here, inside the fixture

    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    warnings.filters[:] = filters


@pytest.fixture(autouse=True)
def _no_alert_settings(monkeypatch):
    for name in SETTINGS + CONNECTIONS:
        monkeypatch.delenv(name, raising=False)


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the receiver"
        time.sleep(0.02)


@pytest.fixture()
def closed_port():
    """A port bound and not listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _smtp_connection(monkeypatch, port: int, conn_id: str = "smtp_default") -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"from_email": "minqing@liuliqiao.example.cn", "disable_ssl": True, "disable_tls": True,
                  "timeout": 5, "retry_limit": 0}}))


def _webhook_connection(monkeypatch, url: str, kind: str | None = None, secret: str | None = None) -> None:
    conn = {"conn_type": "http", "host": url}
    if kind:
        conn["extra"] = {"kind": kind}
    if secret:
        conn["password"] = secret
    monkeypatch.setenv("AIRFLOW_CONN_MINQING_ALERT_WEBHOOK", json.dumps(conn, ensure_ascii=False))


def _one_request(alert_robot) -> tuple[dict, dict]:
    assert len(alert_robot.requests) == 1
    request = alert_robot.requests[0]
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    text = request["body"].decode("utf-8")  # UTF-8, and the Chinese as itself, not \u escapes
    assert "日报运行失败" in text
    return request, json.loads(text)


# -- e-mail -------------------------------------------------------------------------------------------

def test_email_reaches_every_recipient_with_the_chinese_subject_and_body_intact(smtp_server, monkeypatch):
    _smtp_connection(monkeypatch, smtp_server.port, "alert_mail")
    monkeypatch.setenv("MINQING_ALERT_SMTP_CONN_ID", "alert_mail")
    monkeypatch.setenv("MINQING_ALERT_EMAIL_TO", "duty@liuliqiao.example.cn, center@fengtai.example.cn")

    sent = notify(ALERT)

    assert sent == ["email to duty@liuliqiao.example.cn, center@fengtai.example.cn via alert_mail"]
    _wait_for(lambda: smtp_server.envelopes)
    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == ["duty@liuliqiao.example.cn", "center@fengtai.example.cn"]
    assert envelope.mail_from == "minqing@liuliqiao.example.cn"
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Subject"] == ALERT.subject
    assert message["To"] == "duty@liuliqiao.example.cn, center@fengtai.example.cn"
    assert message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n").rstrip("\n") == ALERT.text()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<li>失败的任务：validate_hotline（12345 热线）</li>" in html and f'href="{ALERT.link}"' in html


# -- webhooks -----------------------------------------------------------------------------------------

def test_dingtalk_gets_markdown_signed_in_the_url(alert_robot, monkeypatch):
    _webhook_connection(monkeypatch, alert_robot.url(f"/robot/send?access_token={TOKEN}"), "dingtalk", SECRET)
    before = time.time()

    assert notify(ALERT) == ["webhook dingtalk via minqing_alert_webhook"]

    request, body = _one_request(alert_robot)
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == ALERT.subject
    text = body["markdown"]["text"]
    assert text.startswith(f"#### {ALERT.subject}\n\n") and "排查：minqing held list" in text and ALERT.link in text
    url = urlsplit(request["path"])
    query = parse_qs(url.query)
    assert url.path == "/robot/send" and query["access_token"] == [TOKEN]
    timestamp = query["timestamp"][0]
    assert before * 1000 - 1000 <= int(timestamp) <= time.time() * 1000 + 1000
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest())
    assert f"&timestamp={timestamp}&sign={quote(expected.decode(), safe='')}" in request["path"]  # URL-encoded
    assert query["sign"] == [expected.decode()]


def test_dingtalk_without_a_secret_is_not_signed(alert_robot, monkeypatch):
    _webhook_connection(monkeypatch, alert_robot.url(f"/robot/send?access_token={TOKEN}"), "dingtalk")
    assert notify(ALERT) == ["webhook dingtalk via minqing_alert_webhook"]
    request, _ = _one_request(alert_robot)
    assert request["path"] == f"/robot/send?access_token={TOKEN}"


def test_wecom_gets_markdown_within_its_4096_bytes(alert_robot, monkeypatch):
    _webhook_connection(monkeypatch, alert_robot.url(f"/cgi-bin/webhook/send?key={TOKEN}"), "wecom", SECRET)

    assert notify(ALERT) == ["webhook wecom via minqing_alert_webhook"]
    request, body = _one_request(alert_robot)
    assert request["path"] == f"/cgi-bin/webhook/send?key={TOKEN}"  # WeCom robots are not signed
    assert body == {"msgtype": "markdown", "markdown": {"content": "\n".join(
        [f"#### {ALERT.subject}", *ALERT.lines, f"[{ALERT.link}]({ALERT.link})"])}}

    long = Alert(subject=ALERT.subject, lines=tuple(f"第{i}条：已超期工单，社区待办" for i in range(400)))
    assert notify(long) == ["webhook wecom via minqing_alert_webhook"]
    content = json.loads(alert_robot.requests[1]["body"])["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096 and content.endswith("\n…（已截断）")
    assert content.startswith(f"#### {ALERT.subject}\n第0条")


def test_feishu_gets_text_signed_in_the_body(alert_robot, monkeypatch):
    _webhook_connection(monkeypatch, alert_robot.url(f"/open-apis/bot/v2/hook/{TOKEN}"), "feishu", SECRET)
    alert_robot.answer = {"code": 0, "msg": "success", "data": {}}
    before = time.time()

    assert notify(ALERT) == ["webhook feishu via minqing_alert_webhook"]
    _, body = _one_request(alert_robot)
    assert body["msg_type"] == "text" and body["content"] == {"text": ALERT.text()}
    timestamp = body["timestamp"]
    assert isinstance(timestamp, str) and int(before) - 1 <= int(timestamp) <= time.time() + 1
    expected = base64.b64encode(hmac.new(f"{timestamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
    assert body["sign"] == expected


def test_generic_json_gets_the_alert_s_fields_and_an_hmac_of_the_body(alert_robot, monkeypatch):
    _webhook_connection(monkeypatch, alert_robot.url("/hooks/minqing"), None, SECRET)  # kind guessed: json

    assert notify(ALERT) == ["webhook json via minqing_alert_webhook"]
    request, body = _one_request(alert_robot)
    assert body == {"subject": ALERT.subject, "lines": list(ALERT.lines), "text": ALERT.text(), "day": "2026-07-30",
                    "dag_id": "minqing_daily", "run_id": ALERT.run_id, "link": ALERT.link}
    expected = hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Minqing-Signature"] == f"sha256={expected}"


def test_the_kind_is_guessed_from_the_robot_s_host():
    assert alerts.guess_kind(f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}") == "dingtalk"
    assert alerts.guess_kind(f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={TOKEN}") == "wecom"
    assert alerts.guess_kind(f"https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN}") == "feishu"
    assert alerts.guess_kind("https://ops.example.cn/dingtalk.com/hook") == "json"


@pytest.mark.parametrize(("kind", "answer", "reason"), [
    ("dingtalk", {"errcode": 310000, "errmsg": "sign not match"}, "dingtalk answered errcode 310000: sign not match"),
    ("feishu", {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"},
     "feishu answered code 19021: sign match fail"),
])
def test_a_robot_s_error_code_is_a_failure_logged_and_reported_not_raised(alert_robot, monkeypatch, caplog, kind, answer,
                                                                         reason):
    _webhook_connection(monkeypatch, alert_robot.url(f"/send?access_token={TOKEN}"), kind, SECRET)
    alert_robot.answer = answer

    with caplog.at_level(logging.ERROR, logger="minqing.alerts"):
        sent = notify(ALERT)

    assert len(alert_robot.requests) == 1
    assert len(sent) == 1 and sent[0].startswith(f"webhook {kind} via minqing_alert_webhook failed: ")
    assert reason in sent[0]
    errors = [r.getMessage() for r in caplog.records if r.name == "minqing.alerts" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and reason in errors[0]


# -- together -----------------------------------------------------------------------------------------

def test_one_notify_reaches_both_and_a_broken_one_does_not_stop_the_other(smtp_server, alert_robot, closed_port,
                                                                         monkeypatch, caplog):
    monkeypatch.setenv("MINQING_ALERT_EMAIL_TO", "duty@liuliqiao.example.cn")
    _smtp_connection(monkeypatch, smtp_server.port)
    _webhook_connection(monkeypatch, alert_robot.url(f"/robot/send?access_token={TOKEN}"), "dingtalk", SECRET)
    assert notify(ALERT) == ["email to duty@liuliqiao.example.cn via smtp_default",
                             "webhook dingtalk via minqing_alert_webhook"]
    _wait_for(lambda: smtp_server.envelopes)
    assert len(alert_robot.requests) == 1

    _smtp_connection(monkeypatch, closed_port)  # the mail server is down
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="minqing.alerts"):
        sent = notify(ALERT)
    assert sent[0].startswith("email to duty@liuliqiao.example.cn via smtp_default failed: ConnectionRefusedError")
    assert sent[1] == "webhook dingtalk via minqing_alert_webhook"
    assert len(alert_robot.requests) == 2 and time.monotonic() - started < 5

    _smtp_connection(monkeypatch, smtp_server.port)  # the robot is down
    _webhook_connection(monkeypatch, f"http://127.0.0.1:{closed_port}/robot/send?access_token={TOKEN}", "dingtalk",
                        SECRET)
    sent = notify(ALERT)
    assert sent[0] == "email to duty@liuliqiao.example.cn via smtp_default"
    assert sent[1].startswith("webhook dingtalk via minqing_alert_webhook failed: ConnectError")
    _wait_for(lambda: len(smtp_server.envelopes) == 2)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in "\n".join(sent) + logged and SECRET not in "\n".join(sent) + logged


def test_anotify_from_async_code_reaches_the_receiver(alert_robot, monkeypatch):
    _webhook_connection(monkeypatch, alert_robot.url(f"/cgi-bin/webhook/send?key={TOKEN}"), "wecom")
    assert asyncio.run(anotify(ALERT)) == ["webhook wecom via minqing_alert_webhook"]
    assert len(alert_robot.requests) == 1


def test_nothing_configured_sends_nothing_and_says_so(caplog):
    with caplog.at_level(logging.INFO, logger="minqing.alerts"):
        assert notify(ALERT) == []
    assert any("no alert notifier is configured" in r.getMessage() for r in caplog.records
               if r.name == "minqing.alerts" and r.levelno == logging.INFO)


def test_a_webhook_connection_without_a_url_is_a_failure_not_off(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MINQING_ALERT_WEBHOOK", json.dumps({"conn_type": "http", "password": SECRET}))
    sent = notify(ALERT)
    assert len(sent) == 1 and sent[0].startswith("webhook via minqing_alert_webhook failed: ValueError")
