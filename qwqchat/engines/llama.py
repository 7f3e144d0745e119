"""The in-process engine: a GGUF model run through llama-cpp-python.

One ``Llama`` object lives as long as the engine, so llama.cpp's KV cache
keeps the longest common prefix between turns and a follow-up evaluates only
the new tokens.  Generation goes through ``Llama.generate`` (not the chat
completion layer, which costs ~6 % of decode speed) with the GGUF's own chat
template rendered by llama-cpp-python's Jinja formatter.
"""

from __future__ import annotations

import codecs
import logging
import os
import random
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

from .. import gguf_header
from ..errors import QwqError
from ..models import machine
from ..reasoning import CLOSE, OPEN, ReasoningSplitter
from ..types import Event, HistoryTrimmed, Message, Sampling, TurnDone
from .kv_store import KvDisk, common_prefix, identity
from .llama_load import DEFAULT_CTX, display_name, open_model
from .recorder import TurnRecorder
from .template import TemplateCancelled

log = logging.getLogger("qwqchat.engine")

DEFAULT_REPLY_ROOM = 8192  # tokens kept free for the reply when max_tokens is not set
CLOSE_THINKING = "\n</think>\n\n"  # what the engine appends to end the thinking itself
# The save waits for its turn's generator to end (its consumer reads past TurnDone at once); longer means a
# newer turn took the engine first, or the generator was abandoned: never hold a process's exit longer.
KV_SAVE_WAIT_S = 60.0


class LlamaEngine:
    def __init__(
        self,
        model_path: str | os.PathLike,
        *,
        ctx: int = DEFAULT_CTX,
        kv_cache: str = "f16",
        yarn: bool = False,
        threads: Optional[int] = None,
        gpu_layers: Optional[int] = None,
        kv_disk_mb: int = 0,
        draft: int = 0,
    ) -> None:
        self.path = Path(model_path).expanduser()
        self.name = self.path.stem
        self.requested_ctx = ctx
        self.kv_cache = kv_cache
        self.yarn = yarn
        self.threads = threads or machine.physical_cores()
        self.gpu_layers = gpu_layers
        self.draft = draft  # prompt-lookup drafting: tokens drafted a step (0: off)
        self.info: Optional[gguf_header.GGUFInfo] = None
        self.llm: Any = None  # llama_cpp.Llama once loaded (imported lazily: it costs ~0.35 s)
        self._formatter: Any = None
        self._backend = "CPU"
        self._lock = threading.Lock()  # one generation at a time on one KV cache
        self._add_bos = True
        # chats' KV state on disk (0 MB: off); the save after a turn runs in its own thread
        self.kv_disk = KvDisk(kv_disk_mb * 2**20) if kv_disk_mb > 0 else None
        self._kv_identity: dict = {}
        self._savers: List[threading.Thread] = []
        self._turns = 0

    # -- loading ----------------------------------------------------------
    def load(self) -> None:
        info = gguf_header.read(self.path)  # clear errors for missing, dir, not GGUF, truncated
        self.info = info
        self.name = display_name(info)
        opened = open_model(
            self.path,
            info,
            requested_ctx=self.requested_ctx,
            kv_cache=self.kv_cache,
            yarn=self.yarn,
            threads=self.threads,
            gpu_layers=self.gpu_layers,
            draft=self.draft,
        )
        self.llm, self._formatter, self._backend = opened.llm, opened.template, opened.backend
        if self.kv_disk is not None:
            self._kv_identity = identity(self.llm, self.path)
            self.kv_disk.trim()  # the cap may have been lowered since the last run

    def describe(self) -> str:
        return self._backend

    @property
    def context_size(self) -> int:
        return self.llm.n_ctx() if self.llm else 0

    def count_tokens(self, text: str) -> Optional[int]:
        """Tokens in ``text`` by the model's tokenizer (None before it is loaded): the context meter's count."""
        if self.llm is None:
            return None
        return len(self.llm.tokenize(text.encode("utf-8", errors="replace"), add_bos=False, special=False))

    def close(self) -> None:
        self.wait_saved()
        if self.llm is not None:
            self.llm.close()
            self.llm = None

    # -- prompts ------------------------------------------------------------
    def render(
        self, messages: List[Message], cancel: Optional[threading.Event] = None, generation_prompt: bool = True
    ) -> Tuple[str, List[int]]:
        """The prompt text and tokens for these messages, by the model's own template (time- and size-limited)."""
        turns = [{"role": m.role, "content": m.content} for m in messages]
        prompt = self._formatter.render(turns, cancel, generation_prompt)
        self._add_bos = False  # like llama-cpp-python's formatter: the template adds any BOS itself
        tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=self._add_bos, special=True)
        return prompt, tokens

    @staticmethod
    def opens_thinking(prompt: str) -> bool:
        """Did the template open the thinking (QwQ, the R1 distills), or does the model write its own
        ``<think>`` (Qwen3, thinking on: its ``enable_thinking`` switch is left unset)?"""
        return prompt.rstrip().endswith(OPEN)

    def thinks(self, prompt: str) -> bool:
        """Is this a reasoning model's template (it opens ``<think>`` or strips ``</think>`` from old turns)?
        Quick closes the thinking of those only: a plain chat model has none to skip."""
        return self.opens_thinking(prompt) or CLOSE in ((self.info.chat_template or "") if self.info else "")

    def fit(
        self, messages: List[Message], sampling: Sampling, cancel: Optional[threading.Event] = None
    ) -> Tuple[str, List[int], int]:
        """Leave out the oldest turns until prompt + room for the reply fit the context.

        Never drops the system prompt or the new message.  Returns the prompt,
        its tokens and how many turns were dropped.
        """
        n_ctx = self.context_size
        room = sampling.max_tokens or min(DEFAULT_REPLY_ROOM, n_ctx // 4)
        system = [m for m in messages[:1] if m.role == "system"]
        body = messages[len(system) :]
        dropped = 0
        while True:
            prompt, tokens = self.render(system + body, cancel)
            if len(tokens) + room <= n_ctx or len(body) <= 1:
                break
            # drop the oldest turn: a prompt and the answer that followed it
            cut = 2 if len(body) > 2 and body[0].role == "user" and body[1].role == "assistant" else 1
            body = body[cut:]
            dropped += 1
        if len(tokens) >= n_ctx - 16:
            raise QwqError(
                f"the message is {len(tokens):,} tokens; it does not fit the "
                f"{n_ctx:,}-token context (raise --ctx or shorten it)"
            )
        return prompt, tokens, dropped

    def _cached_prefix(self, tokens: List[int]) -> int:
        """How many prompt tokens llama.cpp will reuse from its KV cache (mirrors ``generate``)."""
        cached = self.llm._input_ids
        n = common_prefix(cached, tokens)
        if n == len(tokens):
            return n if len(cached) == len(tokens) else n - 1
        return n

    # -- generation ----------------------------------------------------------
    can_end_thinking = True  # thinking budget, "answer now", answer from saved thinking
    can_skip_thinking = True  # Quick: the prompt ends in an empty, closed think block

    def stream(
        self,
        messages: List[Message],
        sampling: Sampling,
        cancel: Optional[threading.Event] = None,
        end_thinking: Optional[threading.Event] = None,
        prefill_reasoning: Optional[str] = None,
        chat_id: Optional[int] = None,
        think: bool = True,
    ) -> Iterator[Event]:
        """Answer the last message.

        ``end_thinking`` (set from any thread) or ``sampling.think_budget`` make the
        engine close the thinking itself: it appends ``</think>`` to the tokens in
        the KV cache and lets the model answer.  ``prefill_reasoning`` continues a
        reply that stopped while thinking: the saved thinking is closed the same way
        and the model writes its answer.  ``chat_id`` names the chat for the KV state
        kept on disk: loaded before the prompt is evaluated, saved after ``TurnDone``.
        ``think=False`` (Quick) closes an empty thinking before generation starts, so the
        first token is already the answer.
        """
        with self._lock:
            self._turns += 1
            for event in self._stream(
                messages,
                sampling,
                cancel or threading.Event(),
                end_thinking or threading.Event(),
                prefill_reasoning,
                chat_id,
                think,
            ):
                if isinstance(event, TurnDone) and chat_id is not None and self.kv_disk is not None:
                    self._save_later(chat_id, messages, event.result.answer)
                yield event

    # -- the chat's KV state on disk ----------------------------------------------
    def warm(self, messages: List[Message], chat_id: int) -> bool:
        """Load the chat's saved KV state now, when the user opens the chat, so its next turn starts at
        once: reading a long chat's state of QwQ-32B is seconds of disk (256 KiB a token in f16), done
        while they type.  ``messages`` is the history as the next turn will send it.  Does nothing while
        a turn or a save holds the model.  True when a state was loaded."""
        if self.kv_disk is None or self.llm is None or not messages or not self._lock.acquire(blocking=False):
            return False
        try:
            _, tokens = self.render(messages, generation_prompt=False)
            return self._restore(chat_id, tokens) > 0
        except Exception:  # noqa: BLE001 - a cache never fails anything
            log.exception("kv cache: warming chat %s failed", chat_id)
            return False
        finally:
            self._lock.release()

    def _restore(self, chat_id: int, tokens: List[int]) -> int:
        assert self.kv_disk is not None
        try:
            return self.kv_disk.restore(self.llm, chat_id, tokens, self._cached_prefix(tokens), self._kv_identity)
        except Exception:  # noqa: BLE001 - a cache never fails a turn
            log.exception("kv cache: restoring chat %s failed", chat_id)
            self.llm.reset()
            return 0

    def _save_later(self, chat_id: int, messages: List[Message], answer: str) -> None:
        """Write the chat's KV state once the turn has let go of the engine, in a thread of its own so
        the end of the turn shows at once (the next turn waits for the save on the lock)."""
        turn = self._turns
        following = list(messages) + ([Message("assistant", answer)] if answer.strip() else [])

        def save() -> None:
            if not self._lock.acquire(timeout=KV_SAVE_WAIT_S):
                return
            try:
                if self._turns != turn or self.llm is None or self.kv_disk is None:
                    return  # a newer turn has the memory now
                # what the next prompt starts with: the history with this answer, without thinking
                _, start = self.render(following, generation_prompt=False)
                keep = common_prefix(self.llm._input_ids.tolist(), start)
                self.kv_disk.save(self.llm, chat_id, keep, self._kv_identity)
            except Exception:  # noqa: BLE001 - a cache never fails a turn
                log.exception("kv cache: saving chat %s failed", chat_id)
            finally:
                self._lock.release()

        saver = threading.Thread(target=save, name=f"kv-save-{chat_id}")
        self._savers = [t for t in self._savers if t.is_alive()] + [saver]
        saver.start()

    def wait_saved(self) -> None:
        """Until every save started is over (``close``, before it frees the model, and tests)."""
        for saver in self._savers:
            saver.join()

    def _stream(
        self,
        messages: List[Message],
        sampling: Sampling,
        cancel: threading.Event,
        end_thinking: threading.Event,
        prefill_reasoning: Optional[str],
        chat_id: Optional[int] = None,
        think: bool = True,
    ) -> Iterator[Event]:
        rec = TurnRecorder(prefill_reasoning)
        result, stats = rec.result, rec.stats
        stats.context_size = self.context_size
        closed = prefill_reasoning  # thinking written into the prompt and closed there
        try:
            prompt, tokens, dropped = self.fit(messages, sampling, cancel)
            if closed is None and not think and self.thinks(prompt):
                closed = ""  # Quick: "<think>\n\n</think>\n\n", as Qwen3's enable_thinking=false renders it
            if closed is not None:  # the saved thinking, opened as the model would have
                opened = "" if self.opens_thinking(prompt) else OPEN + "\n"
                prompt = prompt + opened + closed + CLOSE_THINKING
                tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=self._add_bos, special=True)
                if len(tokens) >= self.context_size - 16:
                    what = "the saved thinking fills" if closed else "the message fills"
                    raise QwqError(f"{what} the context; there is no room left for an answer")
        except TemplateCancelled:
            result.finish_reason = "cancelled"
            stats.total_s = time.perf_counter() - rec.started
            yield TurnDone(result)
            return
        except QwqError as exc:
            result.finish_reason, result.error = "error", str(exc)
            stats.total_s = time.perf_counter() - rec.started
            yield TurnDone(result)
            return
        if dropped:
            stats.dropped_turns = dropped
            yield HistoryTrimmed(dropped)
        if chat_id is not None and self.kv_disk is not None:
            self._restore(chat_id, tokens)
        stats.prompt_tokens = len(tokens)
        stats.prompt_tokens_evaluated = len(tokens) - max(0, self._cached_prefix(tokens))
        max_new = sampling.max_tokens or self.context_size  # a forced closing does not count against it

        thinking_open = closed is None and self.opens_thinking(prompt)
        splitter = ReasoningSplitter(starts_in_reasoning=thinking_open, closed_by_engine=closed is not None)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        llm = self.llm
        vocab = llm._model.vocab
        import llama_cpp

        is_eog = llama_cpp.llama_vocab_is_eog
        llm.set_seed(sampling.seed if sampling.seed is not None else random.getrandbits(31))
        generated = 0
        finish = "length"
        out: List[int] = []  # tokens produced after the prompt (the forced closing included)
        think_budget = sampling.think_budget
        drafter = llm.draft_model  # a lookup.Drafter when drafting is on
        if drafter is not None:
            drafter.start()
            stats.draft = drafter.num_pred_tokens

        def pieces(text: str):
            return rec.emit(splitter.feed(text) if text else ())

        while True:
            close_now = None
            gen = llm.generate(
                tokens + out,
                top_k=sampling.top_k,
                top_p=sampling.top_p,
                min_p=sampling.min_p,
                temp=sampling.temperature,
                repeat_penalty=1.0,
                presence_penalty=sampling.presence_penalty,
                reset=True,
            )
            try:
                for token in gen:
                    rec.arrival()
                    if drafter is not None:
                        drafter.take(token)
                    if is_eog(vocab, token):
                        finish = "stop"
                        break
                    generated += 1
                    out.append(token)
                    if splitter.in_reasoning:
                        stats.reasoning_tokens += 1
                    else:
                        stats.answer_tokens += 1
                    yield from pieces(decoder.decode(llm.detokenize([token], special=False)))
                    if cancel.is_set():
                        finish = "cancelled"
                        break
                    if generated >= max_new or len(tokens) + len(out) >= self.context_size:
                        finish = "length"
                        break
                    if splitter.in_reasoning and not splitter.saw_close:
                        if think_budget and stats.reasoning_tokens >= think_budget:
                            close_now = "think-budget"
                            break
                        if end_thinking.is_set():
                            close_now = "answer-now"
                            break
            except Exception as exc:  # llama.cpp failed mid-reply: keep what we have
                log.exception("generation failed")
                finish, result.error = "error", f"generation failed: {exc}"
            finally:
                gen.close()
                if drafter is not None:
                    drafter.settle()
            if close_now is None:
                break
            # End the thinking ourselves: the closing goes after the tokens already in the
            # KV cache, so only it (and the last sampled token) is evaluated.
            yield from pieces(decoder.decode(b"", final=True) + CLOSE_THINKING)
            splitter.closed_by_engine = True
            closing = llm.tokenize(CLOSE_THINKING.encode("utf-8"), add_bos=False, special=True)
            out += closing
            stats.intervention = close_now
            stats.forced_close_tokens_evaluated = len(tokens) + len(out) - max(0, self._cached_prefix(tokens + out))
        yield from rec.emit(splitter.feed(decoder.decode(b"", final=True)) + splitter.flush())
        rec.finish(finish, splitter)
        stats.context_used = len(tokens) + len(out)
        if drafter is not None:
            stats.drafted, stats.draft_accepted = drafter.drafted, drafter.accepted
        yield TurnDone(result)
