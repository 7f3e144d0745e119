"""Every UI flow, through Pilot, on the real app with a replayed QwQ stream."""

import asyncio
import threading
import time
from contextlib import asynccontextmanager

import pytest
from textual.widgets import Input, ListView
from textual.widgets.collapsible import CollapsibleTitle
from uihelpers import ANSWER_AT, CHUNKS, Gate, finished, make_app, ready, send, wait_until

from qwqchat import config
from qwqchat.engines.llama import LlamaEngine
from qwqchat.engines.replay import ReplayEngine, tokens_of
from qwqchat.errors import ModelError
from qwqchat.store import Store
from qwqchat.ui.keys import KEYS, key_text
from qwqchat.ui.screens.chat_actions import ANSWERING_ELSEWHERE, ELSEWHERE, STILL_ANSWERING
from qwqchat.ui.screens.dialogs import Ask, Confirm
from qwqchat.ui.screens.help import HelpScreen
from qwqchat.ui.screens.settings import SettingsScreen
from qwqchat.ui.widgets.turn import AssistantTurn, UserMessage


def reasoning_text(turn: AssistantTurn) -> str:
    return turn.fold.pane.text if turn.fold.pane else turn.fold._pending_text


class HeldLoad(ReplayEngine):
    """A replay whose load finishes only when the test says so: no race with a slow (loaded) machine."""

    def __init__(self) -> None:
        super().__init__(CHUNKS, name="qwq-32b-q4_k_m")
        self.release = threading.Event()

    def load(self) -> None:
        self.release.wait(60)
        super().load()


async def test_first_frame_before_the_model_loads_and_prompt_is_sent_after(qwq_home):
    engine = HeldLoad()
    app = make_app(engine)
    async with app.run_test(size=(140, 40)) as pilot:
        assert not app.engine_ready
        await wait_until(pilot, lambda: "loading model" in str(app.status.render()), what="the loading status")
        await send(pilot, "How do I reverse a list?")
        await wait_until(pilot, lambda: app.view.query(UserMessage), what="the prompt on screen before the load")
        assert not app.engine_ready and app.pending_send  # shown at once, sent once the model is ready
        engine.release.set()
        await wait_until(pilot, lambda: app.engine_ready, what="load")
        await finished(pilot)
        turn = app.view.last_turn()
        assert "Use **slicing**" in turn.answer.text
        assert "xs[::-1] returns a new reversed list" in reasoning_text(turn)
        assert "</think>" not in reasoning_text(turn) + turn.answer.text
        conv = Store().get(app.conversation.id)
        assert conv.messages[-1].finish_reason == "stop" and conv.messages[-1].content.startswith("Use **slicing**")


async def test_reasoning_beside_answer_when_wide_then_folds_with_summary(qwq_home):
    gate = Gate(ANSWER_AT - 8, ANSWER_AT + 20)
    app = make_app(pace=gate)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "reverse a list")
        await gate.wait_reached()
        await wait_until(
            pilot,
            lambda: (
                app.streaming_turn is not None
                and reasoning_text(app.streaming_turn)
                and not app.streaming_turn.answer.text
            ),
            what="thinking on screen",
        )
        turn = app.streaming_turn
        assert turn.fold.title.startswith("Thinking… ") and "tokens" in turn.fold.title
        assert not turn.fold.collapsed
        gate.release()
        await wait_until(pilot, lambda: turn.answer.text, what="the answer to start")
        assert turn.fold.collapsed  # folded to one line when the answer starts
        gate.release()
        await finished(pilot)
        assert turn.fold.title.startswith("Thought for ") and "tokens" in turn.fold.title
        fold, answer = turn.fold.region, turn.answer.region
        assert fold.x == answer.x and fold.y < answer.y  # folded: one line above the answer, no blank column
        turn.fold.collapsed = False
        await pilot.pause(0.1)
        fold, answer = turn.fold.region, turn.answer.region
        assert fold.x < answer.x and abs(fold.y - answer.y) <= 1  # unfolded: side by side


async def test_narrow_terminal_puts_reasoning_above_answer(qwq_home):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "reverse a list")
        await finished(pilot)
        turn = app.view.last_turn()
        turn.fold.collapsed = False
        await wait_until(
            pilot,
            lambda: turn.fold.region.y < turn.answer.region.y and turn.fold.region.x == turn.answer.region.x,
            what="the screen to settle",
        )
        assert turn.fold.region.y < turn.answer.region.y and turn.fold.region.x == turn.answer.region.x


async def test_keep_open_setting_leaves_reasoning_unfolded(qwq_home):
    cfg = config.load()
    cfg.keep_reasoning_open = True
    app = make_app(cfg=cfg)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        assert not app.view.last_turn().fold.collapsed


async def test_toggle_keys_and_clicking_the_title(qwq_home):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        for prompt in ("one", "two"):
            await send(pilot, prompt)
            await finished(pilot)
        first, second = app.view.turns()
        assert first.fold.collapsed and second.fold.collapsed
        await pilot.press("ctrl+t")  # the last turn when none is focused
        assert not second.fold.collapsed and first.fold.collapsed
        await pilot.press("ctrl+g")  # all: not all folded -> fold all
        assert first.fold.collapsed and second.fold.collapsed
        await pilot.press("ctrl+g")
        assert not first.fold.collapsed and not second.fold.collapsed
        await pilot.press("ctrl+g")
        app.view.scroll_to_widget(first.fold, animate=False, immediate=True)  # Ctrl+G leaves the view where it is
        await pilot.pause()
        await pilot.click(first.fold.query_one(CollapsibleTitle))
        assert not first.fold.collapsed
        first.focus()
        await pilot.press("ctrl+t")
        assert first.fold.collapsed


async def test_escape_stops_keeps_partial_and_saves(qwq_home):
    gate = Gate(30)
    app = make_app(pace=gate)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await gate.wait_reached()
        await pilot.press("escape")
        gate.release()
        await finished(pilot)
        turn = app.view.last_turn()
        assert "Stopped while thinking — no answer" in str(turn.note.render())
        msg = Store().get(app.conversation.id).messages[-1]
        assert msg.finish_reason == "cancelled" and msg.reasoning.startswith("Okay, so the user")
        assert msg.reasoning == reasoning_text(turn)


async def test_everything_streamed_is_saved_while_it_arrives(qwq_home):
    app = make_app(delay=0.02)  # ~50 tokens/s: the reply takes several seconds
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        store = Store()

        def saved() -> int:
            m = store.get(app.conversation.id).messages[-1]
            return len(m.reasoning) if m.role == "assistant" and m.finish_reason is None else 0

        await wait_until(pilot, lambda: saved() > 50, timeout=10, what="a partial save")
        assert app.stream is not None  # saved while still streaming
        app.action_stop()
        await finished(pilot)


async def test_regenerate_and_edit_last_prompt(qwq_home):
    engine = ReplayEngine(CHUNKS, name="m")
    app = make_app(engine)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "first prompt")
        await finished(pilot)
        await pilot.press("ctrl+r")
        await finished(pilot)
        conv = Store().get(app.conversation.id)
        assert [m.role for m in conv.messages] == ["user", "assistant"]
        assert len(engine.requests) == 2 and engine.requests[1][-1].content == "first prompt"
        await pilot.press("f4")
        assert app.prompt.text == "first prompt"
        assert not [w for w in [*app.view.query(UserMessage), *app.view.turns()] if w.display]  # hidden, kept
        app.prompt.text = "edited prompt"
        await pilot.press("enter")
        await finished(pilot)
        conv = Store().get(app.conversation.id)
        assert [m.content for m in conv.messages if m.role == "user"] == ["edited prompt"]
        # history sent back holds answers only
        await send(pilot, "follow-up")
        await finished(pilot)
        sent = engine.requests[-1]
        assert all("xs[::-1] returns a new reversed list" not in m.content for m in sent)
        assert [m.role for m in sent] == ["user", "assistant", "user"]


async def test_model_text_is_never_markup_and_control_characters_are_harmless(qwq_home):
    chunks = tokens_of("think [bold]x[/bold] \x1b[31mred\x1b[0m</think>Answer [red]not red[/red] \x1b]52;c;evil\x07")
    app = make_app(ReplayEngine(chunks, name="m"))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        turn = app.view.last_turn()
        turn.fold.collapsed = False
        await pilot.pause(0.05)
        reasoning = reasoning_text(turn)
        assert "[bold]x[/bold]" in reasoning and "\x1b" not in reasoning and "␛[31m" in reasoning
        assert "[red]not red[/red]" in turn.answer.text and "\x1b" not in turn.answer.text


async def test_copy_answer_and_code(qwq_home):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        await pilot.press("ctrl+o")
        assert app.clipboard.startswith("Use **slicing**")
        await pilot.press("f5")
        assert app.clipboard.startswith("def reversed_copy(xs):")


async def test_sidebar_filter_open_rename_delete(qwq_home):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "alpha question")
        await finished(pilot)
        await pilot.press("ctrl+n")
        await send(pilot, "beta question")
        await finished(pilot)
        items = app.query_one("#chat-list", ListView).children
        assert [i.conversation_id for i in items] == [2, 1]  # newest first

        def shown():
            return [i.conversation_id for i in app.query_one("#chat-list", ListView).children]

        await pilot.press("ctrl+f")
        await pilot.press(*"alpha")
        await wait_until(pilot, lambda: shown() == [1], what="the list filtered to alpha")
        app.query_one("#chat-filter", Input).value = "idiomatic"  # only in the reasoning: matches both
        await wait_until(pilot, lambda: sorted(shown()) == [1, 2], what="both chats matching the reasoning")
        app.query_one("#chat-filter", Input).value = ""
        await wait_until(pilot, lambda: shown() == [2, 1], what="the whole list again")
        await app.open_conversation(1)
        assert app.view.query(UserMessage).first().prompt_text == "alpha question"
        await pilot.press("f2")
        assert isinstance(app.screen, Ask)
        app.screen.query_one(Input).value = "Renamed chat"
        await pilot.press("enter")
        assert Store().get(1).title == "Renamed chat"
        await pilot.press("f8")
        assert isinstance(app.screen, Confirm)
        await pilot.press("escape")  # cancel keeps it
        assert Store().exists(1)
        await pilot.press("f8")
        await pilot.press("y")
        await wait_until(pilot, lambda: not Store().exists(1) and app.conversation is None, what="the screen to settle")
        assert not Store().exists(1) and app.conversation is None


async def test_export_writes_markdown_and_shows_the_path(qwq_home, tmp_path):
    app = make_app(export_dir=tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "export me")
        await finished(pilot)
        await pilot.press("ctrl+s")
        files = list(tmp_path.glob("qwqchat-1-*.md"))
        assert len(files) == 1 and "<details>" in files[0].read_text()
        assert any(str(files[0]) in m for m in app.notified)


async def test_settings_screen_saves_per_chat_settings(qwq_home):
    engine = ReplayEngine(CHUNKS, name="m")
    app = make_app(engine)
    async with app.run_test(size=(140, 50)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        await pilot.press("f3")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#temperature", Input).value = "0.3"
        screen.query_one("#max_tokens", Input).value = "12"
        screen.query_one("#presence_penalty", Input).value = "9"  # out of range: refused, screen stays
        screen.action_save()
        await wait_until(
            pilot,
            lambda: app.screen is screen and "presence penalty" in str(screen.query_one("#settings-error").render()),
            what="the screen to settle",
        )
        assert app.screen is screen and "presence penalty" in str(screen.query_one("#settings-error").render())
        screen.query_one("#presence_penalty", Input).value = "1.5"
        screen.action_save()
        await pilot.pause(0.05)
        conv = Store().get(app.conversation.id)
        assert conv.settings["temperature"] == 0.3 and conv.settings["presence_penalty"] == 1.5
        await send(pilot, "short please")
        await finished(pilot)
        last = Store().get(app.conversation.id).messages[-1]
        assert last.finish_reason == "length"  # max_tokens 12 applied


async def test_help_screen_and_command_palette_list_every_action(qwq_home):
    """Help and palette name each key the app really answers to, with the action that key runs."""
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        live = {}  # action -> the keys bound to it on the chat screen
        for key, active in app.active_bindings.items():
            live.setdefault(active.binding.action, set()).add(key)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("DataTable")
        rows = {str(table.get_row_at(i)[1]): str(table.get_row_at(i)[0]) for i in range(table.row_count)}
        await pilot.press("escape")
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for action in (
            "stop",
            "new_chat",
            "regenerate",
            "edit_last",
            "version_back",
            "version_next",
            "toggle_reasoning",
            "export",
            "rename",
            "delete",
            "settings",
            "answer_now",
            "retry_with_penalty",
            "help",
        ):
            title = next(k.title for k in KEYS if k.action == action)
            shown = rows[title]
            assert {key_text(k) for k in live[action]} == set(shown.split(" or ")), (action, shown, live[action])
            assert commands[title].help == shown and commands[title].callback.__name__ == f"action_{action}"
        assert any("theme" in t.lower() for t in commands)


async def test_prompt_keys_newline_and_recall(qwq_home):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press(*"line one")
        await pilot.press("ctrl+j")
        await pilot.press(*"line two")
        assert app.prompt.text == "line one\nline two"
        await pilot.press("enter")
        await finished(pilot)
        assert app.prompt.text == ""
        await pilot.press("up")
        assert app.prompt.text == "line one\nline two"
        await pilot.press("down")
        assert app.prompt.text == ""


async def test_model_that_fails_to_load_leaves_the_app_usable(qwq_home):
    store = Store()
    cid = store.create_conversation()
    store.add_user_message(cid, "an old chat")
    app = make_app(ReplayEngine([], load_error=ModelError("model file not found: /x.gguf")))
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        assert "model file not found: /x.gguf" in str(app.status.render())
        await app.open_conversation(cid)
        assert app.view.query(UserMessage).first().prompt_text == "an old chat"
        await send(pilot, "new question")
        assert len(Store().get(cid).messages) == 1  # nothing sent, nothing lost


async def test_theme_is_remembered(qwq_home):
    app = make_app()
    app.save_theme = True
    async with app.run_test(size=(100, 30)) as pilot:
        app.theme = "nord"
        await pilot.pause(0.05)
    assert config.load().theme == "nord"
    again = make_app(cfg=config.load())
    assert again.theme == "nord"


async def test_long_chat_opens_with_a_window_and_loads_earlier_turns(qwq_home):
    store = Store()
    cid = store.create_conversation()
    for i in range(50):
        store.add_user_message(cid, f"question {i}")
        mid = store.start_reply(cid)
        store.finish_reply(mid, "thinking " * 400, f"answer {i}\n\n" + "para " * 200, "stop")
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await app.open_conversation(cid)

        def shown() -> int:
            return len(app.view.query(UserMessage)) + len(app.view.turns())

        assert shown() == 12
        # opened at its end (after layout): only then is going home a scroll that reaches the top
        await wait_until(pilot, lambda: app.view.scroll_y > 0 and app.view.scroll_y == app.view.max_scroll_y)
        app.view.scroll_home(animate=False)  # reaching the top brings the next messages in above
        await wait_until(pilot, lambda: shown() == 18 and not app.view.loading_earlier, what="6 earlier messages")
        assert app.view.scroll_y > 0  # what was at the top is still on screen, below them
        app.view.query_one("#load-earlier").press()  # the button does the same
        await wait_until(pilot, lambda: shown() == 24, what="6 more")


async def test_view_follows_the_stream_until_the_user_scrolls_up(qwq_home):
    app = make_app(delay=0.003)
    async with app.run_test(size=(100, 24)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await finished(pilot)
        view = app.view
        assert view.max_scroll_y > 0 and view.scroll_y == view.max_scroll_y
        view.scroll_home(animate=False)
        await wait_until(pilot, lambda: view.scroll_y == 0, what="the screen to settle")
        assert view.scroll_y == 0


async def test_real_llama_engine_in_the_app(qwq_home, qwq_model):
    cfg = config.load()
    cfg.sampling = cfg.sampling.merged(max_tokens=40, seed=1)
    app = make_app(LlamaEngine(qwq_model, ctx=2048, threads=1), cfg=cfg)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine_ready, timeout=60, what="llama load")
        assert "CPU" in str(app.status.render())
        await send(pilot, "Why is the sky blue?")
        await finished(pilot, timeout=60)
        turn = app.view.last_turn()
        assert reasoning_text(turn)  # QwQ template: the output starts inside the thinking
        msg = Store().get(app.conversation.id).messages[-1]
        assert msg.reasoning == reasoning_text(turn) and msg.stats.reasoning_tokens > 0
        assert "Ran out of tokens while thinking" in str(turn.note.render())


async def test_remote_engine_in_the_app_reasoning_beside_answer_and_faults_in_the_chat(qwq_home):
    from sse_server import ScriptedServer, chunk

    from qwqchat.engines.remote import RemoteEngine

    with ScriptedServer() as server:
        server.script = [
            chunk(reasoning_content="Six times seven"),
            chunk(reasoning_content=" is 42."),
            chunk(content="**42**", finish="stop"),
        ]
        app = make_app(RemoteEngine(server.url))
        async with app.run_test(size=(140, 40)) as pilot:
            await ready(pilot)
            status = str(app.status.render())
            assert f"127.0.0.1:{server.port}" in status and "Qwen/QwQ-32B" in status
            await send(pilot, "6*7?")
            await finished(pilot)
            turn = app.view.last_turn()
            assert reasoning_text(turn) == "Six times seven is 42." and turn.answer.text == "**42**"
            turn.fold.collapsed = False
            await wait_until(pilot, lambda: turn.fold.region.x < turn.answer.region.x, what="the screen to settle")
            assert turn.fold.region.x < turn.answer.region.x
            server.script = [("status", 500, "CUDA out of memory")]
            await send(pilot, "again")
            await finished(pilot)
            note = str(app.view.last_turn().note.render())
            assert "answered 500: CUDA out of memory" in note
            assert Store().get(app.conversation.id).messages[-1].finish_reason == "error"


async def test_f9_answers_now_and_answers_from_saved_thinking_on_the_real_engine(qwq_home, qwq_model):
    cfg = config.load()
    cfg.sampling = cfg.sampling.merged(max_tokens=30, seed=2)
    app = make_app(LlamaEngine(qwq_model, ctx=2048, threads=1), cfg=cfg)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine_ready, timeout=60, what="llama load")
        await send(pilot, "Why?")
        await finished(pilot, timeout=60)
        assert not app.view.last_turn().answer.text  # stopped while thinking
        await pilot.press("f9")  # answer from what it has
        await finished(pilot, timeout=60)
        msg = Store().get(app.conversation.id).messages[-1]
        assert msg.stats.intervention == "answer-from-thinking" and msg.content
        assert app.view.last_turn().answer.text == msg.content
        # during streaming: end the thinking now
        app.conversation = Store().get(app.conversation.id)
        await app.open_conversation(app.conversation.id)
        settings = app.chat.sampling().merged(max_tokens=400, temperature=0.0, seed=1)
        app.store.update_settings(app.conversation.id, settings=settings.to_dict())
        app.conversation = app.store.get(app.conversation.id)
        await send(pilot, "Tell me a story about a cat.")
        await wait_until(
            pilot, lambda: app.stream is not None and app.stream.reasoning_pieces >= 5, timeout=30, what="thinking"
        )
        await pilot.press("f9")
        await finished(pilot, timeout=60)
        msg = Store().get(app.conversation.id).messages[-1]
        assert msg.stats.intervention == "answer-now" and msg.stats.answer_tokens > 0


async def test_loop_warning_and_retry_with_a_higher_presence_penalty(qwq_home):
    looping = tokens_of("Let me see. " + "The sum is 12, so adding 3 gives 15, then I check it again. " * 30)
    gate = Gate(len(looping) - 5)  # the turn is still running while the warning is checked
    engine = ReplayEngine(looping, name="m", delay=0.002, pace=gate)
    app = make_app(engine)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await gate.wait_reached()
        await wait_until(
            pilot,
            lambda: app.view.last_turn() is not None and app.view.last_turn().warning.display,
            what="the loop warning",
        )
        assert "repeating itself" in str(app.view.last_turn().warning.render())
        gate.release()
        await pilot.press("f10")
        await finished(pilot)
        conv = Store().get(app.conversation.id)
        assert conv.settings["presence_penalty"] == 1.0
        assert [m.role for m in conv.messages] == ["user", "assistant"] and len(engine.requests) == 2


async def test_remote_engine_says_answer_now_is_not_available(qwq_home):
    app = make_app()  # the replay engine, like a remote server, cannot end the thinking
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f9")
        assert any("needs the local engine" in m for m in app.notified)


async def test_dialogs_take_what_the_user_types(qwq_home):
    """Each dialog focuses its own first field: typed keys land there, not nowhere."""
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "alpha question")
        await finished(pilot)
        await pilot.press("f2")
        assert isinstance(app.screen, Ask)
        await pilot.press("x", "y")
        assert app.screen.query_one(Input).value.endswith("xy")
        await pilot.press("escape")
        await pilot.press("f3")
        assert isinstance(app.screen, SettingsScreen)
        assert app.focused is not None and app.focused.screen is app.screen


async def test_up_recalls_prompts_after_a_restart_this_chats_first(qwq_home):
    async def sent(app, pilot, *prompts):
        for text in prompts:
            await send(pilot, text)
            await finished(pilot)

    async def recalled(app, pilot, n):
        app.prompt.focus()
        app.prompt.text = ""  # Up recalls into an empty box
        seen = []
        for _ in range(n):
            await pilot.press("up")
            seen.append(app.prompt.text)
        return seen

    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await sent(app, pilot, "alpha one", "alpha two")
        alpha = app.conversation.id
        await app.open_conversation(None)
        await sent(app, pilot, "beta one", "alpha one")
        beta = app.conversation.id
    app = make_app()  # a restart: a new app on the same QWQCHAT_HOME
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        assert await recalled(app, pilot, 1) == ["alpha one"]  # no chat open: the newest prompt anywhere
        await app.open_conversation(alpha)
        # this chat's, newest first, then the rest; Up stops at the oldest
        assert await recalled(app, pilot, 4) == ["alpha two", "alpha one", "beta one", "beta one"]
        await app.open_conversation(beta)
        assert await recalled(app, pilot, 3) == ["alpha one", "beta one", "alpha two"]  # each prompt once
        await pilot.press("down", "down")
        assert app.prompt.text == "alpha one"
        await pilot.press("down")
        assert app.prompt.text == ""


def long_chat(exchanges: int, thinking: int, words: int) -> Store:
    """A store holding one chat of ``exchanges`` finished question-and-answer pairs."""
    store = Store()
    cid = store.create_conversation(model="m")
    for i in range(exchanges):
        store.add_user_message(cid, f"Question {i}")
        store.finish_reply(store.start_reply(cid), "thinking " * thinking, f"Answer {i}\n\n" + "word " * words, "stop")
    return store


async def opened_long_chat(pilot):
    """The app's view once the store's one chat is open and its last turn drawn."""
    app = pilot.app
    await ready(pilot)
    await app.open_conversation(app.store.list_conversations()[0].id)
    view = app.view
    await wait_until(pilot, lambda: view.last_turn() is not None and view.last_turn().region.height > 0)
    return view


async def test_scrolling_to_the_top_of_a_long_chat_loads_earlier_turns_in_place(qwq_home):
    from qwqchat.ui.widgets.conversation import WINDOW

    app = make_app(store=long_chat(200, thinking=50, words=80))
    async with app.run_test(size=(140, 40)) as pilot:
        view = await opened_long_chat(pilot)
        assert len(view.children) == WINDOW + 1  # the button, then the last messages only
        for _ in range(3):  # to the top, as a user does: earlier messages come in on the way
            before = len(view.children)
            view.scroll_home(animate=False)
            await wait_until(pilot, lambda n=before: len(view.children) > n and not view.loading_earlier)
            await pilot.pause()
            assert view.scroll_y > 0  # what was read stays on screen: the new messages are above it
            top = next(c for c in view.children[1:] if c.region.bottom > view.content_region.y)
            row = top.region.y
            await view.load_earlier()  # the button's load too keeps what was on screen in place
            await pilot.pause()
            assert top.region.y == row and view.region.overlaps(top.region)
            assert view.scroll_y > 0


async def test_one_page_up_near_the_top_of_a_long_chat_loads_one_batch_and_scrolls_one_page(qwq_home):
    """One PageUp near the top ran through a whole 52-message chat in a user's run: its animation kept heading for
    the old top after each load moved the text down, and every step there loaded the next messages."""
    from qwqchat.ui.widgets.conversation import EARLIER

    app = make_app(store=long_chat(40, thinking=20, words=60))
    async with app.run_test(size=(140, 40)) as pilot:
        view = await opened_long_chat(pilot)
        view.scroll_to(y=view.size.height // 2, animate=False)  # near the top, not yet asking for more
        await pilot.pause(0.3)
        shown = len(view.children)
        view.focus()
        await pilot.press("pageup")
        await pilot.pause(1.5)  # (Textual's scroll animation, and any load it asks for)
        await wait_until(pilot, lambda: not view.loading_earlier)
        assert len(view.children) == shown + EARLIER  # one batch, as one PageUp asked
        assert view.scroll_y > view.size.height // 2  # and the page above what was read, not the chat's top


async def test_a_watched_reply_paints_rarely_and_a_key_brings_frames_back(qwq_home):
    """Nobody touching the keys: the first piece shows at once, then the pump waits out ``idle_frame_s`` (the model
    keeps the CPU); a key: frames again."""
    gate = Gate(0, 1, 31)
    app = make_app(pace=gate)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        app.view.idle_frame_s = 3600.0  # as if the idle frames never came
        await send(pilot, "q")
        await gate.wait_reached()  # before the first piece
        app.last_input = 0.0  # the Enter was long ago
        await pilot.pause(0.2)  # frames with nothing to show do not start the wait
        turn = app.view.last_turn()
        gate.release()
        await wait_until(pilot, lambda: turn.reasoning_pieces == 1, what="the first piece, at once")
        gate.release()
        await wait_until(pilot, lambda: gate.stops == [31], what="the replay to go on")
        await gate.wait_reached()
        await pilot.pause(0.3)  # ten 30-fps frames
        assert turn.reasoning_pieces == 1  # the 30 pieces wait in the batch
        await pilot.press("ctrl+b")  # any key (here: the chat list), and the pump paints again
        await wait_until(pilot, lambda: turn.reasoning_pieces == 31, what="a frame after the key")
        gate.release()
        await finished(pilot)


async def test_a_watched_reply_does_not_tick_the_pump_thirty_times_a_second(qwq_home, monkeypatch):
    """Only watched, and nothing to show before the idle frame: the pump sleeps instead of waking 30 times a
    second to find nothing to do (each wake took a core from the model); the worker's end still shows at once."""
    from qwqchat.ui.widgets.conversation import ConversationView

    ticks = []
    pump = ConversationView._pump

    async def counting_pump(self):
        ticks.append(1)
        await pump(self)

    monkeypatch.setattr(ConversationView, "_pump", counting_pump)
    async with thirty_held(3600.0) as (pilot, app, gate, turn):
        ticks.clear()
        await pilot.pause(1.0)  # thirty ticks, had the pump kept its frame rate
        assert len(ticks) <= 3 and turn.reasoning_pieces == 1
        gate.release()
        await finished(pilot)  # the end woke it
        assert not turn.streaming


async def test_while_only_watched_costly_frames_come_less_often_but_at_least_every_watch_max_s(qwq_home, monkeypatch):
    """Watched, a frame waits until the UI thread has been busy for at most ``WATCH_BUSY`` of the time since the
    last one (a long answer's frames cost more and more), but no longer than ``WATCH_MAX_S``."""
    conversation = "qwqchat.ui.widgets.conversation"
    monkeypatch.setattr(f"{conversation}.WATCH_BUSY", 1e-9)  # as if every frame were far too costly
    monkeypatch.setattr(f"{conversation}.WATCH_MAX_S", 2.0)
    async with thirty_held(0.05) as (pilot, app, gate, turn):  # (the idle rate alone would paint them at once)
        shown_at = asyncio.get_running_loop().time()
        await pilot.pause(0.3)
        assert turn.reasoning_pieces == 1  # the 30 pieces wait: over budget
        await wait_until(pilot, lambda: turn.reasoning_pieces == 31, what="a frame at the longest wait")
        assert asyncio.get_running_loop().time() - shown_at < 2.0 + 1.0
        gate.release()
        await finished(pilot)


async def test_a_reply_that_ends_while_another_chat_is_shown_leaves_that_chats_status_line(qwq_home):
    """The end of a reply streaming in the background is not the shown chat's: its line said where the model
    was busy (not "ready": prompts there are refused meanwhile), then "ready", not that reply's tokens."""
    gate = Gate(1)
    app = make_app(pace=gate)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await gate.wait_reached()
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.status.activity == ELSEWHERE, what="the new chat's status")
        gate.release()
        await finished(pilot)
        assert app.status.activity == "ready"


async def test_esc_in_another_chat_leaves_the_streaming_reply_alone_and_says_where_it_is(qwq_home):
    """Esc in a new chat stopped the other chat's reply unseen; a prompt there was refused with "press Esc"."""
    gate = Gate(1)
    app = make_app(pace=gate)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await gate.wait_reached()
        streaming = app.stream
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.chat.conversation is None, what="the new chat")
        await pilot.press("escape")
        await wait_until(pilot, lambda: ANSWERING_ELSEWHERE in app.notified, what="where the reply is")
        assert not streaming.cancel.is_set()
        await pilot.press("x", "enter")
        await pilot.pause()
        assert app.notified.count(ANSWERING_ELSEWHERE) == 2 and STILL_ANSWERING not in app.notified
        gate.release()
        await finished(pilot)
        reply = Store().get(streaming.conversation_id).messages[-1]
        assert reply.finish_reason == "stop" and reply.content


async def test_regenerate_retry_and_answer_now_in_another_chat_leave_the_streaming_reply_alone(qwq_home):
    """Ctrl+R in another chat started a reply there behind the streaming one, which then could not be stopped
    (Esc in its chat said it streamed elsewhere) and held Ctrl+Q for a minute; F10 stopped it unseen."""
    store = Store()
    gate = Gate()
    app = make_app(store=store, pace=gate)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "first chat")
        await finished(pilot)
        first = app.conversation.id
        await pilot.press("ctrl+n")
        gate.stops = [5]  # the second chat's reply is held
        await send(pilot, "second chat")
        await gate.wait_reached()
        streaming = app.stream
        await app.open_conversation(first)
        before = [(m.id, m.chosen) for m in store.get(first).all_messages]
        app.engine.can_end_thinking = True  # F9 as with the local engine
        for key in ("ctrl+r", "f10", "f9"):  # (F7 regenerates as Ctrl+R does)
            app.notified.clear()
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.notified == [ANSWERING_ELSEWHERE], key
            assert app.stream is streaming and not streaming.cancel.is_set(), key
        assert [(m.id, m.chosen) for m in store.get(first).all_messages] == before  # no new version
        await app.open_conversation(streaming.conversation_id)
        await pilot.press("escape")  # in its own chat, Esc stops it
        gate.release()
        await finished(pilot)
        assert store.get(streaming.conversation_id).messages[-1].finish_reason == "cancelled"


async def test_the_prompts_cursor_is_steady_while_a_reply_streams(qwq_home):
    """Each blink repainted the prompt box twice a second while the model decoded; it blinks again after."""
    gate = Gate(1)
    app = make_app(pace=gate)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        assert app.prompt.cursor_blink
        await send(pilot, "q")
        await gate.wait_reached()
        assert not app.prompt.cursor_blink
        gate.release()
        await finished(pilot)
        assert app.prompt.cursor_blink
        lines = set()  # and it does blink: its line is drawn with the cursor, then without
        for _ in range(16):
            lines.add(tuple(app.prompt.render_line(0)))
            await pilot.pause(0.1)
        assert len(lines) >= 2


async def first_piece_then_thirty_held(pilot, app, gate: Gate):
    """Send a prompt; once its first piece is on screen, let 30 more into the batch (``Gate(1, 31)``)."""
    await send(pilot, "q")
    await gate.wait_reached()
    turn = app.view.last_turn()
    await wait_until(pilot, lambda: turn.reasoning_pieces == 1, what="the first piece, at once")
    gate.release()
    await wait_until(pilot, lambda: gate.stops == [31], what="the replay to go on")
    await gate.wait_reached()
    return turn


@asynccontextmanager
async def thirty_held(idle_frame_s: float):
    """An app whose reply has shown its first piece and holds 30 more in the batch (``first_piece_then_thirty_held``),
    painting ``idle_frame_s`` apart while only watched: yields (pilot, app, gate, turn)."""
    gate = Gate(1, 31)
    app = make_app(pace=gate)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        app.view.idle_frame_s = idle_frame_s
        yield pilot, app, gate, await first_piece_then_thirty_held(pilot, app, gate)


async def test_building_the_chat_a_reply_streams_in_is_not_charged_to_the_watched_frames(qwq_home, monkeypatch):
    """Back in a streaming chat, its frames came every ``WATCH_MAX_S``: the CPU of building the chat (a long one:
    hundreds of ms) counted as painting against the watched frames' budget, which now starts after it."""
    from qwqchat.ui.widgets.conversation import ConversationView

    show = ConversationView._show
    built: list = []

    async def long_chat(self, conv, empty_text):
        await show(self, conv, empty_text)
        spent = time.thread_time() + 0.3  # as a long chat's widgets take to build
        while time.thread_time() < spent:
            pass
        built.append(time.thread_time())

    monkeypatch.setattr(ConversationView, "_show", long_chat)
    async with thirty_held(3600.0) as (pilot, app, gate, turn):
        stream = app.stream
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.chat.conversation is None, what="the new chat")
        await app.open_conversation(stream.conversation_id)
        assert app.view._cpu_at_apply >= built[-1]  # the budget counts the UI's CPU from the chat built on
        gate.release()
        await finished(pilot)


async def test_the_keys_that_send_a_prompt_do_not_hold_the_fast_frames(qwq_home, monkeypatch):
    """Sending is not using the reply: it streams at the idle rate from its start, until the next key."""
    monkeypatch.setattr("qwqchat.ui.widgets.conversation.INTERACTIVE_S", 3600.0)  # the Enter stays recent
    async with thirty_held(3600.0) as (pilot, app, gate, turn):
        await pilot.pause(0.3)
        assert turn.reasoning_pieces == 1
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: turn.reasoning_pieces == 31, what="a frame after the key")
        gate.release()
        await finished(pilot)


async def test_while_typing_a_busy_ui_thread_slows_the_frames_down_to_the_minimum_rate(qwq_home, monkeypatch):
    """Frames wait while the UI thread has been busy more than ``MAX_BUSY`` of the time since the last one, but
    never longer than ``MIN_FRAME_S``: a flood of tokens slows the painting, not the stream or the keys."""
    conversation = "qwqchat.ui.widgets.conversation"
    monkeypatch.setattr(f"{conversation}.INTERACTIVE_S", 3600.0)  # every key keeps the fast frames on
    monkeypatch.setattr(f"{conversation}.MAX_BUSY", -1.0)  # as if the UI thread never stopped
    monkeypatch.setattr(f"{conversation}.MIN_FRAME_S", 3600.0)
    gate = Gate(1, 31)
    app = make_app(pace=gate)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        turn = await first_piece_then_thirty_held(pilot, app, gate)
        await pilot.press("ctrl+b")  # in use: 30 frames a second, were the UI not busy
        await pilot.pause(0.3)
        assert turn.reasoning_pieces == 1  # the 30 pieces wait: too busy, and the minimum rate is far off
        monkeypatch.setattr(f"{conversation}.MIN_FRAME_S", 0.05)
        await wait_until(pilot, lambda: turn.reasoning_pieces == 31, what="a frame at the minimum rate")
        gate.release()
        await finished(pilot)


async def test_a_flood_is_painted_a_frames_share_at_a_time_without_waiting_for_the_idle_rate(qwq_home, monkeypatch):
    """A whole reply that arrived between two frames is spread over the next ones, one a tick (not a frame a
    second while only watched), each with no more than its share of text; the turn then ends whole."""
    monkeypatch.setattr("qwqchat.ui.streamer.REASONING_FRAME_CHARS", 200)
    monkeypatch.setattr("qwqchat.ui.streamer.ANSWER_FRAME_CHARS", 60)
    applied = []
    add = AssistantTurn.add

    async def recording_add(self, reasoning, answer, pieces):
        applied.append((reasoning, answer))
        await add(self, reasoning, answer, pieces)

    monkeypatch.setattr(AssistantTurn, "add", recording_add)
    gate = Gate(1, len(CHUNKS) - 1)
    app = make_app(pace=gate)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        app.view.idle_frame_s = 3600.0  # only watched: without the shares, nothing until the end
        await send(pilot, "q")
        app.last_input = 0.0
        await gate.wait_reached()
        turn = app.view.last_turn()
        gate.release()
        await gate.wait_reached()  # all but the last chunk wait in the batch
        await pilot.pause(0.2)
        assert len(applied) == 1  # the first piece only: watched, and nothing ended
        gate.release()
        await finished(pilot)
        assert len(applied) >= 6
        assert all(len(r) <= 200 and len(a) <= 60 for r, a in applied)
        assert "".join(a for _, a in applied).strip() == turn.answer.text.strip()
        assert turn.answer.text.strip() and turn.message is not None and not turn.streaming


async def test_a_short_chat_stays_at_the_top_of_the_view_while_it_streams_and_after_its_thinking_folds(qwq_home):
    """Textual 8 scrolled an anchored view shorter than its content to a negative offset (textual #6652): a first
    reply was drawn at the bottom under blank rows, and folding its thinking (Ctrl+G) left the view blank above."""
    gate = Gate(ANSWER_AT - 2, len(CHUNKS) - 2)
    app = make_app(pace=gate)
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await gate.wait_reached()
        await pilot.pause(0.3)
        view = app.view
        prompt = view.query_one(UserMessage)
        assert view.scroll_y == 0 and prompt.region.y == view.region.y + 1  # (below the turn's top margin)
        await pilot.press("ctrl+g")
        await pilot.pause(0.3)
        assert app.view.last_turn().fold.collapsed
        assert view.scroll_y == 0 and prompt.region.y == view.region.y + 1
        gate.release()
        await gate.wait_reached()
        await pilot.press("ctrl+g")  # the thinking open again, and a shorter terminal: taller than the view,
        await pilot.resize_terminal(150, 20)  # which follows the chat's end again
        await pilot.pause(0.3)
        assert view.virtual_size.height > view.size.height
        assert view.scroll_y == view.max_scroll_y > 0
        gate.release()
        await finished(pilot)


async def test_back_in_a_chat_whose_reply_streams_all_of_it_so_far_is_shown_and_the_rest_follows(qwq_home):
    """Away to another chat and back while the reply streams: the reply shows what came before, while away,
    and after (it showed only what came after the return), and its clock goes on."""
    store = Store()
    other = store.create_conversation(model="m")
    gate = Gate(ANSWER_AT + 5, len(CHUNKS) - 3)
    app = make_app(store=store, pace=gate, clock=time.monotonic)  # a clock that runs
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        chat = app.conversation.id
        await gate.wait_reached()  # into the answer
        await wait_until(pilot, lambda: app.view.last_turn().answer.text, what="the answer on screen")
        started, thought = app.view.last_turn().started, app.view.last_turn().fold.title
        await app.open_conversation(other)
        await pilot.pause(1.2)
        gate.release()
        await gate.wait_reached()  # more came while the other chat was shown
        await wait_until(pilot, lambda: not app.stream.behind and app.stream.answer_pieces > 10, what="a frame")
        await pilot.pause(0.1)
        assert "tok/s" not in str(app.status.render())  # that chat's status line is not this reply's...
        assert app.status.activity == ELSEWHERE  # ...but says where the model is busy
        await app.open_conversation(chat)
        await pilot.pause(0.2)
        turn = app.view.last_turn()
        assert turn is app.view.streaming_turn and turn.streaming
        assert turn.started == started  # its clock ("Thinking… 12 s") went on; it started again from 0
        assert turn.fold.title == thought  # "Thought for 0 s": it said 1 s, the time until the return
        assert turn.fold.text == "".join(app.stream.taken_reasoning)
        assert turn.answer.text == "".join(app.stream.taken_answer)
        assert turn.answer.text.startswith(store.get(chat).messages[-1].content[:20])
        gate.release()
        await finished(pilot)
        reply = store.get(chat).messages[-1]
        assert turn.answer.text == reply.content and turn.fold.text == reply.reasoning


async def test_page_up_and_down_in_the_prompt_scroll_the_chat_unless_the_prompt_itself_scrolls(qwq_home):
    store = Store()
    cid = store.create_conversation()
    for i in range(4):
        store.add_user_message(cid, f"question {i}")
        store.finish_reply(store.start_reply(cid), "thinking", f"Answer {i}\n\n" + "word " * 300, "stop")
    app = make_app(store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await app.open_conversation(cid)
        view = app.view
        await wait_until(pilot, lambda: view.max_scroll_y > 20)
        settled = -1
        while settled != view.max_scroll_y:  # until the chat's last layout (Textual 6 lays it out in more passes)
            settled = view.max_scroll_y
            await pilot.pause(0.2)
        assert app.focused is app.prompt
        bottom = view.scroll_y
        await pilot.press("pageup")
        await wait_until(pilot, lambda: view.scroll_y < bottom, what="the chat to scroll up")
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: view.scroll_y == bottom, what="back down")
        app.prompt.text = "\n".join(f"line {i}" for i in range(40))  # taller than its box: Page Up is its own
        await pilot.pause()
        app.prompt.move_cursor(app.prompt.document.end)
        await wait_until(pilot, lambda: app.prompt.size.height > 5, what="the prompt box to grow")
        await pilot.pause()
        bottom = view.scroll_y  # (the taller prompt box left the chat less room)
        await pilot.press("pageup")
        await pilot.pause()
        assert view.scroll_y == bottom and app.prompt.cursor_location[0] < 39


async def test_a_notification_never_covers_the_prompt_box_in_a_small_terminal(qwq_home):
    from textual.widgets._toast import Toast

    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:  # (tests hide them by default)
        await ready(pilot)
        app.notify("the server closed the stream before the end of the reply: try again", severity="error")
        await wait_until(pilot, lambda: bool(app.screen.query(Toast)) and app.screen.query(Toast)[0].region.height)
        toast = app.screen.query(Toast)[0].region
        assert not toast.overlaps(app.prompt.region) and toast.y < app.screen.region.height // 2


async def test_watch_fps_sets_the_frame_rate_of_a_watched_reply(qwq_home, tmp_path):
    from qwqchat.errors import BadInput

    cfg = config.load()
    cfg.watch_fps = 10
    app = make_app(cfg=cfg)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        assert app.view.idle_frame_s == 0.1
    cfg.watch_fps = 0
    with pytest.raises(BadInput, match="watch_fps must be between 1 and 30, not 0"):
        cfg.validate()


async def test_a_server_down_at_launch_is_tried_again_on_send(qwq_home):
    """Started before its server: the first Enter after it is up connects again, the prompt kept in the box."""
    from qwqchat.engines.remote import RemoteEngine
    from tests.sse_server import ScriptedServer, chunk

    with ScriptedServer() as server:
        models, server.models = server.models, []  # "lists no models": as good as down
        app = make_app(RemoteEngine(server.url))
        async with app.run_test(size=(140, 40)) as pilot:
            await ready(pilot)
            assert app.engine_error and "lists no models" in app.engine_error
            server.models = models  # up now
            server.script = [chunk(reasoning_content="hm "), chunk("Yes."), chunk(finish="stop")]
            app.prompt.text = "are you there?"
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.engine_ready, what="the second connection")
            assert app.engine_error is None and app.prompt.text == "are you there?"
            await send(pilot, "are you there?")
            await finished(pilot)
            assert app.view.last_turn().answer.text == "Yes."


async def test_the_thinking_clock_moves_while_nothing_arrives(qwq_home):
    """A long prompt being read, or a slow server: "Thinking… 0 s" must not stand still as if the app hung."""
    now = [1000.0]
    gate = Gate(0, 3)
    app = make_app(pace=gate, clock=lambda: now[0])
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q")
        await gate.wait_reached()  # nothing has come yet
        turn = app.view.last_turn()
        now[0] += 7
        await wait_until(pilot, lambda: turn.fold.title.startswith("Thinking… 7 s"), what="the clock at 7 s")
        gate.release()
        await gate.wait_reached()  # two pieces shown, then nothing again
        now[0] += 5
        await wait_until(pilot, lambda: turn.fold.title.startswith("Thinking… 12 s"), what="the clock at 12 s")
        gate.release()
        await finished(pilot)
        assert not turn.fold.title.startswith("Thinking")  # the end's summary is not overwritten


async def test_opening_a_chat_asks_the_engine_to_warm_it_but_not_while_a_turn_runs(qwq_home):
    """The engine reads the chat's KV state while the user reads and types (``Engine.warm``)."""
    from qwqchat.chat import history

    class Warmable(ReplayEngine):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.warmed: list = []

            self.loading = threading.Event()

        def load(self) -> None:
            self.loading.wait(30)
            super().load()

        def warm(self, messages, chat_id) -> None:
            self.warmed.append((chat_id, [m.content for m in messages]))

    store = Store()
    old = store.create_conversation()
    store.add_user_message(old, "an old question")
    store.finish_reply(store.start_reply(old), "thought", "an old answer", "stop")
    gate = Gate(5)
    engine = Warmable(CHUNKS, name="qwq", pace=gate)
    app = make_app(engine)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await app.open_conversation(old)  # opened while the model loads: warmed once it has loaded
        await pilot.pause(0.1)
        assert not engine.warmed
        engine.loading.set()
        await ready(pilot)
        await wait_until(pilot, lambda: engine.warmed, what="the warm call after the load")
        engine.warmed.clear()
        await app.open_conversation(old)
        await wait_until(pilot, lambda: engine.warmed, what="the warm call")
        assert engine.warmed == [(old, [m.content for m in history(Store().get(old))])]
        assert engine.warmed[0][1] == ["an old question", "an old answer"]  # no thinking: what the next turn sends
        await app.open_conversation(None)  # a new chat: nothing to warm
        await send(pilot, "hello")
        await gate.wait_reached()
        await app.open_conversation(old)  # while a turn runs elsewhere: the engine is busy
        await pilot.pause(0.2)
        assert len(engine.warmed) == 1
        gate.release()
        await finished(pilot)


async def test_typing_at_once_after_opening_a_chat_from_the_list_loses_nothing(qwq_home, monkeypatch):
    """A user who picks a chat with Enter and types straight away: every key, spaces and Enter included,
    reaches the prompt (the list kept the spaces and the first Enter)."""
    from textual import events

    from qwqchat.ui.widgets.conversation import ConversationView

    real_show = ConversationView.show

    async def slow_show(self, *args, **kwargs):  # a long chat takes a while to mount
        await asyncio.sleep(0.3)
        await real_show(self, *args, **kwargs)

    monkeypatch.setattr(ConversationView, "show", slow_show)

    store = Store()
    old = store.create_conversation("old chat")
    store.add_user_message(old, "an old question")
    store.finish_reply(store.start_reply(old), "", "an old answer", "stop")
    app = make_app(store=store)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+f", "down")
        app.post_message(events.Key("enter", "\r"))
        await asyncio.sleep(0.03)  # a fast typist; the chat is still being shown
        for key, char in [("a", "a"), ("space", " "), ("b", "b"), ("enter", "\r")]:
            app.post_message(events.Key(key, char))  # as a terminal delivers them: no wait in between
        await wait_until(pilot, lambda: len(Store().get(old).messages) >= 3, what="the prompt sent")
        assert Store().get(old).messages[2].content == "a b"
        await finished(pilot)


async def test_a_long_reply_ends_with_its_end_in_view(qwq_home):
    """Textual scrolls a fold into view after every fold; the app's own (the answer started, the turn ended)
    took the view up to the top of a long turn and let go of the bottom: the answer's end and its stats
    were out of sight."""
    chunks = ["<think>"] + [f"word{i} " for i in range(1500)] + ["</think>", "Here is the list:\n\n"]
    chunks += [f"- item {i} with `code` and text\n" for i in range(120)] + ["\nDone."]
    app = make_app(ReplayEngine(chunks, name="m", delay=0.0005))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "go")
        await finished(pilot, timeout=60)
        await pilot.pause(0.3)
        view = app.view
        note = view.last_turn().note
        assert view.max_scroll_y > 50 and view.scroll_y == view.max_scroll_y  # still at the bottom
        assert view.content_region.contains_region(note.region)  # "Done." and the stats line are on screen
        app.chat.action_toggle_all_reasoning()  # Ctrl+G: unfolding every turn does not jump either
        await pilot.pause(0.3)
        assert view.scroll_y == view.max_scroll_y


async def test_switching_back_and_forth_between_long_chats_never_loads_earlier_messages_into_a_chat_being_built(
    qwq_home,
):
    """Switching between two chats longer than the window killed the app (NoMatches, exit 1) on the 5th switch in
    a user's run: taking the long chat down scrolled the view up, which asked for earlier messages, and that load
    ran while the next chat was being built, before its "earlier messages" button existed."""
    from qwqchat.ui.widgets.conversation import WINDOW

    store = Store()
    chats = []
    for name in ("a", "b"):
        cid = store.create_conversation()
        for i in range(10):
            store.add_user_message(cid, f"{name} question {i}")
            mid = store.start_reply(cid)
            store.finish_reply(mid, "thinking " * 50, f"{name} answer {i}\n\n" + "para " * 120, "stop")
        chats.append(cid)
    app = make_app(store=store)
    async with app.run_test(size=(150, 45)) as pilot:
        await ready(pilot)
        view = app.view
        show = view._show

        async def scrolled_while_built(conv, empty_text):  # the load that the scroll asked for, run mid-build
            await view.remove_children()
            view._hidden = conv.messages[:-12]
            await view.load_earlier()
            await show(conv, empty_text)

        view._show = scrolled_while_built
        await app.open_conversation(chats[0])
        view._show = show
        for n in range(1, 6):
            await app.open_conversation(chats[n % 2])
            await pilot.pause(0.2)
            await wait_until(pilot, lambda: not view.loading_earlier)
            # and no earlier messages came in unasked: taking the last chat down scrolls the view up
            assert len(view._hidden) == 20 - WINDOW and len(view.children) == WINDOW + 1
        assert app.is_running and app.conversation.id == chats[1]
        shown = len(view.children)
        view.scroll_home(animate=False)  # and a scroll to the top still brings earlier messages in
        await wait_until(pilot, lambda: len(view.children) > shown, what="earlier messages")
