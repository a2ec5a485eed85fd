"""Issue #13, through the real PTB application against the fake Bot API server: groups run by their admins,
readers' settings (article languages, silent delivery, link previews, pause), digests worth opening (grouped
only where items share a tag, buttons, the lead as a photo), topics with feedback, and pages with a way back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.commands.buttons import publisher_key
from bot.composition import Services
from bot.sources.types import RawArticle
from db.models import Subscriber
from readmodels import ChatContext
from tests.bot.conftest import NOW, SAMPLE, RunningBot, bot_serving, recent_article, store_samples
from tests.fakes.telegram_server import FakeTelegram
from tests.waiting import wait_until

PRIVATE = 4242
GROUP = -100777
MEMBER, ADMIN, CREATOR = 61, 62, 63


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data") or b.get("url") or "") for row in rows for b in row]


def data_of(message: dict[str, Any], prefix: str) -> list[str]:
    return [data for _, data in buttons(message) if data.startswith(prefix)]


async def subscriber_or_none(running: RunningBot, chat_id: int) -> Subscriber | None:
    async with running.sessions() as session:
        return await session.scalar(select(Subscriber).where(Subscriber.chat_id == chat_id))


async def subscriber(running: RunningBot, chat_id: int) -> Subscriber:
    found = await subscriber_or_none(running, chat_id)
    assert found is not None
    return found


# ---- groups ------------------------------------------------------------------------------------------------


async def test_only_a_groups_admins_change_what_it_gets(running_bot: RunningBot) -> None:
    fake = running_bot.fake
    fake.admins[GROUP] = [CREATOR, ADMIN]
    group = {"chat_type": "supergroup", "chat_title": "读报小组"}

    (refused,) = await running_bot.say(GROUP, "/subscribe 芯片", user_id=MEMBER, **group)
    assert "管理员" in refused["text"]
    (refused,) = await running_bot.say(GROUP, "/settings size 5", user_id=MEMBER, **group)
    assert "管理员" in refused["text"]
    assert not (await subscriber(running_bot, GROUP)).wants_digest
    # a member may still read, and see the settings
    (latest,) = await running_bot.say(GROUP, "/latest 1", user_id=MEMBER, **group)
    assert "华为" in latest["text"]
    (menu,) = await running_bot.say(GROUP, "/settings", user_id=MEMBER, **group)
    # ... but not press them: the refusal is theirs alone, an alert (it was once posted to the group)
    before = len(fake.sent(GROUP))
    for data in ("set:size:5", "zz:1"):  # a changing button, then one that expired (or was forged)
        fake.push_callback(
            GROUP, data, message_id=running_bot.last_message_id(GROUP), user_id=MEMBER, chat_type="supergroup"
        )
    await wait_until(lambda: len(fake.callback_alerts) == 2, "two alerts")
    refused, expired = sorted(fake.callback_alerts, key=lambda alert: "失效" in alert)  # handled side by side
    assert "管理员" in refused
    assert "失效" in expired
    await running_bot.quiet(GROUP, before)
    assert (await subscriber(running_bot, GROUP)).digest_size != 5

    (done,) = await running_bot.say(GROUP, "/subscribe 芯片", user_id=ADMIN, **group)
    assert "已订阅话题" in done["text"]
    (done,) = await running_bot.say(GROUP, "/settings size 5", user_id=CREATOR, **group)
    assert "已保存" in done["text"]
    (done,) = await running_bot.say(GROUP, "/mute 足球", as_chat=True, **group)  # an anonymous admin
    assert "足球" in done["text"]
    group_row = await subscriber(running_bot, GROUP)
    assert group_row.wants_digest
    assert group_row.digest_size == 5

    # each answer to a command is threaded to it (the refused presses were alerts, not messages)
    answers = [c for c in fake.calls_to("sendMessage") if c["chat_id"] == GROUP]
    threaded = [c["reply_parameters"]["message_id"] for c in answers if "reply_parameters" in c]
    assert len(threaded) == len(answers) == 7
    assert len(set(threaded)) == 7
    # Telegram was asked once per member within the cache time
    asked = [(c["chat_id"], int(c["user_id"])) for c in fake.calls_to("getChatMember")]
    assert sorted(set(asked)) == sorted(asked)
    assert (GROUP, MEMBER) in asked
    assert (GROUP, ADMIN) in asked


async def test_a_group_keeps_its_language_whoever_speaks(running_bot: RunningBot) -> None:
    running_bot.fake.admins[GROUP] = [CREATOR]
    group = {"chat_type": "supergroup"}
    (first,) = await running_bot.say(GROUP, "/help", user_id=MEMBER, language_code="zh-hans", **group)
    assert "命令" in first["text"]
    (english_speaker,) = await running_bot.say(GROUP, "/help", user_id=ADMIN, language_code="en", **group)
    assert "命令" in english_speaker["text"]  # not the speaker's language: the group's
    await running_bot.say(GROUP, "/settings lang en", user_id=CREATOR, **group)
    (chinese_speaker,) = await running_bot.say(
        GROUP, "/help", user_id=MEMBER, language_code="zh-hans", **group
    )
    assert "Commands" in chinese_speaker["text"]


# ---- settings: languages, silent, previews, pause --------------------------------------------------------


async def test_a_reader_picks_the_languages_of_the_articles(running_bot: RunningBot) -> None:
    (everything,) = await running_bot.say(PRIVATE, "/latest 10")
    assert "华为" in everything["text"]
    assert "Apple" in everything["text"]
    (saved,) = await running_bot.say(PRIVATE, "/settings languages en")
    assert "English" in saved["text"]
    (english,) = await running_bot.say(PRIVATE, "/latest 10")
    assert "Apple" in english["text"]
    assert "华为" not in english["text"]
    (found,) = await running_bot.say(PRIVATE, "/search 芯片")
    assert "华为" not in found["text"]

    # the menu's language choices toggle one language per press and tick what is chosen
    await running_bot.say(PRIVATE, "/settings")
    menu_id = running_bot.last_message_id(PRIVATE)
    await running_bot.press(PRIVATE, "set:langs:zh", message_id=menu_id)
    choices = running_bot.fake.calls_to("editMessageText")[-1]
    ticked = [
        b["text"] for row in choices["reply_markup"]["inline_keyboard"] for b in row if "✓" in b["text"]
    ]
    assert sorted(ticked) == ["✓ English", "✓ 中文"]
    assert (await subscriber(running_bot, PRIVATE)).article_languages == "en,zh"
    await running_bot.press(PRIVATE, "set:langs:all", message_id=menu_id)
    assert (await subscriber(running_bot, PRIVATE)).article_languages is None

    (bad,) = await running_bot.say(PRIVATE, "/settings languages klingon")
    assert "klingon" in bad["text"]
    assert (await subscriber(running_bot, PRIVATE)).article_languages is None


async def test_silent_delivery_and_link_previews_reach_telegram(running_bot: RunningBot) -> None:
    await running_bot.say(PRIVATE, "/subscribe")
    await running_bot.say(PRIVATE, "/settings silent on")
    await running_bot.say(PRIVATE, "/settings previews on")
    before = len(running_bot.fake.sent(PRIVATE))
    report = await running_bot.digests.run(force=True)
    assert report.enqueued == 1
    sent = await running_bot.wait_sent(PRIVATE, before, 1)
    assert all(message["disable_notification"] is True for message in sent)
    assert sent[0]["link_preview_options"] == {"is_disabled": False}
    # replies to commands stay as they were: with sound, no preview
    (reply,) = await running_bot.say(PRIVATE, "/latest 1")
    assert not reply.get("disable_notification")
    assert reply["link_preview_options"] == {"is_disabled": True}


async def test_pause_and_a_late_setting_send_no_digest(running_bot: RunningBot) -> None:
    await running_bot.say(PRIVATE, "/subscribe")
    # moving the digest time to one that has passed today waits for tomorrow, in any time zone
    await running_bot.say(PRIVATE, "/settings time 00:00")
    assert (await running_bot.digests.run()).enqueued == 0
    await running_bot.say(PRIVATE, "/settings tz Pacific/Kiritimati")
    assert (await running_bot.digests.run()).enqueued == 0

    # the pause button: no digest, even one forced by the operator, until it ends or is resumed
    paused = await running_bot.press(PRIVATE, "pz:7", message_id=running_bot.last_message_id(PRIVATE))
    assert "暂停" in paused[-1]["text"]
    row = await subscriber(running_bot, PRIVATE)
    assert row.paused_until is not None
    assert row.paused_until > NOW + timedelta(days=6)
    assert (await running_bot.digests.run(force=True)).enqueued == 0
    resumed = await running_bot.press(PRIVATE, "pz:0", message_id=running_bot.last_message_id(PRIVATE))
    assert "恢复" in resumed[-1]["text"]
    assert (await running_bot.digests.run(force=True)).enqueued == 1


# ---- digests -----------------------------------------------------------------------------------------------


async def test_a_digest_groups_only_shared_tags_and_carries_its_buttons(running_bot: RunningBot) -> None:
    await running_bot.say(PRIVATE, "/subscribe")
    before = len(running_bot.fake.sent(PRIVATE))
    await running_bot.digests.run(force=True)
    (digest,) = await running_bot.wait_sent(PRIVATE, before, 1)
    text = digest["text"]
    # the two chip stories share a tag: one group, its tag shown once, as the heading
    assert text.count("#芯片") == 1
    assert "<b>#芯片</b>" in text
    # the others share none: one flat list under "其他", no tag line per item
    assert "<b>其他</b>" in text
    assert "#女足" not in text
    assert "#寒潮" not in text
    opens = [(label, data) for label, data in buttons(digest) if data.startswith("https://")]
    assert [label for label, _ in opens] == [str(n) for n in range(1, len(opens) + 1)]
    assert len(opens) == len(SAMPLE)  # every sample story has a link
    assert data_of(digest, "dg:") == []  # all of today's news fits the chat's 10 items: no More
    assert "mt:芯片" in data_of(digest, "mt:")
    # not the catch-all group: muting the word "其他" would hide every item that says it
    assert "mt:其他" not in data_of(digest, "mt:")
    assert data_of(digest, "pz:") == ["pz:7"]

    # "mute this topic" mutes it for the chat's next digests and listings
    muted = await running_bot.press(PRIVATE, "mt:芯片", message_id=running_bot.last_message_id(PRIVATE))
    assert "芯片" in muted[-1]["text"]
    (latest,) = await running_bot.say(PRIVATE, "/latest 10")
    assert "华为发布新款芯片" not in latest["text"]


async def test_a_daily_digest_s_more_pages_through_the_chat_s_own_topics(running_bot: RunningBot) -> None:
    """More under a daily digest once opened the generic digest of everything: a chat following chips got
    football and the weather as "items 2-11"."""
    await running_bot.say(PRIVATE, "/subscribe 芯片")
    await running_bot.say(PRIVATE, "/settings size 1")
    before = len(running_bot.fake.sent(PRIVATE))
    await running_bot.digests.run(force=True)
    (digest,) = await running_bot.wait_sent(PRIVATE, before, 1)
    assert data_of(digest, "dg:") == ["dg:1:#"]
    pressed = await running_bot.press(PRIVATE, "dg:1:#", message_id=running_bot.last_message_id(PRIVATE))
    page = pressed[-1]
    assert "芯片" in page["text"]
    assert "女足" not in page["text"]
    assert "北京今晨" not in page["text"]
    assert data_of(page, "dg:") == ["dg:0:#", "dg:2:#"]  # « Back, More
    pressed = await running_bot.press(PRIVATE, "dg:2:#", message_id=running_bot.last_message_id(PRIVATE))
    assert pressed[-1]["text"] == "没有更早的新闻了。"  # the two chip stories were all


async def test_the_lead_story_goes_as_a_photo_when_it_has_an_image(services: Services) -> None:
    image = "https://img.example.com/lead.jpg"
    lead = RawArticle(
        title="嫦娥六号完成月背采样",
        body="<p>嫦娥六号今天完成月球背面采样，这是人类首次从月背带回样品。多家媒体报道了这一消息。</p>",
        body_format="html",
        origin="test:photo",
        link="https://news.example.com/moon",
        author="新华社",
        published=NOW - timedelta(minutes=30),
        image_url=image,
    )
    await services.ingest.store_articles([lead])
    async with FakeTelegram() as fake, bot_serving(services, fake) as running:
        await running.say(PRIVATE, "/subscribe")
        before = len(fake.sent(PRIVATE))
        await running.digests.run(force=True)
        (photo,) = await running.wait_sent(PRIVATE, before, 1)
        assert photo["method"] == "sendPhoto"
        assert photo["photo"] == image
        assert "嫦娥六号" in photo["caption"]


# ---- topics ------------------------------------------------------------------------------------------------


async def test_subscribing_says_what_each_topic_finds_and_suggests_near_ones(running_bot: RunningBot) -> None:
    (reply,) = await running_bot.say(PRIVATE, "/subscribe 芯片 芯片厂")
    text = reply["text"]
    assert "芯片：最近 7 天 2 条" in text
    assert "芯片厂：最近 7 天 0 条；相近的话题：芯片" in text


async def test_topics_offer_only_shared_tags(running_bot: RunningBot) -> None:
    (topics,) = await running_bot.say(PRIVATE, "/topics")
    offered = data_of(topics, "t:")
    assert "t:芯片" in offered
    # every offered tag is carried by two or more items ("基本 (1)" was offered before)
    assert all(not label.endswith("(1)") for label, _ in buttons(topics))


async def test_a_bare_unsubscribe_asks_and_drops_nothing(running_bot: RunningBot) -> None:
    await running_bot.say(PRIVATE, "/subscribe 芯片 足球")
    (asked,) = await running_bot.say(PRIVATE, "/unsubscribe")
    assert sorted(data_of(asked, "uns:")) == ["uns:", "uns:芯片", "uns:足球"]
    row = await subscriber(running_bot, PRIVATE)
    assert row.wants_digest
    dropped = await running_bot.press(PRIVATE, "uns:足球", message_id=running_bot.last_message_id(PRIVATE))
    assert "足球" in dropped[-1]["text"]
    (mine,) = await running_bot.say(PRIVATE, "/mysubs")
    assert "芯片" in mine["text"]
    assert "足球" not in mine["text"]


# ---- pages -------------------------------------------------------------------------------------------------


async def test_more_pages_have_a_header_and_a_way_back(services: Services) -> None:
    await services.ingest.store_articles(
        recent_article(
            100 + i, title=f"第{i}条测试新闻标题", body=f"这是第{i}条测试新闻的正文内容。", hours_ago=i / 10
        )
        for i in range(12)
    )
    await store_samples(services)
    async with FakeTelegram() as fake, bot_serving(services, fake) as running:
        (first,) = await running.say(PRIVATE, "/latest 5")
        (more,) = data_of(first, "l:")
        second = (await running.press(PRIVATE, more, message_id=running.last_message_id(PRIVATE)))[-1]
        assert "第 2 页" in second["text"]
        assert data_of(second, "l:")[0] == "l:0:5"  # « back to the first page, then More


# ---- sources -----------------------------------------------------------------------------------------------


async def test_readers_follow_and_drop_publishers(services: Services) -> None:
    await store_samples(services)  # publisher 测试新闻
    await services.ingest.store_articles(
        [
            RawArticle(
                title="观察者网：国产大飞机交付",
                body="<p>国产大飞机今天完成第一百架交付，航空公司将于下月投入运营。</p>",
                body_format="markdown",
                origin="post:1",
                author="观察者网",  # a post from the pipeline: no link of its own
                published=NOW - timedelta(minutes=20),
            )
        ]
    )
    async with FakeTelegram() as fake, bot_serving(services, fake) as running:
        (listing,) = await running.say(PRIVATE, "/sources")
        assert "测试新闻 — 6 条" in listing["text"]
        assert "观察者网 — 1 条" in listing["text"]
        choices = data_of(listing, "src:")
        assert len(choices) == 4  # follow and drop for each publisher

        # a post without a link opens its publisher's site
        (latest,) = await running.say(PRIVATE, "/latest 1")
        assert '<a href="https://www.guancha.cn/">' in latest["text"]

        drop_guancha, follow_test = f"src:d:{publisher_key('观察者网')}", f"src:f:{publisher_key('测试新闻')}"
        assert {drop_guancha, follow_test} <= set(choices)
        await running.press(PRIVATE, drop_guancha, message_id=running.last_message_id(PRIVATE))
        shown = running.fake.calls_to("editMessageText")[-1]["text"]  # the list again, in place
        assert "🚫 观察者网" in shown
        (latest,) = await running.say(PRIVATE, "/latest 10")
        assert "国产大飞机" not in latest["text"]
        assert "华为" in latest["text"]
        await running.press(PRIVATE, follow_test, message_id=running.last_message_id(PRIVATE))
        mine = await running.subscriptions.following(_private())
        assert mine.publishers == ["测试新闻"]
        assert mine.dropped == ["观察者网"]
        # pressing drop again undoes it
        await running.press(PRIVATE, drop_guancha, message_id=running.last_message_id(PRIVATE))
        assert (await running.subscriptions.following(_private())).dropped == []


def _private() -> ChatContext:
    return ChatContext(PRIVATE, "private", PRIVATE, "zh-hans")


async def test_a_button_carrying_bidi_overrides_is_not_echoed(running_bot: RunningBot) -> None:
    sent = await running_bot.press(PRIVATE, "uns:\u202e\u202e芯片", message_id=1)
    assert "\u202e" not in sent[-1]["text"]
    assert "芯片" in sent[-1]["text"]


# ---- presses Telegram makes awkward ------------------------------------------------------------------------


async def test_a_press_handled_too_late_to_answer_still_takes_effect(running_bot: RunningBot) -> None:
    """After a restart or a backlog Telegram refuses to answer a press older than ~15 s; the press was
    once lost with it, and the reader told "something went wrong"."""
    await running_bot.say(PRIVATE, "/settings")
    running_bot.fake.expire_callback_queries()
    await running_bot.press(PRIVATE, "set:size:5", message_id=running_bot.last_message_id(PRIVATE))
    assert running_bot.fake.callback_answers == 1
    assert (await subscriber(running_bot, PRIVATE)).digest_size == 5
    edited = running_bot.fake.calls_to("editMessageText")[-1]
    assert "5" in edited["text"]


async def test_a_menu_edit_telegram_refuses_for_flooding_goes_out_through_the_outbox(
    running_bot: RunningBot,
) -> None:
    """A 429 on the edit of the settings menu: the setting is saved, and the menu comes as a new message
    once the outbox's pacing allows, not as "something went wrong"."""
    await running_bot.say(PRIVATE, "/settings")
    before = len(running_bot.fake.sent(PRIVATE))
    running_bot.fake.rate_limit(PRIVATE, retry_after=1, times=1)
    await running_bot.press(PRIVATE, "set:size:5", message_id=running_bot.last_message_id(PRIVATE))
    (menu,) = await running_bot.wait_sent(PRIVATE, before, 1)  # after the outbox waited out the 429
    assert (await subscriber(running_bot, PRIVATE)).digest_size == 5
    assert "5" in menu["text"]
    assert "wrong" not in menu["text"].lower()


async def test_a_group_upgraded_to_a_supergroup_keeps_what_it_follows(running_bot: RunningBot) -> None:
    """Telegram moves a growing group to a new chat id and says so twice; what the group follows moves at
    once, so a command in the supergroup finds it (it once found a blank record, which then replaced it)."""
    old, new = -4200, -1000004200
    group = {"chat_type": "group", "chat_title": "读报小组", "as_chat": True}
    await running_bot.say(old, "/subscribe 芯片", **group)
    await running_bot.say(old, "/settings tz Europe/Berlin", **group)
    running_bot.fake.push_migration(old, new, title="读报小组")
    await wait_until(
        lambda: subscriber_or_none(running_bot, new), "the subscriber moved to the supergroup", 10
    )
    (mine,) = await running_bot.say(new, "/mysubs", chat_type="supergroup", chat_title="读报小组")
    assert "芯片" in mine["text"]
    moved = await subscriber(running_bot, new)
    assert (moved.wants_digest, moved.timezone, moved.active) == (True, "Europe/Berlin", True)
    async with running_bot.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Subscriber)) == 1


async def test_a_chat_that_blocks_or_removes_the_bot_gets_nothing_until_start(
    running_bot: RunningBot,
) -> None:
    """Telegram says at once when a user blocks the bot or a group removes it (my_chat_member); the chat
    once stayed active, and its digest was built, queued and refused. /start makes it active again."""
    group = {"chat_type": "supergroup", "chat_title": "读报小组", "as_chat": True}
    await running_bot.say(PRIVATE, "/subscribe")
    await running_bot.say(GROUP, "/subscribe", **group)
    running_bot.fake.push_membership(PRIVATE, "kicked")
    running_bot.fake.push_membership(GROUP, "left", chat_type="supergroup")
    running_bot.fake.push_membership(-100888, "kicked", chat_type="supergroup")  # never spoke to the bot

    async def both_inactive() -> bool:
        return not any([(await subscriber(running_bot, c)).active for c in (PRIVATE, GROUP)])

    await wait_until(both_inactive, "both chats inactive", 10)
    assert (await subscriber(running_bot, PRIVATE)).inactive_reason == "the user blocked the bot"
    assert (await subscriber(running_bot, GROUP)).inactive_reason == "the bot was removed from the chat"
    assert await subscriber_or_none(running_bot, -100888) is None
    assert (await running_bot.digests.run(force=True)).enqueued == 0

    # unblocked, and the user says /start again (Telegram's "Restart" button)
    running_bot.fake.push_membership(PRIVATE, "member", old_status="kicked")
    await running_bot.say(PRIVATE, "/start")
    assert (await subscriber(running_bot, PRIVATE)).active
    assert (await running_bot.digests.run(force=True)).enqueued == 1
