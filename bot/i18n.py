"""Every user-visible string of the bot, in Simplified Chinese and English. Nothing else lives here.

Strings are `str.format` templates; dynamic values are escaped by the caller before formatting when the
result is HTML.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Lang = Literal["zh", "en"]
LANGUAGES: tuple[Lang, ...] = ("zh", "en")

MESSAGES: dict[Lang, dict[str, str]] = {
    "zh": {
        "welcome": (
            "你好！我是 <b>newsbot</b>，为你整理新闻摘要。\n\n"
            "• /latest 看最新新闻\n• /digest 看过去 24 小时的要闻\n"
            "• /subscribe 订阅每日摘要（每天 {time} 送达）\n"
            "• /topics 选择感兴趣的话题\n\n/help 查看全部命令。"
        ),
        "welcome_back": "欢迎回来！你的订阅已恢复。",
        "button_subscribe_all": "订阅每日摘要",
        "button_pick_topics": "选择话题",
        # /help: a header, then one line per command of the command table (bot/commands/table.py)
        "help_header": "<b>命令</b>",
        "help_latest": "/latest [n] — 最新 n 条（默认 5，最多 20）",
        "help_digest": "/digest [话题] — 过去 24 小时的要闻，按话题分组",
        "help_search": "/search 关键词 — 搜索标题、摘要和标签",
        "help_subscribe": "/subscribe [话题…] — 订阅每日摘要（不带话题即全部）",
        "help_unsubscribe": "/unsubscribe [话题…|all] — 取消订阅",
        "help_mute": "/mute 词 — 不再显示含该词的新闻",
        "help_unmute": "/unmute 词 — 取消屏蔽",
        "help_mysubs": "/mysubs — 我的订阅",
        "help_topics": "/topics — 最近 7 天的热门话题",
        "help_settings": "/settings — 摘要时间、时区、条数、语言",
        "help_sources": "/sources — 新闻来源及其状态",
        "help_help": "/help — 本帮助",
        "help_admin_header": "<b>管理员</b>",
        "help_addfeed": "/addfeed URL — 添加订阅源",
        "help_removefeed": "/removefeed ID — 删除订阅源",
        "help_feeds": "/feeds — 订阅源及抓取状态",
        "help_stats": "/stats — 统计",
        # Telegram's command menu (setMyCommands): one description per command listed there
        "menu_latest": "最新新闻",
        "menu_digest": "过去 24 小时要闻",
        "menu_search": "搜索新闻",
        "menu_subscribe": "订阅每日摘要或话题",
        "menu_unsubscribe": "取消订阅",
        "menu_topics": "热门话题",
        "menu_mysubs": "我的订阅",
        "menu_mute": "屏蔽关键词",
        "menu_unmute": "取消屏蔽",
        "menu_settings": "设置",
        "menu_sources": "新闻来源",
        "menu_help": "帮助",
        "latest_header": "<b>最新新闻</b>",
        "no_articles": "暂时还没有新闻。",
        "no_more": "没有更早的新闻了。",
        "button_more": "更多 »",
        "bad_count": "请给出 1 到 {max} 之间的数字，例如 /latest 10",
        "search_usage": "用法：/search 关键词，例如 /search 芯片",
        "search_header": "<b>搜索：</b>{query}",
        "search_none": "没有找到与“{query}”相关的新闻。",
        "digest_header": "<b>要闻摘要</b> · {date}",
        "digest_topic_header": "<b>话题摘要：</b>{topic}",
        "digest_other": "其他",
        "digest_empty": "过去 24 小时没有新的新闻。",
        "digest_topic_empty": "过去 24 小时没有关于“{topic}”的新闻。",
        "digest_topic_older": "<b>{topic}</b>：过去 24 小时没有新的，以下是较早的新闻",
        "button_subscribe_topic": "订阅 #{topic}",
        "subscribed_all": "已订阅每日摘要：每天 {time}（{tz}）送达，每次最多 {size} 条。",
        "subscribed_topics": "已订阅话题：{topics}。每日摘要将只包含这些话题。",
        "unsubscribed_all": "已取消每日摘要。随时可以 /subscribe 重新订阅。",
        "unsubscribed_topics": "已取消话题：{topics}。",
        "unsubscribed_last_topic": "已取消话题：{topics}。你已没有订阅的话题，每日摘要已停止。",
        "not_subscribed_topics": "你没有订阅这些话题：{topics}。",
        "bad_topic": "话题太长或为空（最多 {max} 个字符）：{topic}",
        "too_many_topics": "最多可以订阅 {max} 个话题。",
        "mute_usage": "用法：/mute 词，例如 /mute 足球",
        "unmute_usage": "用法：/unmute 词",
        "muted": "已屏蔽：{word}。含该词的新闻不会再出现。",
        "unmuted": "已取消屏蔽：{word}。",
        "not_muted": "没有屏蔽过：{word}。",
        "mysubs_none": "你还没有订阅。发送 /subscribe 订阅每日摘要，或 /topics 选择话题。",
        "mysubs": (
            "<b>我的订阅</b>\n每日摘要：{digest}\n话题：{topics}\n屏蔽词：{mutes}\n"
            "时间：每天 {time}（{tz}），最多 {size} 条"
        ),
        "mysubs_digest_on": "已开启",
        "mysubs_digest_off": "未开启",
        "all_topics": "全部",
        "none": "无",
        "list_separator": "、",
        "topics_header": "<b>最近 {days} 天的热门话题</b>\n点一个话题查看摘要。",
        "topics_none": "还没有热门话题（至少两条新闻共有的标签）。",
        "topic_week_count": "• {topic}：最近 7 天 {count} 条",
        "topic_near": "；相近的话题：{tags}",
        "topic_nothing_near": "；暂时没有相近的话题，先看看 /topics",
        "unsubscribe_pick": "要取消哪个话题？点下面的按钮；也可以停止整个每日摘要。",
        "unsubscribe_confirm": "要停止每日摘要吗？",
        "unsubscribe_nothing": "你还没有订阅。/subscribe 订阅每日摘要。",
        "button_drop_topic": "✖ {topic}",
        "button_drop_all": "停止每日摘要",
        "settings_header": (
            "<b>设置</b>\n摘要时间：{time}\n时区：{tz}\n每次条数：{size}\n语言：{lang}\n"
            "文章语言：{langs}\n静音推送：{silent}\n链接预览：{previews}\n\n"
            "点下面的按钮修改，或发送 /settings time 07:30、/settings tz Europe/London、"
            "/settings languages zh en。"
        ),
        "settings_paused": "每日摘要已暂停，{date} 恢复。",
        "settings_summaries": "摘要语言：{language}",
        "summaries_original": "原文语言",
        "button_summaries_mine": "摘要用中文",
        "button_summaries_original": "摘要用原文语言",
        "summaries_need_llm": "用你的语言写摘要需要配置大模型（LLM），这个机器人没有配置。",
        "settings_bad_summaries": "不认识的摘要语言：{value}（可选：zh、en、original）",
        "on": "开",
        "off": "关",
        "all_languages": "全部语言",
        "button_langs": "文章语言",
        "button_silent_on": "开启静音推送",
        "button_silent_off": "关闭静音推送",
        "button_previews_on": "开启链接预览",
        "button_previews_off": "关闭链接预览",
        "settings_pick_langs": "选择你想看的文章语言（当前：{langs}），点一下选中或取消：",
        "settings_bad_langs": "不认识的语言：{value}（可选：{codes}，或 all）",
        "settings_bad_pause": "暂停天数应在 0 到 {max} 之间：{value}",
        "group_admins_only": "只有群管理员可以修改本群的订阅和设置。",
        "button_back": "« 上一页",
        "latest_page_header": "<b>最新新闻</b> · 第 {page} 页",
        "search_page_header": "<b>搜索：</b>{query} · 第 {page} 页",
        "digest_page": " · 第 {first}–{last} 条",
        "button_mute_topic": "🔇 {topic}",
        "button_pause": "⏸ 暂停 {days} 天",
        "button_resume": "▶ 恢复",
        "paused": "每日摘要已暂停，{date} 自动恢复。",
        "resumed": "每日摘要已恢复。",
        "button_time": "时间 {time}",
        "button_tz": "时区",
        "button_size": "条数 {size}",
        "button_lang": "English",
        "settings_pick_time": "选择每日摘要的时间：",
        "settings_pick_tz": "选择时区：",
        "settings_pick_size": "每次摘要最多几条：",
        "settings_saved": "已保存。",
        "settings_bad_time": "时间格式不对：{value}（应为 HH:MM，例如 07:30）",
        "settings_bad_tz": "不认识的时区：{value}（例如 Asia/Shanghai、Europe/London）",
        "settings_bad_size": "条数应在 1 到 {max} 之间：{value}",
        "settings_usage": (
            "用法：/settings、/settings time HH:MM、/settings tz 时区、"
            "/settings size N、/settings lang zh|en、/settings languages zh en|all、"
            "/settings silent on|off、/settings previews on|off、/settings pause 天数、"
            "/settings summaries zh|en|original（需要大模型）"
        ),
        "sources_header": "<b>新闻来源</b>（最近 7 天）\n★ 关注：只看关注的来源；🚫 屏蔽：不再显示。",
        "sources_none": "还没有新闻来源。",
        "publisher_line": "{state}{name} — {count} 条",
        "sources_following_only": "你只看带 ★ 的来源。",
        "feeds_health_header": "<b>订阅源状态</b>",
        "button_follow": "★ {name}",
        "button_unfollow": "取消关注 {name}",
        "button_drop": "🚫 屏蔽",
        "button_undrop": "↩ 取消屏蔽",
        "source_line": "{id}. {name} — {health}",
        "health_ok": "正常，最近成功 {when}",
        "health_never": "尚未抓取",
        "health_failing": "连续失败 {streak} 次",
        "admin_only": "抱歉，这个命令只有管理员可以使用。",
        "addfeed_usage": "用法：/addfeed URL",
        "removefeed_usage": "用法：/removefeed ID",
        "feed_added": "已添加订阅源 {id}：{name}（{url}），收录 {imported} 条。",
        "feed_removed": "已删除订阅源 {id}：{url}",
        "feed_error": "出错了：{error}",
        "feeds_header": "<b>订阅源</b>",
        "feed_admin_line": (
            "{id}. {name}\n   {url}\n   最近抓取 {fetched}，状态 {status}，连续失败 {streak}{error}"
        ),
        "stats": (
            "<b>统计</b>\n订阅者：{active} 活跃 / {subscribers} 总计\n"
            "新闻：{articles}（24 小时内 {recent}）\n"
            "投递：{sent} 已发送，{pending} 待发送，{failed} 失败（死信 {dead}）"
        ),
        "stats_llm": "LLM 摘要（24 小时内）：{requests} 次请求，{tokens} tokens",
        "stats_llm_spent": "；今日预算已用完，新闻暂用离线摘要",
        "stats_llm_off": "LLM 摘要：未启用（离线摘要）",
        "unknown_command": "不认识这个命令。发送 /help 查看可用命令。",
        "free_text": "我只懂命令哦。试试 /latest、/digest 或 /search 关键词，/help 查看全部。",
        "button_expired": "这个按钮已失效，请重新发送命令。",
        "error": "出了点问题，请稍后再试。",
    },
    "en": {
        "welcome": (
            "Hello! I am <b>newsbot</b>, I summarize the news for you.\n\n"
            "• /latest the newest items\n• /digest the top stories of the last 24 hours\n"
            "• /subscribe the daily digest (delivered at {time})\n• /topics pick topics you care about\n\n"
            "/help lists every command."
        ),
        "welcome_back": "Welcome back! Your subscription is active again.",
        "button_subscribe_all": "Subscribe to the daily digest",
        "button_pick_topics": "Pick topics",
        # /help: a header, then one line per command of the command table (bot/commands/table.py)
        "help_header": "<b>Commands</b>",
        "help_latest": "/latest [n] — the n newest items (default 5, at most 20)",
        "help_digest": "/digest [topic] — top stories of the last 24 hours, grouped by topic",
        "help_search": "/search words — search titles, summaries and tags",
        "help_subscribe": "/subscribe [topic…] — the daily digest (no topic: everything)",
        "help_unsubscribe": "/unsubscribe [topic…|all] — stop following",
        "help_mute": "/mute word — never show items with this word",
        "help_unmute": "/unmute word — show them again",
        "help_mysubs": "/mysubs — what this chat follows",
        "help_topics": "/topics — popular topics of the last 7 days",
        "help_settings": "/settings — digest time, time zone, items, language",
        "help_sources": "/sources — the news sources and their health",
        "help_help": "/help — this help",
        "help_admin_header": "<b>Admin</b>",
        "help_addfeed": "/addfeed URL — add a feed",
        "help_removefeed": "/removefeed ID — remove a feed",
        "help_feeds": "/feeds — feeds with their fetch status",
        "help_stats": "/stats — statistics",
        # Telegram's command menu (setMyCommands): one description per command listed there
        "menu_latest": "Latest news",
        "menu_digest": "Top stories of the last 24 hours",
        "menu_search": "Search the news",
        "menu_subscribe": "Subscribe to the daily digest or topics",
        "menu_unsubscribe": "Unsubscribe",
        "menu_topics": "Popular topics",
        "menu_mysubs": "What this chat follows",
        "menu_mute": "Mute a word",
        "menu_unmute": "Unmute a word",
        "menu_settings": "Settings",
        "menu_sources": "News sources",
        "menu_help": "Help",
        "latest_header": "<b>Latest news</b>",
        "no_articles": "No news yet.",
        "no_more": "There is nothing older.",
        "button_more": "More »",
        "bad_count": "Give a number from 1 to {max}, e.g. /latest 10",
        "search_usage": "Usage: /search words, e.g. /search chips",
        "search_header": "<b>Search:</b> {query}",
        "search_none": "Nothing found for “{query}”.",
        "digest_header": "<b>Digest</b> · {date}",
        "digest_topic_header": "<b>Topic digest:</b> {topic}",
        "digest_other": "Other",
        "digest_empty": "No new items in the last 24 hours.",
        "digest_topic_empty": "No items about “{topic}” in the last 24 hours.",
        "digest_topic_older": "<b>{topic}</b>: nothing in the last 24 hours; earlier items",
        "button_subscribe_topic": "Subscribe to #{topic}",
        "subscribed_all": "Subscribed to the daily digest: every day at {time} ({tz}), at most {size} items.",
        "subscribed_topics": "Following topics: {topics}. Your daily digest will only contain these topics.",
        "unsubscribed_all": "The daily digest is off. /subscribe any time to get it back.",
        "unsubscribed_topics": "Stopped following: {topics}.",
        "unsubscribed_last_topic": (
            "Stopped following: {topics}. You follow no topic now, so the daily digest is off."
        ),
        "not_subscribed_topics": "You do not follow: {topics}.",
        "bad_topic": "A topic must be 1 to {max} characters: {topic}",
        "too_many_topics": "You can follow at most {max} topics.",
        "mute_usage": "Usage: /mute word, e.g. /mute football",
        "unmute_usage": "Usage: /unmute word",
        "muted": "Muted: {word}. Items with it will not be shown.",
        "unmuted": "Unmuted: {word}.",
        "not_muted": "Not muted: {word}.",
        "mysubs_none": (
            "You follow nothing yet. Send /subscribe for the daily digest, or /topics to pick topics."
        ),
        "mysubs": (
            "<b>Your subscriptions</b>\nDaily digest: {digest}\nTopics: {topics}\nMuted: {mutes}\n"
            "Time: every day at {time} ({tz}), at most {size} items"
        ),
        "mysubs_digest_on": "on",
        "mysubs_digest_off": "off",
        "all_topics": "everything",
        "none": "none",
        "list_separator": ", ",
        "topics_header": "<b>Popular topics of the last {days} days</b>\nTap one for its digest.",
        "topics_none": "No popular topics yet (tags two or more items share).",
        "topic_week_count": "• {topic}: {count} items in the last 7 days",
        "topic_near": "; near topics: {tags}",
        "topic_nothing_near": "; nothing near it yet, see /topics",
        "unsubscribe_pick": "Which topic should go? Tap it below, or stop the daily digest altogether.",
        "unsubscribe_confirm": "Stop the daily digest?",
        "unsubscribe_nothing": "You are not subscribed. /subscribe to get the daily digest.",
        "button_drop_topic": "✖ {topic}",
        "button_drop_all": "Stop the daily digest",
        "settings_header": (
            "<b>Settings</b>\nDigest time: {time}\nTime zone: {tz}\nItems per digest: {size}\n"
            "Language: {lang}\nArticle languages: {langs}\nSilent delivery: {silent}\n"
            "Link previews: {previews}\n\n"
            "Use the buttons, or send /settings time 07:30, /settings tz Europe/London, "
            "/settings languages en de."
        ),
        "settings_paused": "Daily digest paused until {date}.",
        "settings_summaries": "Summaries in: {language}",
        "summaries_original": "the article's language",
        "button_summaries_mine": "Summaries in English",
        "button_summaries_original": "Summaries as written",
        "summaries_need_llm": "Summaries in your language need an LLM, and this bot has none configured.",
        "settings_bad_summaries": "Unknown summary language: {value} (zh, en or original)",
        "on": "on",
        "off": "off",
        "all_languages": "all languages",
        "button_langs": "Article languages",
        "button_silent_on": "Silent delivery on",
        "button_silent_off": "Silent delivery off",
        "button_previews_on": "Link previews on",
        "button_previews_off": "Link previews off",
        "settings_pick_langs": (
            "Pick the languages of the articles you get (now: {langs}); a tap adds or removes one:"
        ),
        "settings_bad_langs": "Unknown language: {value} (choose from {codes}, or all)",
        "settings_bad_pause": "Pause days must be 0 to {max}: {value}",
        "group_admins_only": "Only this group's admins can change its subscription and settings.",
        "button_back": "« Back",
        "latest_page_header": "<b>Latest news</b> · page {page}",
        "search_page_header": "<b>Search:</b> {query} · page {page}",
        "digest_page": " · items {first}–{last}",
        "button_mute_topic": "🔇 {topic}",
        "button_pause": "⏸ Pause {days} days",
        "button_resume": "▶ Resume",
        "paused": "Daily digest paused; it resumes on {date}.",
        "resumed": "Daily digest resumed.",
        "button_time": "Time {time}",
        "button_tz": "Time zone",
        "button_size": "Items {size}",
        "button_lang": "简体中文",
        "settings_pick_time": "Pick the time of your daily digest:",
        "settings_pick_tz": "Pick your time zone:",
        "settings_pick_size": "How many items per digest:",
        "settings_saved": "Saved.",
        "settings_bad_time": "Not a time: {value} (use HH:MM, e.g. 07:30)",
        "settings_bad_tz": "Unknown time zone: {value} (e.g. Asia/Shanghai, Europe/London)",
        "settings_bad_size": "Items per digest must be 1 to {max}: {value}",
        "settings_usage": (
            "Usage: /settings, /settings time HH:MM, /settings tz ZONE, /settings size N, "
            "/settings lang zh|en, /settings languages en de|all, /settings silent on|off, "
            "/settings previews on|off, /settings pause DAYS, "
            "/settings summaries zh|en|original (with an LLM)"
        ),
        "sources_header": (
            "<b>Sources</b> (last 7 days)\n★ follow: only followed sources; 🚫 drop: never shown."
        ),
        "sources_none": "No sources yet.",
        "publisher_line": "{state}{name} — {count} items",
        "sources_following_only": "You only get the sources marked ★.",
        "feeds_health_header": "<b>Feeds</b>",
        "button_follow": "★ {name}",
        "button_unfollow": "Unfollow {name}",
        "button_drop": "🚫 Drop",
        "button_undrop": "↩ Undrop",
        "source_line": "{id}. {name} — {health}",
        "health_ok": "healthy, last success {when}",
        "health_never": "not fetched yet",
        "health_failing": "failing {streak} times in a row",
        "admin_only": "Sorry, only admins can use this command.",
        "addfeed_usage": "Usage: /addfeed URL",
        "removefeed_usage": "Usage: /removefeed ID",
        "feed_added": "Added feed {id}: {name} ({url}), {imported} items stored.",
        "feed_removed": "Removed feed {id}: {url}",
        "feed_error": "Could not do that: {error}",
        "feeds_header": "<b>Feeds</b>",
        "feed_admin_line": (
            "{id}. {name}\n   {url}\n   last fetch {fetched}, status {status}, error streak {streak}{error}"
        ),
        "stats": (
            "<b>Statistics</b>\nSubscribers: {active} active / {subscribers} in all\n"
            "Articles: {articles} ({recent} in the last 24 hours)\n"
            "Deliveries: {sent} sent, {pending} pending, {failed} failed ({dead} dead letters)"
        ),
        "stats_llm": "LLM summaries (last 24 hours): {requests} requests, {tokens} tokens",
        "stats_llm_spent": "; the daily budget is spent, new articles keep their offline summaries",
        "stats_llm_off": "LLM summaries: off (offline summaries)",
        "unknown_command": "I do not know that command. Send /help for the list.",
        "free_text": (
            "I only understand commands. Try /latest, /digest or /search words; /help lists them all."
        ),
        "button_expired": "This button has expired; please send the command again.",
        "error": "Something went wrong; please try again later.",
    },
}


def choose_language(stored: str | None, language_code: str | None) -> Lang:
    """A chat's own choice wins; otherwise English for Telegram clients set to English, else Chinese."""
    if stored == "en":
        return "en"
    if stored == "zh":
        return "zh"
    if language_code and language_code.lower().startswith("en"):
        return "en"
    return "zh"


def listed(lang: Lang, items: Iterable[str]) -> str:
    """`items` as a list in running text: "芯片、融资" in Chinese, "chips, funding" in English."""
    return t(lang, "list_separator").join(items)


def t(lang: Lang, key: str, /, **values: object) -> str:
    template = MESSAGES[lang].get(key) or MESSAGES["zh"][key]
    return template.format(**values) if values else template
