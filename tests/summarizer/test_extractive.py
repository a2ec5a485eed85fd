"""summarize: budget, original order, clause cuts, title fallback, determinism."""

import pytest

from summarizer import EXTRACTIVE_VERSION, Summary, split_sentences, summarize

ARTICLE = (
    "据新华社报道，2021年12月30日晚，中科院等离子体物理研究所的全超导托卡马克核聚变实验装置实现1056秒的长脉冲高参数等离子体运行。"
    "这是目前世界上托卡马克装置高温等离子体运行的最长时间。\n\n"
    "图为EAST装置内景（图/新华社）\n\n"
    "2021年5月，EAST曾实现1.2亿摄氏度101秒等离子体运行。"
    "科研人员称，新纪录进一步证明核聚变能源的可行性。\n\n"
    "地球万物生长所依赖的光和热，源于太阳核聚变反应后释放的能量。"
    "如果利用氘制造一个人造太阳来发电，人类就能够实现能源自由。"
)
TITLE = "1056秒！中国人造太阳运行时间突破千秒"


def test_summary_shape_and_version() -> None:
    summary = summarize(ARTICLE, title=TITLE)
    assert isinstance(summary, Summary)
    assert summary.method == "extractive"
    assert summary.version == EXTRACTIVE_VERSION


@pytest.mark.parametrize("budget", [80, 100, 150, 400])
def test_budget_whole_sentences_in_original_order(budget: int) -> None:
    text = summarize(ARTICLE, title=TITLE, max_chars=budget).text
    assert 0 < len(text) <= budget
    sentences = split_sentences(ARTICLE)
    assert not text.endswith("…")
    # The summary is a subsequence of the article's sentences, in order, at most spaces between.
    rest = text
    for sentence in sentences:
        # a leading where/when/attribution clause ("据新华社报道，2021年12月30日晚，") may be dropped
        forms = [sentence] + [sentence[i + 1 :] for i, ch in enumerate(sentence) if ch in "，,：:"]
        form = next((f for f in forms if f and rest.startswith(f)), None)
        if form is not None:
            rest = rest[len(form) :].lstrip()
    assert rest == ""


def test_lead_sentence_chosen_and_caption_skipped() -> None:
    text = summarize(ARTICLE, title=TITLE, max_chars=150).text
    # without its attribution and time clauses, as a headline would say it
    assert text.startswith("中科院等离子体物理研究所")
    assert "图为" not in text


def test_single_long_sentence_cut_at_clause_with_ellipsis() -> None:
    sentence = "第一分句说明了很多情况，第二分句继续补充更多细节内容，第三分句还在继续讲述这件事情。"
    assert summarize(sentence, max_chars=30).text == "第一分句说明了很多情况，第二分句继续补充更多细节内容…"
    assert summarize(sentence, max_chars=15).text == "第一分句说明了很多情况…"
    assert len(summarize(sentence, max_chars=5).text) <= 5


def test_english_cut_prefers_clause_then_word_boundary() -> None:
    sentence = "The committee approved the budget, which includes new funding for schools and hospitals."
    assert summarize(sentence, max_chars=40).text == "The committee approved the budget…"
    assert summarize(sentence, max_chars=20).text == "The committee…"
    long_word = "Supercalifragilistic words everywhere here"
    assert summarize(long_word, max_chars=30).text == "Supercalifragilistic words…"


# (at 60 the lead fits whole once its attribution and time clauses are dropped)
@pytest.mark.parametrize("budget", [20, 40])
def test_overlong_lead_is_cut_without_its_attribution(budget: int) -> None:
    text = summarize(ARTICLE, title=TITLE, max_chars=budget).text
    assert len(text) <= budget
    assert text.startswith("中科院")
    assert text.endswith("…")


def test_english_sentences_joined_with_spaces() -> None:
    text = (
        "Apple released a new phone today. The phone costs 999 dollars. Critics were unimpressed by it. "
        "Sales begin next Friday in forty countries."
    )
    summary = summarize(text, title="Apple releases new phone", max_chars=70).text
    assert summary == "Apple released a new phone today. The phone costs 999 dollars."


def test_empty_text_falls_back_to_title() -> None:
    assert summarize("", title=TITLE).text == TITLE
    assert summarize(" \n\n\u3000", title=TITLE, max_chars=12).text == "1056秒！中国人造…"
    assert summarize("", title="").text == ""


def test_title_only_flash_item() -> None:
    title = "10年期美债收益率跌至1.6%下方 创一周新低"
    assert summarize(title, title=title).text == title


def test_title_echo_as_first_line_is_skipped() -> None:
    text = f"{TITLE}\n\n中科院实现了1056秒的等离子体运行。这是世界纪录。"
    expected = "中科院实现了1056秒的等离子体运行。这是世界纪录。"
    assert summarize(text, title=TITLE, max_chars=150).text == expected


def test_deterministic() -> None:
    results = {summarize(ARTICLE, title=TITLE, max_chars=b).text for b in [90] * 5}
    assert len(results) == 1


def test_zero_budget() -> None:
    assert summarize(ARTICLE, max_chars=0).text == ""


def test_a_heading_or_caption_line_does_not_fill_the_budget() -> None:
    text = (
        "国家统计局今天发布数据，前三季度国内生产总值同比增长百分之五。\n"
        "消费对经济增长的贡献率超过六成，服务业增加值增长较快。\n"
        "四季度经济恢复态势\n"  # a heading: no sentence ends it
        "专家认为，四季度经济有望延续恢复态势，全年目标可以实现。\n"
        "分析人士指出，投资增速仍需提高。"
    )
    summary = summarize(text, title="前三季度经济增长百分之五", max_chars=150).text
    assert "四季度经济恢复态势" not in summary
    assert summary.endswith("。")


def test_a_text_of_short_lines_is_summarized_from_its_lines() -> None:
    # verse: every line is short and unpunctuated, so none of them is a heading
    text = "青春是什么样？\n花一样蓬勃芬芳\n火一样热烈滚烫\n一代代中国青年\n继续追逐梦想\n奔向远方"
    summary = summarize(text, title="青春", max_chars=150).text
    assert "花一样蓬勃芬芳" in summary
