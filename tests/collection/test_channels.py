"""The channel backends: SMS to a file, the console or an HTTP gateway (a real server on
localhost, so the real client code runs), e-mail through Django's mail, letters into the day's
print batch, and the choice among them by settings."""

import datetime
import io
import json
import smtplib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from collection.channels import (
    ChannelError,
    ConsoleSmsBackend,
    EmailChannel,
    FileSmsBackend,
    HttpSmsGateway,
    LetterBatch,
    Outgoing,
    channel_backend,
)
from collection.models import ContactChannel

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)


def outgoing(**changes) -> Outgoing:
    fields = {
        "idempotency_key": "12:3:2026-12-01",
        "channel": ContactChannel.SMS,
        "recipient": "+8613800000001",
        "body": "【示例消费金融】张三，您的账户已逾期5天。",
        "language": "zh-hans",
        "sent_at": AT,
        "addressee": "张三",
    }
    return Outgoing(**{**fields, **changes})


# --- SMS to a file and to the console ------------------------------------------------------------------------


def test_the_file_backend_appends_one_json_line_per_message(tmp_path):
    path = tmp_path / "sms" / "outbox.jsonl"
    backend = FileSmsBackend(path)

    first = backend.send(outgoing())
    backend.send(outgoing(idempotency_key="13:3:2026-12-01", recipient="+8613800000002"))

    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert first == "file:12:3:2026-12-01"
    assert [line["to"] for line in lines] == ["+86138****0001", "+86138****0002"]
    assert lines[0] == {
        "idempotency_key": "12:3:2026-12-01",
        "to": "+86138****0001",
        "text": "【示例消费金融】张三，您的账户已逾期5天。",
        "language": "zh-hans",
        "sent_at": AT.isoformat(),
    }


def test_the_outbox_file_holds_no_full_number_and_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "sms" / "outbox.jsonl"

    FileSmsBackend(path).send(outgoing(recipient="+8613617564415"))

    assert "13617564415" not in path.read_text(encoding="utf-8")
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_outbox_file_keeps_whole_numbers_when_a_real_gateway_reads_it(tmp_path, settings):
    settings.COLLECTION_SMS_OUTBOX_MASKED = False
    path = tmp_path / "outbox.jsonl"

    FileSmsBackend(path).send(outgoing())

    assert json.loads(path.read_text(encoding="utf-8"))["to"] == "+8613800000001"


def test_the_file_backend_reports_a_file_it_cannot_write(tmp_path):
    (tmp_path / "blocked").write_text("a file where the folder should be")

    with pytest.raises(ChannelError):
        FileSmsBackend(tmp_path / "blocked" / "outbox.jsonl").send(outgoing())


def test_the_console_backend_prints_the_message():
    stream = io.StringIO()

    reference = ConsoleSmsBackend(stream=stream).send(outgoing())

    assert "+86138****0001" in stream.getvalue() and "张三" in stream.getvalue()
    assert "13800000001" not in stream.getvalue()
    assert reference == "console:12:3:2026-12-01"


def test_relative_paths_are_taken_from_the_project_folder(settings):
    settings.COLLECTION_SMS_FILE = "var/sms/outbox.jsonl"
    settings.COLLECTION_LETTER_DIR = "var/letters"

    assert FileSmsBackend().path == Path(settings.BASE_DIR) / "var" / "sms" / "outbox.jsonl"
    assert LetterBatch().directory == Path(settings.BASE_DIR) / "var" / "letters"


# --- the HTTP gateway ------------------------------------------------------------------------------------------


class Gateway(ThreadingHTTPServer):
    """An SMS gateway on localhost: records each request and answers with `reply`."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.requests: list[dict] = []
        self.reply = (200, {"id": "gw-1"}, 0.0)  # status, JSON answer, delay in seconds

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/messages"

    def handle_error(self, request, client_address):
        pass  # the client that gave up on a slow answer closed its end


class GatewayHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
        status, answer, delay = self.server.reply
        if delay:
            time.sleep(delay)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def gateway():
    server = Gateway()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_gateway_gets_the_message_the_key_and_the_idempotency_key(gateway):
    backend = HttpSmsGateway(url=gateway.url, key="secret-key", timeout=5)

    reference = backend.send(outgoing())

    [request] = gateway.requests
    assert reference == "gw-1"
    assert request["path"] == "/v1/messages"
    assert request["json"] == {
        "to": "+8613800000001",
        "text": "【示例消费金融】张三，您的账户已逾期5天。",
        "idempotency_key": "12:3:2026-12-01",
        "language": "zh-hans",
    }
    assert request["headers"]["Authorization"] == "Bearer secret-key"
    assert request["headers"]["Idempotency-Key"] == "12:3:2026-12-01"


def test_the_gateway_is_configured_by_settings(gateway, settings):
    settings.COLLECTION_SMS_BACKEND = "collection.channels.HttpSmsGateway"
    settings.COLLECTION_SMS_GATEWAY_URL = gateway.url
    settings.COLLECTION_SMS_GATEWAY_KEY = "from-settings"
    settings.COLLECTION_SMS_GATEWAY_TIMEOUT = 3
    gateway.reply = (202, {"message_id": "gw-2"}, 0.0)

    backend = channel_backend(ContactChannel.SMS)

    assert isinstance(backend, HttpSmsGateway) and backend.timeout == 3
    assert backend.send(outgoing()) == "gw-2"
    assert gateway.requests[0]["headers"]["Authorization"] == "Bearer from-settings"


def test_an_answer_without_an_id_is_referenced_by_the_idempotency_key(gateway):
    gateway.reply = (200, ["accepted"], 0.0)

    assert HttpSmsGateway(url=gateway.url, key="k", timeout=5).send(outgoing()) == "12:3:2026-12-01"


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (429, False), (400, True), (401, True)])
def test_a_gateway_error_raises_a_channel_error(gateway, status, permanent):
    gateway.reply = (status, {"error": "no"}, 0.0)

    with pytest.raises(ChannelError) as raised:
        HttpSmsGateway(url=gateway.url, key="k", timeout=5).send(outgoing())

    assert str(status) in raised.value.message
    assert raised.value.permanent is permanent


def test_a_number_the_gateway_echoes_in_its_refusal_is_masked_in_the_error_kept(gateway):
    gateway.reply = (400, {"error": "invalid number +8613800000001"}, 0.0)

    with pytest.raises(ChannelError) as raised:
        HttpSmsGateway(url=gateway.url, key="k", timeout=5).send(outgoing())

    assert "13800000001" not in raised.value.message
    assert "+86138****0001" in raised.value.message


def test_a_gateway_that_does_not_answer_in_time_raises_a_channel_error(gateway):
    gateway.reply = (200, {"id": "late"}, 1.0)
    started = time.monotonic()

    with pytest.raises(ChannelError) as raised:
        HttpSmsGateway(url=gateway.url, key="k", timeout=0.2).send(outgoing())

    assert time.monotonic() - started < 0.9
    assert raised.value.permanent is False


def test_a_gateway_that_cannot_be_reached_raises_a_channel_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.

    with pytest.raises(ChannelError) as raised:
        HttpSmsGateway(url=f"http://127.0.0.1:{port}/", key="k", timeout=2).send(outgoing())

    assert raised.value.permanent is False


def test_the_gateway_needs_an_http_url():
    with pytest.raises(ChannelError):
        HttpSmsGateway(url="file:///etc/passwd", key="k", timeout=1)


@pytest.mark.parametrize(
    "url", ["http://sms.example.internal/v1/messages", "http://10.0.0.5:8080/", "http://localhost.example.com/"]
)
def test_the_gateway_refuses_plain_http_across_a_network(url):
    """The review (F14): the Bearer key would travel in clear."""
    with pytest.raises(ChannelError) as raised:
        HttpSmsGateway(url=url, key="secret-key", timeout=1)

    assert raised.value.permanent is True


@pytest.mark.parametrize(
    "url", ["https://sms.example.internal/v1/messages", "http://127.0.0.1:8080/", "http://localhost/", "http://[::1]/"]
)
def test_the_gateway_takes_https_and_plain_http_to_this_machine(url):
    assert HttpSmsGateway(url=url, key="k", timeout=1).url == url


# --- e-mail ----------------------------------------------------------------------------------------------------


def test_e_mail_goes_through_djangos_outbox(settings):
    settings.COLLECTION_COMPANY_NAME = "示例消费金融"

    reference = EmailChannel().send(outgoing(channel=ContactChannel.EMAIL, recipient="zhang@example.cn"))

    [email] = mail.outbox
    assert email.to == ["zhang@example.cn"]
    assert email.body == "【示例消费金融】张三，您的账户已逾期5天。"
    assert "示例消费金融" in email.subject
    assert email.extra_headers == {"Message-ID": reference, "X-Idempotency-Key": "12:3:2026-12-01"}


def test_the_e_mail_subject_is_in_the_messages_language(settings):
    settings.COLLECTION_COMPANY_NAME = "Example Finance"

    EmailChannel().send(outgoing(channel=ContactChannel.EMAIL, recipient="zhang@example.cn", language="en"))

    assert mail.outbox[0].subject == "Repayment reminder from Example Finance"


class DownMailServer(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def test_an_e_mail_server_error_raises_a_channel_error(settings):
    settings.EMAIL_BACKEND = f"{__name__}.DownMailServer"

    with pytest.raises(ChannelError) as raised:
        EmailChannel().send(outgoing(channel=ContactChannel.EMAIL, recipient="zhang@example.cn"))

    assert "Connection unexpectedly closed" in raised.value.message


# --- letters ---------------------------------------------------------------------------------------------------


def test_a_letter_is_written_into_the_days_print_batch(tmp_path):
    batch = LetterBatch(tmp_path)

    reference = batch.send(outgoing(channel=ContactChannel.LETTER, recipient="北京市北京市朝阳区建国路1号"))

    assert reference == "2026-12-01/12_3_2026-12-01.txt"
    letter = tmp_path / reference
    assert letter.read_text(encoding="utf-8") == (
        "北京市北京市朝阳区建国路1号\n张三\n\n【示例消费金融】张三，您的账户已逾期5天。\n"
    )


def test_a_letter_sent_again_replaces_itself_and_leaves_no_partial_file(tmp_path):
    batch = LetterBatch(tmp_path)
    letter = outgoing(channel=ContactChannel.LETTER, recipient="北京市朝阳区建国路1号")

    batch.send(letter)
    batch.send(letter)

    assert [path.name for path in (tmp_path / "2026-12-01").iterdir()] == ["12_3_2026-12-01.txt"]


def test_the_batch_day_is_the_desks_day(tmp_path):
    late_in_utc = datetime.datetime(2026, 12, 1, 17, 0, tzinfo=datetime.UTC)  # 01:00 on the 2nd in Shanghai

    reference = LetterBatch(tmp_path).send(outgoing(channel=ContactChannel.LETTER, sent_at=late_in_utc))

    assert reference.startswith("2026-12-02/")


# --- choosing the backend --------------------------------------------------------------------------------------


def test_each_channel_gets_the_backend_the_settings_choose(settings, tmp_path):
    settings.COLLECTION_SMS_BACKEND = "collection.channels.ConsoleSmsBackend"
    settings.COLLECTION_LETTER_DIR = str(tmp_path)

    assert isinstance(channel_backend(ContactChannel.SMS), ConsoleSmsBackend)
    assert isinstance(channel_backend(ContactChannel.EMAIL), EmailChannel)
    assert isinstance(channel_backend(ContactChannel.LETTER), LetterBatch)
    with pytest.raises(ChannelError):
        channel_backend(ContactChannel.CALL)


# --- the gateway behind the dispatch ---------------------------------------------------------------------------


def test_a_send_retried_after_a_gateway_error_carries_the_same_idempotency_key(db, gateway, settings):
    from collection.messaging import messages_dispatch
    from collection.models import OutboundMessage
    from loans.models import Contact
    from tests.collection.factories import CaseFactory
    from tests.loans.factories import ContactFactory

    settings.COLLECTION_SMS_BACKEND = "collection.channels.HttpSmsGateway"
    settings.COLLECTION_SMS_GATEWAY_URL = gateway.url
    settings.COLLECTION_SMS_GATEWAY_KEY = "k"
    settings.COLLECTION_MESSAGE_RETRY_BASE_SECONDS = 60
    case = CaseFactory(loan__installments=False)
    mobile = ContactFactory(borrower=case.loan.borrower, kind=Contact.Kind.MOBILE)
    message = OutboundMessage.objects.create(
        case=case,
        contact=mobile,
        channel=ContactChannel.SMS,
        recipient=mobile.value,
        body="提醒",
        scheduled_at=AT,
        idempotency_key=f"{case.pk}:1:2026-12-01",
    )
    gateway.reply = (503, {"error": "busy"}, 0.0)

    assert messages_dispatch(now=AT)["retrying"] == 1
    gateway.reply = (200, {"id": "gw-9"}, 0.0)
    assert messages_dispatch(now=AT + datetime.timedelta(seconds=60))["sent"] == 1

    message.refresh_from_db()
    assert (message.status, message.provider_reference, message.attempts) == ("sent", "gw-9", 2)
    keys = [request["headers"]["Idempotency-Key"] for request in gateway.requests]
    assert keys == [message.idempotency_key] * 2
