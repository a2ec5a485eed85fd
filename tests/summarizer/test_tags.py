"""extract_tags: counts, no numbers or boilerplate, 《》 titles whole, dedup, English, determinism."""

import re

from summarizer import extract_tags

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
