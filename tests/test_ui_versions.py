"""Versions in the app: Ctrl+R and F4 keep what they replace, ‹ 2/3 › pages through it (issue 12, part 2)."""

from uihelpers import Gate, finished, make_app, ready, send, wait_until

from qwqchat.engines.replay import ReplayEngine
from qwqchat.store import Store
from qwqchat.ui.screens.chat_actions import STILL_ANSWERING
from qwqchat.ui.widgets.turn import UserMessage


class Numbered(ReplayEngine):
    """Each request answers "reply N" (N counts the requests), so the versions on screen tell apart."""

    def __init__(self, **kwargs) -> None:
        super().__init__([], name="m", **kwargs)

    def stream(self, messages, sampling, *args, **kwargs):
        self.chunks = ["a thou", "ght</think>", f"reply {len(self.requests) + 1}"]
        return super().stream(messages, sampling, *args, **kwargs)


def label(turn) -> str:
    return str(turn.versions.render()) if turn.versions.display else ""


def users(app) -> list:
    return [w for w in app.view.query(UserMessage) if w.display]


def answers(app) -> list:
    return [t.answer.text for t in app.view.turns() if t.display]


async def shows(pilot, replies: list) -> None:
    await wait_until(pilot, lambda: answers(pilot.app) == replies, what=f"the replies {replies}")


def saved(app) -> list:
    """Every message the store holds for the open chat: (id, content, chosen)."""
    return [(m.id, m.content, m.chosen) for m in Store().get(app.conversation.id).all_messages]


async def test_regenerate_keeps_each_version_and_paging_chooses_what_the_model_sees(qwq_home):
    engine = Numbered()
    app = make_app(engine)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q1")
        await finished(pilot)
        assert label(app.view.last_turn()) == ""  # one version: no pager
        for _ in range(2):
            app.turns_before_send = app.turns_finished
            await pilot.press("ctrl+r")
            await finished(pilot)
        assert answers(app) == ["reply 3"] and label(app.view.last_turn()) == "‹ 3/3 ›"
        assert [m[1] for m in saved(app)] == ["q1", "reply 1", "reply 2", "reply 3"]  # nothing deleted
        assert [m.content for m in engine.requests[2]] == ["q1"]  # no earlier version in what the model sees
        await pilot.press("alt+left")  # the prompt box has focus: the last reply is paged
        await shows(pilot, ["reply 2"])
        await pilot.press("alt+left")  # now the turn paged to has focus
        await shows(pilot, ["reply 1"])
        assert label(app.view.last_turn()) == "‹ 1/3 ›"
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: any("No earlier version" in n for n in app.notified), what="the edge")
        assert answers(app) == ["reply 1"]
        await pilot.click(app.view.last_turn().versions, offset=(6, 0))  # the ›
        await shows(pilot, ["reply 2"])
        assert label(app.view.last_turn()) == "‹ 2/3 ›"
        await pilot.click(app.view.last_turn().versions, offset=(0, 0))  # the ‹
        await shows(pilot, ["reply 1"])
        assert Store().get(app.conversation.id).messages[-1].content == "reply 1"
        assert app.focused is not app.prompt  # paging focused the turn paged; typing still reaches the prompt
        await pilot.press("q", "2")
        assert app.prompt.has_focus and app.prompt.text == "q2"
        app.turns_before_send = app.turns_finished
        await pilot.press("enter")
        await finished(pilot)
        assert [m.content for m in engine.requests[-1]] == ["q1", "reply 1", "q2"]


async def test_f10_adds_a_version_too(qwq_home):
    app = make_app(Numbered())
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "q1")
        await finished(pilot)
        app.turns_before_send = app.turns_finished
        await pilot.press("f10")
        await finished(pilot)
        assert answers(app) == ["reply 2"] and label(app.view.last_turn()) == "‹ 2/2 ›"
        assert [m[1] for m in saved(app)] == ["q1", "reply 1", "reply 2"]


async def test_f4_on_an_earlier_prompt_branches_and_the_old_continuation_stays_reachable(qwq_home):
    engine = Numbered()
    app = make_app(engine)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        for q in ("q1", "q2"):
            await send(pilot, q)
            await finished(pilot)
        users(app)[0].focus()
        await pilot.press("f4")
        assert app.prompt.text == "q1" and users(app) == [] and answers(app) == []  # all hidden, none gone
        await send(pilot, "q1 edited")
        await finished(pilot)
        assert [u.prompt_text for u in users(app)] == ["q1 edited"] and answers(app) == ["reply 3"]
        assert "‹ 2/2 ›" in str(users(app)[0].render())
        assert [m.content for m in engine.requests[-1]] == ["q1 edited"]
        assert len(saved(app)) == 6
        users(app)[0].focus()
        await pilot.press("alt+left")
        await shows(pilot, ["reply 1", "reply 2"])
        assert [u.prompt_text for u in users(app)] == ["q1", "q2"]
        assert "‹ 1/2 ›" in str(users(app)[0].render())
        await pilot.press("alt+right")
        await shows(pilot, ["reply 3"])
        assert [u.prompt_text for u in users(app)] == ["q1 edited"]


async def test_f4_then_escape_or_an_empty_send_changes_nothing(qwq_home):
    app = make_app(Numbered())
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        for q in ("q1", "q2"):
            await send(pilot, q)
            await finished(pilot)
        before = saved(app)
        app.prompt.text = "a draft"
        await pilot.press("f4")
        assert app.prompt.text == "q2"
        await pilot.press("escape")
        assert app.prompt.text == "a draft" and saved(app) == before
        assert [u.prompt_text for u in users(app)] == ["q1", "q2"] and answers(app) == ["reply 1", "reply 2"]
        await pilot.press("f4")
        app.prompt.text = "   "
        await pilot.press("enter")  # an empty send: nothing sent, nothing saved
        assert saved(app) == before and app.stream is None


async def test_paging_waits_while_a_turn_streams(qwq_home):
    gate = Gate(1)
    engine = Numbered(pace=gate)
    app = make_app(engine)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        gate.stops = []  # the first reply runs through
        await send(pilot, "q1")
        await finished(pilot)
        gate.stops = [1]
        app.turns_before_send = app.turns_finished
        await pilot.press("ctrl+r")
        await gate.wait_reached()
        await wait_until(pilot, lambda: len(saved(app)) == 3, what="the new version saved")
        first = saved(app)
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: STILL_ANSWERING in app.notified, what="the refusal")
        assert saved(app) == first
        gate.release()
        await finished(pilot)
        assert label(app.view.last_turn()) == "‹ 2/2 ›"


async def test_a_search_hit_in_another_version_opens_the_chat_on_that_version(qwq_home):
    store = Store()
    cid = store.create_conversation()
    store.add_user_message(cid, "tell me about animals")
    old = store.start_reply(cid)
    store.finish_reply(old, "", "Zebras are striped.", "stop")
    new = store.add_version(old)
    store.finish_reply(new, "", "Cats purr.", "stop")
    app = make_app(Numbered(), store=store)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+f")
        await pilot.press(*"zebras")
        items = app.query("#chat-list ChatItem")
        await wait_until(pilot, lambda: len(items.nodes) == 1 and items.first().message_id == old, what="the hit")
        await pilot.press("enter", "enter")  # to the list, then open the hit
        await shows(pilot, ["Zebras are striped."])
        assert label(app.view.last_turn()) == "‹ 1/2 ›"
