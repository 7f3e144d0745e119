"""A remote engine: any OpenAI-compatible chat-completions server (vLLM, llama-server, Ollama, hosted).

The official ``openai`` client handles HTTP, SSE, timeouts and connect
retries.  Reasoning arrives in whichever form the server sends it —
``delta.reasoning_content`` (llama-server, older vLLM), ``delta.reasoning``
(newer vLLM, Ollama) or inline in ``content`` — and goes through the same
splitter and events as the local engine.  The API key lives only in memory.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from typing import Any, Deque, Dict, Iterator, List, Optional
from urllib.parse import urlparse

from ..errors import QUICK_NEEDS, BadInput, QwqError, dns_failed
from ..reasoning import ReasoningSplitter
from ..text import redact, shown, url_secrets, valid_unicode
from ..types import Event, Message, Sampling, TurnDone, TurnResult
from .recorder import TurnRecorder

log = logging.getLogger("qwqchat.remote")

# Reasoning models whose server-side template opens <think> in the prompt, so their
# inline output starts inside the thinking (only "</think>" appears).
THINKS_FIRST = re.compile(r"qwq|deepseek-r1|\br1\b|-r1|think|reason", re.I)


def host_of(endpoint: str) -> str:
    """The server's host[:port], without any user:password@ in front."""
    parsed = urlparse(endpoint)
    return parsed.netloc.rpartition("@")[2] or redact(endpoint)


def describe_error(exc: BaseException, endpoint: str, model: Optional[str] = None, *secrets: Optional[str]) -> str:
    """One line a person can act on, for any failure of the client; credentials redacted."""
    return shown(_describe(exc, endpoint, model), *secrets, *url_secrets(endpoint))


def _describe(exc: BaseException, endpoint: str, model: Optional[str]) -> str:
    import openai

    host = host_of(endpoint)
    if isinstance(exc, openai.APITimeoutError):
        return f"{host} did not answer in time (timed out); is the server overloaded or stuck?"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        text = str(cause or exc)
        low = text.lower()
        if dns_failed(low):
            return f"cannot resolve the host of {endpoint} (DNS lookup failed)"
        if "ssl" in low or "certificate" in low or "tls" in low:
            return f"TLS error talking to {host}: {text.splitlines()[0] if text else 'handshake failed'}"
        if "refused" in low:
            return f"cannot connect to {endpoint}: connection refused (is the server running?)"
        return f"cannot reach {endpoint}: {text.splitlines()[0] if text else exc.__class__.__name__}"
    if isinstance(exc, openai.APIStatusError):
        message = _server_message(exc)
        code = exc.status_code
        if code in (401, 403):
            return f"{host} refused the request ({code}): {message} — check the API key"
        if code == 404:
            return f"{host} answered 404: {message}" + (f" (is the model name {model!r} right?)" if model else "")
        if code == 429:
            return f"{host} is rate-limiting (429): {message}"
        return f"{host} answered {code}: {message}"
    if isinstance(exc, openai.APIError):
        return f"bad reply from {host}: {exc}"
    return f"{exc.__class__.__name__}: {exc}"


def _server_message(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"]).splitlines()[0]
        if isinstance(err, str):
            return err.splitlines()[0]
    return (getattr(exc, "message", None) or str(exc)).splitlines()[0]


def _field(obj: Any, name: str) -> Any:
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return value


class RemoteEngine:
    def __init__(
        self,
        endpoint: str,
        *,
        api_key: Optional[str] = None,
        model: Optional[str] = None,
        timeout: float = 600.0,
        connect_timeout: float = 10.0,
        thinks_first: Optional[bool] = None,
        answers_directly: bool = False,
    ) -> None:
        if answers_directly:  # the user's word (a fast profile): Quick messages go to it as they are
            self.can_skip_thinking = True
        if not urlparse(endpoint).scheme or not urlparse(endpoint).netloc:
            raise BadInput(f"--endpoint must be a URL such as http://gpu-box:8000/v1, not {redact(endpoint)!r}")
        self.endpoint = endpoint.rstrip("/")
        self._api_key = api_key
        self._secrets = [s for s in (api_key, *url_secrets(endpoint)) if s]  # redacted from every error text
        self.model = model
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.thinks_first = thinks_first
        self._context = 0
        self._client: Any = None  # an openai.OpenAI once loaded (imported lazily)
        self.name = model or host_of(self.endpoint)

    def __repr__(self) -> str:  # never shows the key
        return f"RemoteEngine({redact(self.endpoint)!r}, model={self.model!r})"

    def _make_client(self):
        import openai

        return openai.OpenAI(
            base_url=self.endpoint,
            api_key=self._api_key or "not-needed",
            timeout=openai.Timeout(self.timeout, connect=self.connect_timeout),
            max_retries=2,
        )

    def load(self) -> None:
        """Reach the server and settle the model name (the first it lists when none was given)."""
        self._client = self._make_client()
        try:
            models = list(self._client.models.list())
        except Exception as exc:
            raise QwqError(describe_error(exc, self.endpoint, self.model, *self._secrets)) from None
        entry = None
        if self.model is None:
            if not models:
                raise QwqError(f"{redact(self.endpoint)} lists no models; pass --model NAME")
            entry = models[0]
            self.model = valid_unicode(str(entry.id))
        else:
            entry = next((m for m in models if m.id == self.model), None)
        self.name = self.model
        if entry is not None:  # the context length, where the server tells it
            meta = _field(entry, "meta")
            meta = meta if isinstance(meta, dict) else {}
            for value in (_field(entry, "max_model_len"), _field(entry, "context_length"), meta.get("n_ctx_train")):
                if isinstance(value, int) and value > 0:
                    self._context = value
                    break

    def describe(self) -> str:
        return host_of(self.endpoint)

    @property
    def context_size(self) -> int:
        return self._context

    def _request(self, messages: List[Message], sampling: Sampling) -> Dict[str, Any]:
        body: Dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "presence_penalty": sampling.presence_penalty,
            "extra_body": {"top_k": sampling.top_k, "min_p": sampling.min_p},
        }
        if sampling.max_tokens:
            body["max_tokens"] = sampling.max_tokens
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        return body

    # Servers offer no per-request way to end the thinking (llama-server's --reasoning-budget
    # is a server flag), so the budget, "answer now" and answering from saved thinking are local-only.
    can_end_thinking = False
    # Nor a general way to skip it: Quick goes to a fast profile, whose model (a remote one too) is set
    # to answer directly by ``quick.fast_engine``; its request is the usual one.
    can_skip_thinking = False

    def stream(
        self,
        messages: List[Message],
        sampling: Sampling,
        cancel: Optional[threading.Event] = None,
        end_thinking: Optional[threading.Event] = None,
        prefill_reasoning: Optional[str] = None,
        chat_id: Optional[int] = None,  # the chat, for engines that keep its state (ignored here)
        think: bool = True,
    ) -> Iterator[Event]:
        refused = None
        if prefill_reasoning is not None:
            refused = "answering from saved thinking needs the local engine"
        elif not think and not self.can_skip_thinking:
            refused = QUICK_NEEDS  # never a thinking reply in Quick mode
        if refused is not None:
            yield TurnDone(TurnResult(prefill_reasoning or "", "", "error", error=refused))
            return
        cancel = cancel or threading.Event()
        if self._client is None:
            self.load()
        rec = TurnRecorder()
        result, stats = rec.result, rec.stats
        thinks_first = (
            self.thinks_first if self.thinks_first is not None else bool(THINKS_FIRST.search(self.model or ""))
        )
        splitter = ReasoningSplitter(starts_in_reasoning=thinks_first)
        stats.context_size = self._context
        finish = None
        usage = timings = None
        response = None

        try:
            # One retry at most: a generation request must not be repeated for minutes on end.
            client = self._client.with_options(max_retries=1)
            request = self._request(messages, sampling)
            response = _sent(lambda: client.chat.completions.create(**request), cancel)
            chunks = _chunks(response, cancel) if response is not None else iter([None])  # None: stopped already
            for chunk in chunks:
                if chunk is None:  # stopped: the reply so far is kept
                    finish = "cancelled"
                    break
                usage = getattr(chunk, "usage", None) or usage
                timings = _field(chunk, "timings") or timings
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                delta = choice.delta
                r_text = (_field(delta, "reasoning_content") or _field(delta, "reasoning")) if delta else None
                c_text = delta.content if delta else None
                r_text = valid_unicode(r_text) if isinstance(r_text, str) else None  # a lone surrogate is not fatal
                c_text = valid_unicode(c_text) if isinstance(c_text, str) else None
                if r_text or c_text:
                    rec.arrival()
                    if r_text or splitter.in_reasoning:
                        stats.reasoning_tokens += 1
                    else:
                        stats.answer_tokens += 1
                if r_text:
                    yield from rec.emit(splitter.feed_reasoning(r_text))
                if c_text:
                    yield from rec.emit(splitter.feed(c_text))
                if choice.finish_reason:
                    finish = "length" if choice.finish_reason == "length" else "stop"
            if finish is None:
                finish = "cancelled" if cancel.is_set() else "error"
                if finish == "error":
                    result.error = "the server closed the stream before the reply finished"
        except Exception as exc:
            if cancel.is_set():
                finish = "cancelled"
            else:
                finish = "error"
                result.error = (
                    describe_error(exc, self.endpoint, self.model, *self._secrets)
                    if _is_client_error(exc)
                    else shown(f"the stream broke mid-reply: {exc.__class__.__name__}: {exc}", *self._secrets)
                )
                log.warning("remote stream failed: %s", result.error)
        finally:
            if response is not None:
                try:
                    response.close()
                except Exception:
                    pass
        yield from rec.emit(splitter.flush())
        rec.finish(finish, splitter)
        if usage is not None:
            stats.prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
            details = getattr(usage, "prompt_tokens_details", None)
            cached = getattr(details, "cached_tokens", 0) if details else 0
            stats.prompt_tokens_evaluated = stats.prompt_tokens - (cached or 0)
            completion = getattr(usage, "completion_tokens", 0) or 0
            if completion and completion != stats.reasoning_tokens + stats.answer_tokens:
                stats.answer_tokens = max(0, completion - stats.reasoning_tokens)
        if isinstance(timings, dict) and timings.get("predicted_per_second"):
            stats.decode_tokens_per_s = float(timings["predicted_per_second"])
            if timings.get("prompt_n") is not None:
                stats.prompt_tokens_evaluated = int(timings["prompt_n"])
        stats.context_used = stats.prompt_tokens + stats.reasoning_tokens + stats.answer_tokens
        yield TurnDone(result)


def _is_client_error(exc: BaseException) -> bool:
    import openai

    return isinstance(exc, openai.OpenAIError)


def _sent(create, cancel: threading.Event):
    """``create()`` (the request, until the server's headers), in a helper thread so that Stop does not wait for a
    server that has not answered yet: it held Stop for ``STOP_GRACE_S`` (3 s), then the engine's process was
    killed.  None when stopped first; the response, if it comes later, is closed then."""
    outcome: Deque[tuple] = deque()
    done = threading.Event()

    def send() -> None:
        try:
            response = create()
        except BaseException as exc:
            outcome.append(("error", exc))
        else:
            outcome.append(("response", response))
            if cancel.is_set():
                response.close()  # (the stream's reader closes it too if it took it: closing twice is harmless)
        done.set()

    threading.Thread(target=send, daemon=True, name="qwqchat-request").start()
    while not done.wait(0.05):
        if cancel.is_set():
            return None
    kind, item = outcome[0]
    if kind == "error":
        raise item
    return item


def _chunks(response, cancel: threading.Event):
    """The response's chunks, read in a helper thread so that Stop ends the turn at once.

    A blocked socket read cannot be interrupted from another thread; the
    helper is left to finish (or time out) on its own after ``close()``.
    Yields ``None`` once when cancelled.  The consumer takes whatever has arrived
    each time it wakes, not one chunk per wake-up: each wake-up is a wait for the
    GIL, which the UI thread holds while it paints (a 32,000-token stream in the
    TUI, ``benchmarks/ui_stream.py``).
    """
    arrived: Deque[tuple] = deque()  # append / popleft are atomic
    ready = threading.Event()

    def read() -> None:
        try:
            for item in response:
                arrived.append(("chunk", item))
                ready.set()
        except BaseException as exc:  # handed to the consumer, which reports it
            arrived.append(("error", exc))
        arrived.append(("end", None))
        ready.set()

    threading.Thread(target=read, daemon=True, name="qwqchat-sse").start()
    while True:
        if cancel.is_set():  # also between two chunks of a burst: Stop does not wait for the flood to end
            try:
                response.close()
            except Exception:
                pass
            yield None
            return
        if not arrived:
            ready.wait(0.05)
            ready.clear()  # a set lost here is harmless: what arrived is looked at before the next wait
            continue
        kind, item = arrived.popleft()
        if kind == "end":
            return
        if kind == "error":
            if cancel.is_set():
                yield None
                return
            raise item
        yield item
