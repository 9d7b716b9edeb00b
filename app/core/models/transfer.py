"""Fetch one file over HTTP into its `.part` file: resume from the byte reached, heal from blips, never append the
wrong bytes.

Healing: a lost or refused connection, a timeout, a stall (no byte for `stall` seconds), a 5xx/429/408 answer or a
body that ends early is retried `retries` times, waiting `backoff` seconds and doubling (2, 4, 8, 16, 32 s by
default, or what a Retry-After header asks), each time from the byte reached. The progress text says so
("connection lost, retrying in 4 s (2/5)"); only when the retries are used up does the download fail (the part is
kept, so Resume continues). A connection that worked for `RESET_AFTER_S` starts the count again. Settings:
HEARTH_DOWNLOAD_RETRIES, HEARTH_DOWNLOAD_BACKOFF_S, HEARTH_DOWNLOAD_STALL_S (environment; read at each download).

What is appended (RFC 9110 §14): a request for more of a part sends `Range: bytes=<size>-` (with `If-Range:
<ETag>` when the part was started from a response with a strong ETag). Bytes are appended only from a 206 whose
Content-Range starts at exactly <size> and whose ETag/Last-Modified and total length match what the part was
started from; any other 206 means the part is dropped and the file fetched again from byte 0. A 200 is the whole
file: it replaces the part, it is never appended. A 416 whose Content-Range says `*/<size>` means the part is
complete. A web page (Content-Type text/html, or a body that starts like HTML) is never written as a model.
gzip/deflate Content-Encoding is decoded; such a body cannot be resumed, so it is fetched again from byte 0.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import math
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from app.core.errors import IncompleteFile, JobCancelled, UserError
from app.core.jobs import format_duration
from app.core.models.hub import NoNetwork
from app.core.units import format_bytes

CHUNK = 1 << 20
RESET_AFTER_S = 60.0  # a connection that delivered bytes for this long resets the retry count
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.I)


@dataclass
class Policy:
    retries: int = 5
    backoff: float = 2.0  # seconds before the first retry; doubles each time
    backoff_max: float = 60.0
    stall: float = 30.0  # seconds without a byte before the connection is given up and opened again

    @classmethod
    def from_env(cls) -> "Policy":
        def num(name: str, default: float) -> float:
            try:
                return max(0.0, float(os.environ.get(name, default)))
            except ValueError:
                return default

        return cls(retries=int(num("HEARTH_DOWNLOAD_RETRIES", cls.retries)),
                   backoff=num("HEARTH_DOWNLOAD_BACKOFF_S", cls.backoff),
                   stall=max(0.05, num("HEARTH_DOWNLOAD_STALL_S", cls.stall)))


class Transient(Exception):
    """A failure worth retrying. `short` goes into the progress text, `detail` into the final error."""

    def __init__(self, short: str, detail: str = "", wait: float | None = None) -> None:
        super().__init__(detail or short)
        self.short, self.detail, self.wait = short, detail or short, wait


class Restart(Exception):
    """The part cannot be continued (the server sent other bytes than asked, the file changed): start from 0."""


class Meter:
    """Bytes/s over the last few seconds and the time left."""

    def __init__(self, total: int | None, done: int) -> None:
        self.total, self.done = total, done
        self.samples: list[tuple[float, int]] = [(time.monotonic(), done)]

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.samples[-1][0] < 0.2 and len(self.samples) > 1:
            self.samples[-1] = (now, self.done)  # cheap per-chunk update; a new sample every 0.2 s
            return
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[0][0] > 5:
            self.samples.pop(0)

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None

    @property
    def rate(self) -> float:
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    @property
    def eta(self) -> float | None:
        if not self.total or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)

    def text(self, name: str) -> str:
        parts = [f"{name}: {format_bytes(self.done)}" + (f" of {format_bytes(self.total)}" if self.total else "")]
        if self.rate > 0:
            parts.append(f"{format_bytes(self.rate)}/s")
        if self.eta is not None:
            parts.append(f"{format_duration(self.eta)} left")
        return " · ".join(parts)


def part_size(path: Path) -> int:
    """Bytes in a part file (0 when there is none yet)."""
    return path.stat().st_size if path.exists() else 0


def _is_web_page(head: bytes, content_type: str) -> bool:
    """A body that starts like HTML, or one labelled text/html that does not start like a model file."""
    start = head[:1024].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
            start.startswith(b"<") and b"<html" in start):
        return True
    model_start = head.startswith((b"GGUF", b"PK\x03\x04", b"\x80")) or head[8:9] == b"{"
    return "text/html" in content_type.lower() and not model_start


def _disk_error(exc: OSError, part: Path, title: str) -> UserError:
    kept = f"The {format_bytes(part_size(part))} already downloaded are kept; "
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return UserError(f"The disk is full: {title} could not be written to {part.parent}. {kept}"
                         "free some space, then resume.")
    if exc.errno == errno.EFBIG:
        return UserError(f"{title} is too large for the file system of {part.parent} (FAT32 drives hold at most "
                         f"4 GB per file). {kept}move the models folder to another drive, then resume.")
    return UserError(f"Could not write {title} to {part} ({exc.strerror or exc}). {kept}resume to continue.")


class _KeepHead(urllib.request.HTTPRedirectHandler):
    """Follow a redirect of a HEAD with a HEAD (Python before 3.12 follows it with a GET, starting a download)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and req.get_method() == "HEAD":
            new.method = "HEAD"
        return new


def head_size(url: str, headers: dict, name: str) -> int | None:
    """The file's length from a HEAD request, or None when the server does not say (or does not answer HEAD).
    Raises UserError when the server refuses the file, Transient when it cannot be reached or answers 5xx."""
    request = urllib.request.Request(url, headers={**headers, "Accept-Encoding": "identity"}, method="HEAD")
    try:
        with urllib.request.build_opener(_KeepHead).open(request, timeout=30) as response:
            length = response.headers.get("Content-Length")
            encoded = (response.headers.get("Content-Encoding") or "identity").strip().lower() != "identity"
            return int(length) if length and length.strip().isdigit() and not encoded else None
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 401, 403, 410):
            raise UserError(f"The server refused {name}: HTTP {exc.code} {exc.reason}.") from exc
        if exc.code >= 500 or exc.code in (408, 429):
            raise Transient(f"server error {exc.code}", f"the server answered HTTP {exc.code} {exc.reason}") from exc
        return None  # 405 and the like: this server does not answer HEAD; the GET says the size
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise Transient("could not connect", f"could not reach {urllib.parse.urlparse(url).netloc} "
                                             f"({getattr(exc, 'reason', exc)})") from exc


class Fetcher:
    """Fetches the files of one download job. `validators` (file → ETag/Last-Modified) belongs to the job's spec;
    `on_change()` is called when an item learns its size or validator (the caller saves its state)."""

    def __init__(self, state, title: str, validators: dict, on_change: Callable[[], None]) -> None:
        self.state, self.title, self.validators, self.on_change = state, title, validators, on_change
        self.policy = Policy.from_env()
        self.meter = Meter(None, 0)
        self._hashes: dict[Path, tuple[object, int]] = {}  # part -> (sha256 of its bytes, how many bytes)

    # ---- retrying ----------------------------------------------------------------------------------------------
    def retrying(self, fn: Callable, part: Path | None = None):
        """Call fn() until it does not raise Transient, waiting between tries; give up after policy.retries."""
        failures = 0
        while True:
            started, had = time.monotonic(), part_size(part) if part else 0
            try:
                return fn()
            except Transient as exc:
                if part is not None and part_size(part) > had and time.monotonic() - started > RESET_AFTER_S:
                    failures = 0
                failures += 1
                if failures > self.policy.retries:
                    raise self._give_up(exc, part) from exc
                wait = exc.wait if exc.wait is not None else self.policy.backoff * 2 ** (failures - 1)
                self._wait(min(wait, self.policy.backoff_max), exc.short, failures)

    def _give_up(self, exc: Transient, part: Path | None) -> UserError:
        tries = f"gave up after {self.policy.retries} retries" if self.policy.retries else "not retried"
        have = part_size(part) if part else 0
        then = (f"The part already downloaded ({format_bytes(have)}) is kept; resume to continue." if have
                else "Try again when the connection is back.")
        return NoNetwork(f"Downloading {self.title} failed: {exc.detail} ({tries}). {then}")

    def _wait(self, seconds: float, why: str, n: int) -> None:
        """Wait before retry n, saying so (again every half second: the CLI may drop a line printed too soon)."""
        end = time.monotonic() + seconds
        shown = 0.0
        while True:
            self.state.check()
            left = end - time.monotonic()
            now = time.monotonic()
            if now - shown >= 0.5:
                shown = now
                self.state.progress(self.meter.fraction, f"{self.title}: {why}, retrying in "
                                                         f"{math.ceil(max(0.0, left))} s ({n}/{self.policy.retries})")
            if left <= 0:
                return
            time.sleep(min(0.05, left))

    # ---- one file ----------------------------------------------------------------------------------------------
    def fetch(self, item, part: Path, locate: Callable[[bool], tuple[str, dict]], kind: str | None) -> tuple:
        """Fetch the rest of `part` for `item` (a DownloadItem: dest, size, ...). Returns (sha256 hex of the whole
        part or None when not computed, joined: whether bytes were appended to an earlier connection's)."""
        part.parent.mkdir(parents=True, exist_ok=True)
        self.joined = False
        tries = [0]
        restarts = 0
        while True:
            def attempt():
                tries[0] += 1
                url, headers = locate(tries[0] > 1)
                self._attempt(url, headers, part, item, kind)

            try:
                self.retrying(attempt, part)
                break
            except Restart as exc:
                restarts += 1
                if restarts > 3:
                    raise UserError(f"The server keeps sending {item.dest} inconsistently ({exc}); "
                                    "try again later.") from exc
                self.drop(part)
                self.state.progress(self.meter.fraction, f"{self.title}: {exc}; starting it again from the beginning")
        digest, hashed = self._hashes.get(part, (None, -1))
        return (digest.hexdigest() if digest is not None and hashed == part_size(part) else None), self.joined

    def drop(self, part: Path) -> None:
        """Forget a part's bytes (truncate it): the next attempt starts from byte 0."""
        have = part_size(part)
        if have:
            part.write_bytes(b"")
            self.meter.add(-have)
        self._hashes[part] = (hashlib.sha256(), 0)

    def _hasher(self, part: Path, have: int):
        digest, hashed = self._hashes.get(part, (None, -1))
        if not have:
            digest = hashlib.sha256()
            self._hashes[part] = (digest, 0)
        elif hashed != have:  # hash what is already on disk once, then keep hashing as bytes arrive
            digest = hashlib.sha256()
            with open(part, "rb") as fh:
                while block := fh.read(CHUNK * 4):
                    digest.update(block)
            self._hashes[part] = (digest, have)
        return digest

    def _attempt(self, url: str, headers: dict, part: Path, item, kind: str | None) -> None:
        have = part_size(part)
        if item.size is not None and have > item.size:
            raise Restart("the partial file is larger than the file on the server")
        if item.size is not None and have == item.size and have:
            return
        request_headers = {**headers, "Accept-Encoding": "identity"}
        known = self.validators.get(item.dest)
        if have:
            request_headers["Range"] = f"bytes={have}-"
            if known and known.startswith('"'):  # a strong ETag: the server sends the whole file if it changed
                request_headers["If-Range"] = known
        try:
            response = urllib.request.urlopen(urllib.request.Request(url, headers=request_headers),
                                              timeout=self.policy.stall)
        except urllib.error.HTTPError as exc:
            with exc:
                return self._http_error(exc, have, part, item, kind)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
                raise Transient(f"no answer for {self.policy.stall:g} s", f"the server did not answer ({reason})")
            raise Transient("could not connect", f"could not connect ({reason})") from exc
        with response:
            self._receive(response, have, part, item, kind)

    def _http_error(self, exc: urllib.error.HTTPError, have: int, part: Path, item, kind: str | None) -> None:
        code = exc.code
        if code == 416 and have:  # nothing to send from byte <have>: the part is whole, or longer than the file
            match = _CONTENT_RANGE.fullmatch((exc.headers.get("Content-Range") or "").strip())
            total = int(match.group(3)) if match and match.group(3) != "*" else None
            if total == have or (total is None and (item.size == have or self._whole(part, item, kind))):
                item.size = have
                self.on_change()
                return
            raise Restart(f"the server has {format_bytes(total) if total else 'less'} "
                          f"where {format_bytes(have)} were kept")
        if code in (408, 425, 429) or code >= 500:
            after = (exc.headers.get("Retry-After") or "").strip()
            wait = float(after) if after.isdigit() else None
            raise Transient(f"server error {code}", f"the server answered HTTP {code} {exc.reason}", wait)
        raise UserError(f"The server refused {item.dest}: HTTP {code} {exc.reason}.")

    def _receive(self, response, have: int, part: Path, item, kind: str | None) -> None:
        status, headers = response.status, response.headers
        current = headers.get("ETag") or headers.get("Last-Modified")
        known = self.validators.get(item.dest)
        encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise UserError(f"The server sent {item.dest} compressed as '{encoding}', which Hearth cannot decode.")
        encoded = encoding != "identity"
        length = headers.get("Content-Length")
        length = int(length) if length and length.strip().isdigit() and not encoded else None
        start, total = 0, length
        if status == 206:
            match = _CONTENT_RANGE.fullmatch((headers.get("Content-Range") or "").strip())
            if not match or match.group(1) is None:
                raise Restart("the server answered a range request without a usable Content-Range")
            start = int(match.group(1))
            total = int(match.group(3)) if match.group(3) != "*" else None
            if start != have:
                raise Restart(f"the server sent bytes from {start} when asked for bytes from {have}")
            if encoded:
                raise Restart("the server compressed a partial answer")
            if have and known and current and current != known:
                raise Restart("the file changed on the server since the download started")
            if total is not None and item.size is not None and total != item.size:
                item.size = total
                raise Restart("the file on the server changed size")
        elif status != 200:
            raise UserError(f"The server answered HTTP {status} {response.reason} for {item.dest}.")
        decoder = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoded else None  # gzip or zlib header
        first = b""
        while len(first) < 1024:  # enough to tell a web page from a model file
            raw = self._read(response)
            if not raw:
                break
            first += self._decode(decoder, raw)
        if start == 0 and _is_web_page(first, headers.get("Content-Type") or ""):
            raise UserError(f"The server sent a web page instead of {item.dest} (perhaps a login, error or download "
                            "page). Check the address: it must point at the file itself (on Hugging Face, a "
                            "'resolve' link, not a 'blob' one).")
        if start == 0 and have and not first:
            raise Transient("empty answer", "the server sent an empty answer")
        # the answer is usable: remember what it says about the file
        if total is not None and item.size != total:
            item.size = total  # a 200 is the whole file as the server has it now
        if current:
            self.validators[item.dest] = current
        self.on_change()
        if start == 0 and have:
            self.drop(part)  # a 200 (or a 206 from byte 0) is the whole file: it replaces the part
        digest = self._hasher(part, start)
        try:
            self._write(response, part, first, decoder, digest, start, item)
        except Transient:
            if encoded:  # a compressed body cannot be continued from the decoded size
                self.drop(part)
            raise
        if start:
            self.joined = True
        got = part_size(part)
        if decoder is not None:
            if not decoder.eof:
                self.drop(part)
                raise Transient("connection lost", "the compressed stream ended early")
            if item.size is None:
                item.size = got  # the gzip trailer checked the length
                self.on_change()
        expected = start + length if length is not None else item.size
        if expected is not None and got < expected:
            raise Transient("connection lost",
                            f"the connection closed early ({format_bytes(got)} of {format_bytes(expected)})")
        if item.size is None:  # no length from the server: the file's own header must say it is complete
            from app.core.models import validate

            try:
                if validate.check_file(part, kind, name=item.dest, deep=False):
                    item.size = got
                    self.on_change()
            except IncompleteFile as exc:
                raise Transient("connection lost", f"the connection closed early ({exc})") from None
            except UserError:
                pass  # damaged: the verification after the download says so and quarantines it

    @staticmethod
    def _whole(part: Path, item, kind: str | None) -> bool:
        """Whether the part's own structure says it is complete (for a server that gives no length)."""
        from app.core.models import validate

        try:
            return validate.check_file(part, kind, name=item.dest, deep=False)
        except UserError:
            return False

    @staticmethod
    def _decode(decoder, raw: bytes) -> bytes:
        if decoder is None:
            return raw
        try:
            return decoder.decompress(raw)
        except zlib.error as exc:
            raise Transient("damaged data", f"the compressed data is damaged ({exc})") from exc

    def _read(self, response) -> bytes:
        try:
            return response.read1(CHUNK)  # returns what has arrived: pause reacts at once
        except TimeoutError as exc:
            raise Transient(f"no data for {self.policy.stall:g} s", f"the transfer stalled ({exc})") from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise Transient("connection lost", f"the connection dropped ({exc or type(exc).__name__})") from exc

    def _write(self, response, part: Path, chunk: bytes, decoder, digest, start: int, item) -> None:
        hashed = start
        try:
            with open(part, "ab" if start else "wb") as fh:
                last = 0.0
                while True:
                    if chunk:
                        fh.write(chunk)
                        digest.update(chunk)
                        hashed += len(chunk)
                        self._hashes[part] = (digest, hashed)
                        self.meter.add(len(chunk))
                        now = time.monotonic()
                        if now - last > 0.1:
                            last = now
                            self.state.progress(self.meter.fraction, self.meter.text(self.title))
                    if self.state.cancelled:
                        raise JobCancelled()
                    raw = self._read(response)
                    if not raw:
                        break
                    chunk = self._decode(decoder, raw)
                if decoder is not None and (tail := decoder.flush()):
                    fh.write(tail)
                    digest.update(tail)
                    self._hashes[part] = (digest, hashed + len(tail))
                    self.meter.add(len(tail))
        except OSError as exc:
            raise _disk_error(exc, part, item.dest) from exc
