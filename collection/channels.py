"""The channels reminders leave the desk by: a backend per channel, chosen in settings.

- SMS: the class named by COLLECTION_SMS_BACKEND: `FileSmsBackend` (the default: one JSON line
  per message in COLLECTION_SMS_FILE, nothing leaves the machine), `ConsoleSmsBackend` (printed)
  or `HttpSmsGateway` (a JSON POST to COLLECTION_SMS_GATEWAY_URL).
- E-mail: `EmailChannel`, through whatever Django's EMAIL_BACKEND is.
- Letters: `LetterBatch`, one text file per letter in a folder per day under
  COLLECTION_LETTER_DIR, which the print shop takes as the day's batch.

A backend's `send` returns the provider's reference for the message, or raises ChannelError.
Every backend gets the message's idempotency key: the desk sends at least once (a worker that
dies after the backend accepted a message but before the desk recorded it sends it again on the
next run), so a backend that can drop a repeat by its key does (the HTTP gateway is given it as a
field and a header; a letter is written to a file named by it, so a repeat replaces it)."""

import dataclasses
import datetime
import json
import logging
import os
import re
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage, make_msgid
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loans.phones import mask_phone

from .models import ContactChannel

__all__ = [
    "GATEWAY_REFUSED",
    "ChannelError",
    "ConsoleSmsBackend",
    "EmailChannel",
    "FileSmsBackend",
    "HttpSmsGateway",
    "LetterBatch",
    "Outgoing",
    "channel_backend",
]

logger = logging.getLogger(__name__)

# What a send the SMS gateway refused says.
GATEWAY_REFUSED = gettext_lazy("The SMS gateway answered %(status)s: %(detail)s")


class ChannelError(Exception):
    """The backend did not take the message. `permanent` when trying again cannot help (the
    gateway refused the request itself, e.g. an invalid number): the desk then stops at once."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """One message as a backend sees it."""

    idempotency_key: str
    channel: str
    recipient: str  # a number in E.164, an e-mail address, or a postal address
    body: str
    language: str
    sent_at: datetime.datetime
    addressee: str = ""  # the borrower's name, for the letter's envelope and the e-mail


def _project_path(value: str | os.PathLike) -> Path:
    """A path from the settings: relative paths are taken from the project folder, not from
    wherever the worker happened to start."""
    path = Path(value)
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


# --- SMS -------------------------------------------------------------------------------------


class SmsBackend:
    """The interface of an SMS backend."""

    def send(self, message: Outgoing) -> str:
        raise NotImplementedError


def _outbox_recipient(number: str) -> str:
    """The number as the file and console backends write it: masked (138****5678), unless
    COLLECTION_SMS_OUTBOX_MASKED is off because a real gateway reads the outbox file."""
    return mask_phone(number) if settings.COLLECTION_SMS_OUTBOX_MASKED else number


class ConsoleSmsBackend(SmsBackend):
    """Prints each message, the number masked: for trying the desk out with a worker in a terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, message: Outgoing) -> str:
        to = _outbox_recipient(message.recipient)
        print(f"SMS to {to} [{message.idempotency_key}]: {message.body}", file=self.stream, flush=True)
        return f"console:{message.idempotency_key}"


_file_lock = threading.Lock()


def _sms_fields(message: Outgoing) -> dict[str, str]:
    """What an SMS backend passes on: the number, the text, its language and the key that lets
    the receiving end drop a message sent twice."""
    return {
        "to": message.recipient,
        "text": message.body,
        "idempotency_key": message.idempotency_key,
        "language": message.language,
    }


class FileSmsBackend(SmsBackend):
    """Appends each message as one JSON line to COLLECTION_SMS_FILE: the default, so that the desk
    on one machine never texts anyone. A message sent again after a crash appears twice. The
    number is masked (see _outbox_recipient) and the file is readable by its owner only: it holds
    what each borrower owes."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = _project_path(path or settings.COLLECTION_SMS_FILE)

    def send(self, message: Outgoing) -> str:
        fields = {**_sms_fields(message), "to": _outbox_recipient(message.recipient)}
        line = json.dumps({**fields, "sent_at": message.sent_at.isoformat()}, ensure_ascii=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with _file_lock, open(descriptor, "a", encoding="utf-8") as outbox:
                outbox.write(line + "\n")
        except OSError as error:
            raise ChannelError(_("The SMS file could not be written: %(error)s") % {"error": error}) from error
        return f"file:{message.idempotency_key}"


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_NUMBER = re.compile(r"\+?\d{7,}")


def _encrypted_or_local(url: str) -> bool:
    """https, or http to this machine only (a gateway's local relay, the tests' gateway)."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)


class HttpSmsGateway(SmsBackend):
    """POSTs each message as JSON to the gateway at COLLECTION_SMS_GATEWAY_URL (https://; plain
    http:// only to this machine):

        {"to": "+8613800000000", "text": "...", "idempotency_key": "12:3:2026-12-01", "language": "zh-hans"}

    with `Authorization: Bearer <COLLECTION_SMS_GATEWAY_KEY>` and `Idempotency-Key: <key>`, so
    that the gateway can drop a message the desk sends again after a crash. A 2xx answer is
    taken as sent; its JSON `id` (or `message_id`) is the provider's reference. Anything else, a
    network error or no answer within COLLECTION_SMS_GATEWAY_TIMEOUT seconds raises ChannelError;
    a 4xx other than 408 and 429 is permanent (the request itself was refused)."""

    RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})

    def __init__(self, url: str | None = None, key: str | None = None, timeout: float | None = None):
        self.url = url if url is not None else settings.COLLECTION_SMS_GATEWAY_URL
        self.key = key if key is not None else settings.COLLECTION_SMS_GATEWAY_KEY
        self.timeout = timeout if timeout is not None else settings.COLLECTION_SMS_GATEWAY_TIMEOUT
        if not _encrypted_or_local(self.url):
            raise ChannelError(
                _("The SMS gateway needs an https:// URL (COLLECTION_SMS_GATEWAY_URL): its key would travel in clear."),
                permanent=True,
            )

    def send(self, message: Outgoing) -> str:
        payload = json.dumps(_sms_fields(message), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "Authorization": f"Bearer {self.key}",
                "Idempotency-Key": message.idempotency_key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as error:
            # What the gateway says is kept on the message and the job's run: numbers it echoes, masked.
            detail = _NUMBER.sub(lambda found: mask_phone(found[0]), error.read()[:200].decode("utf-8", "replace"))
            permanent = 400 <= error.code < 500 and error.code not in self.RETRYABLE_CLIENT_ERRORS
            raise ChannelError(
                GATEWAY_REFUSED % {"status": error.code, "detail": detail},
                permanent=permanent,
            ) from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ChannelError(_("The SMS gateway could not be reached: %(error)s") % {"error": reason}) from error
        return self._reference(body) or message.idempotency_key

    @staticmethod
    def _reference(body: bytes) -> str:
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            return ""
        if not isinstance(answer, dict):
            return ""
        return str(answer.get("id") or answer.get("message_id") or "")


# --- e-mail ----------------------------------------------------------------------------------


class EmailChannel:
    """Sends through Django's e-mail (EMAIL_BACKEND; tests use the in-memory outbox), with the
    idempotency key in an `X-Idempotency-Key` header. The reference is the Message-ID."""

    def send(self, message: Outgoing) -> str:
        with translation.override(message.language):
            subject = _("Repayment reminder from %(company)s") % {"company": settings.COLLECTION_COMPANY_NAME}
        message_id = make_msgid(domain="collection-desk")
        email = EmailMessage(
            subject=subject,
            body=message.body,
            to=[message.recipient],
            headers={"Message-ID": message_id, "X-Idempotency-Key": message.idempotency_key},
        )
        try:
            email.send(fail_silently=False)
        except Exception as error:  # smtplib, socket and backend errors alike: the desk retries
            raise ChannelError(_("The e-mail could not be sent: %(error)s") % {"error": error}) from error
        return message_id


# --- letters ---------------------------------------------------------------------------------


class LetterBatch:
    """Writes each letter into the day's print batch: COLLECTION_LETTER_DIR/<YYYY-MM-DD>/, one
    text file per letter named by its idempotency key (postal address, addressee, then the text).
    The file is written whole or not at all, and a letter sent again replaces its file, so the
    batch never holds a half letter or the same letter twice. The reference is the file's path
    within the letter folder."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = _project_path(directory or settings.COLLECTION_LETTER_DIR)

    def send(self, message: Outgoing) -> str:
        day = timezone.localdate(message.sent_at)
        name = message.idempotency_key.replace(":", "_").replace("/", "_") + ".txt"
        folder = self.directory / day.isoformat()
        text = "\n".join([message.recipient, message.addressee, "", message.body, ""])
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as letter:
                    letter.write(text)
                os.replace(temporary, folder / name)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            raise ChannelError(_("The letter could not be written: %(error)s") % {"error": error}) from error
        return f"{day.isoformat()}/{name}"


# --- choosing the backend --------------------------------------------------------------------


def channel_backend(channel: str):
    """The backend for a channel, as the settings choose it."""
    if channel == ContactChannel.SMS:
        return import_string(settings.COLLECTION_SMS_BACKEND)()
    if channel == ContactChannel.EMAIL:
        return EmailChannel()
    if channel == ContactChannel.LETTER:
        return LetterBatch()
    raise ChannelError(_("The desk does not send %(channel)s messages.") % {"channel": channel}, permanent=True)
