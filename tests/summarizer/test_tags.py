"""extract_tags: counts, no numbers or boilerplate, 《》 titles whole, dedup, English, determinism; no junk
tags (function words of any language, URL parts, units, generic words), names whole, possessives dropped."""

import re
from datetime import UTC
from pathlib import Path

import feedparser
import pytest

from summarizer import extract_tags
from summarizer.clean import html_to_text

TITLE = "1056秒！中国人造太阳运行时间突破千秒"
ARTICLE = (
    "据新华社报道，2021年12月30日晚，中科院合肥物质科学研究院等离子体物理研究所有“人造太阳”之称的"
    "全超导托卡马克核聚变实验装置（EAST）实现1056秒的长脉冲高参数等离子体运行，这是目前世界上托卡马克装置"
    "高温等离子体运行的最长时间。EAST拥有类似太阳的核聚变反应机制，用来探索核聚变能源应用。\n\n"
    "2021年5月28日，EAST成功实现可重复的1.2亿摄氏度101秒和1.6亿摄氏度20秒等离子体运行，"
    "将1亿摄氏度20秒的原纪录延长了5倍。科研人员称新纪录进一步证明核聚变能源的可行性。\n\n"
    "点击查看大图。观察者网记者表示，相关报道称，核聚变研究目前进展顺利。"
)
BOILERPLATE = {
    "表示", "记者", "观察者网", "报道", "新华社", "日电", "消息", "图片", "来源", "编辑", "点击", "查看",
    "大图", "今日", "目前", "相关", "进行", "方面",
}
NUMERIC = re.compile(r"\d")


def test_normal_article_gets_three_to_six_clean_tags() -> None:
    tags = extract_tags(ARTICLE, title=TITLE)
    assert 3 <= len(tags) <= 6
    assert not any(NUMERIC.search(t) for t in tags)
    assert not BOILERPLATE & set(tags)
    assert "EAST" in tags
    assert "核聚变" in tags


def test_no_tag_is_a_substring_of_a_better_one() -> None:
    tags = extract_tags(ARTICLE, title=TITLE)
    for i, tag in enumerate(tags):
        assert not any(tag.lower() in better.lower() for better in tags[:i])


def test_book_titles_kept_whole() -> None:
    text = "电影《流浪地球》票房突破40亿元，《流浪地球》导演郭帆表示续集正在筹备。科幻电影市场前景广阔。"
    tags = extract_tags(text, title="《流浪地球》票房破40亿")
    assert tags[0] == "流浪地球"
    assert "流浪" not in tags
    assert "地球" not in tags


def test_max_and_min_tags() -> None:
    assert len(extract_tags(ARTICLE, title=TITLE, max_tags=2)) == 2
    assert extract_tags(ARTICLE, max_tags=0) == []
    assert extract_tags("") == []
    assert len(extract_tags("北京下雪。")) <= 3


def test_english_tags() -> None:
    text = (
        "Microsoft released a new Windows update on Tuesday. The update lets users install Linux with one "
        "command. Microsoft said the Linux kernel will be updated automatically, and users of Windows 10 "
        "can get the update through Windows Update."
    )
    tags = extract_tags(text, title="Microsoft simplifies Linux install on Windows")
    assert 3 <= len(tags) <= 6
    assert {"Microsoft", "Windows", "Linux"} <= set(tags)
    assert not {"the", "and", "said", "will", "with"} & {t.lower() for t in tags}
    assert not any(NUMERIC.search(t) for t in tags)


def test_deterministic() -> None:
    assert len({tuple(extract_tags(ARTICLE, title=TITLE)) for _ in range(3)}) == 1


# --- tags a reader would tap (issue #13) ------------------------------------------------------------------

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpus"

# The test's own judge, independent of summarizer/stopwords.py: the issue's junk and its kinds.
JUDGE_WORDS = {
    "com", "www", "http", "https", "html", "net", "org", "cn", "dapenti", "der", "die", "das", "ein", "eine",
    "und", "von", "den", "des", "sich", "auf", "the", "and", "of", "to", "que", "dos", "para",
    "por", "mais", "mas", "pelo", "sobre", "tem", "aos", "durante", "le", "la", "les", "el", "los", "top",
    "new", "more", "read", "工具", "版本", "同比", "环比", "成员", "万元", "亿元", "百分点", "表示", "进行",
    "记者", "问题", "情况", "发展",
}


def judge(tag: str) -> bool:
    """True when `tag` is junk."""
    lower = tag.lower()
    return (
        (lower in JUDGE_WORDS and not (len(tag) > 2 and tag.isupper()))
        or "_" in tag
        or re.search(r"['’][a-z]", tag) is not None
        or re.fullmatch(r"[\d.,%]+", tag) is not None
        or re.fullmatch(r"[A-Za-z]", tag) is not None
    )


def feed_items(name: str) -> list[tuple[str, str]]:
    parsed = feedparser.parse((SHARED / "feeds" / name).read_bytes())
    items = []
    for entry in parsed.entries:
        body = entry.get("summary", "") or ""
        items.append((entry.get("title", ""), html_to_text(body).text))
    return items


@pytest.mark.parametrize(
    "name",
    [
        "rss-parser__heise.atom",  # German
        "rss-parser__encoding.rss",  # Portuguese (Jornal de Notícias)
        "rss-parser__guardian.rss",
        "rssant__dapenti_blog_iframe.xml",  # 喷嚏网, its address in every item
    ],
)
def test_feed_entries_get_no_junk_tags(name: str) -> None:
    items = feed_items(name)
    assert len(items) >= 10
    junk = [(title, tag) for title, text in items for tag in extract_tags(text, title=title) if judge(tag)]
    assert junk == []


def test_corpus_posts_get_no_junk_tags() -> None:
    from bot.services.prepare import prepare_article
    from bot.sources.posts import parse_post

    junk = []
    for path in sorted((SHARED / "articles").glob("*.md")):
        raw = parse_post(path.read_bytes(), origin=str(path), default_tz=UTC)
        junk += [(path.name, t) for t in prepare_article(raw, max_chars=150).tags if judge(t)]
    assert junk == []


def test_the_issues_junk_examples_are_never_tags() -> None:
    zh = (
        "1-5月银行间市场民企债务融资工具净融资超400亿元，同比增长，环比下降。"
        "112个世贸组织成员发布联合声明。微软发布新版本。"
        "详见 http://dapenti.com 或 www.dapenti.com，邮件 news@dapenti.com。"
    )
    tags = extract_tags(zh, title="民企债务融资工具净融资超400亿元 同比增长")
    assert not {"com", "dapenti", "工具", "版本", "同比", "环比", "成员", "万元", "亿元"} & set(tags)
    assert "民企" in tags
    de = "Der Pragmatische Architekt: Ein gutes Szenario. Der Architekt entwirft ein System und die Regeln."
    assert not {"der", "ein", "und", "die"} & {t.lower() for t in extract_tags(de, title="Der Architekt")}
    en = "Top stories. Trump wasn't there. Trump's speech wasn't long, and Trump left early."
    tags = extract_tags(en, title="Top: Trump's speech")
    assert "Trump" in tags
    assert not {"top", "wasn't", "trump's", "wasn_t"} & {t.lower() for t in tags}


def test_possessives_dropped_and_multi_word_names_whole() -> None:
    text = (
        "Donald Trump has promised a new moment in a State of the Union address. Democrats listened as the "
        "president spoke; the Bank of England watched markets. Trump’s speech ran long, and the State of the "
        "Union drew protest."
    )
    tags = extract_tags(text, title="Trump's State of the Union address promised unity")
    assert "State of the Union" in tags
    assert "State" not in tags
    assert "Union" not in tags
    assert any(t in {"Trump", "Donald Trump"} for t in tags)
    assert not any("'" in t or "’" in t for t in tags)


def test_portuguese_words_keep_their_accents() -> None:
    text = "Uma violenta tempestade afeta o Reino Unido, a Irlanda, a França, a Suíça e a Alemanha."
    tags = extract_tags(text, title="Tempestade Eleanor atinge França, Alemanha, Suíça e Reino Unido")
    assert "França" in tags
    assert "Reino Unido" in tags
    assert "Fran" not in tags
    assert not {"a", "e", "o", "uma"} & {t.lower() for t in tags}


def test_latin_names_inside_chinese_text_are_one_tag() -> None:
    text = (
        "微软发布新版 Microsoft Edge 浏览器。Microsoft Edge 支持垂直标签，"
        "用户可在 Microsoft Edge 设置中开启。"
    )
    assert "Microsoft Edge" in extract_tags(text, title="新版 Microsoft Edge 将带来垂直标签")
